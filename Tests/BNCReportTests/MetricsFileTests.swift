import Foundation
import Testing
@testable import BNCReport

/// The metrics file: encode → decode gives the same metrics; broken files give one line
/// naming the file, the place and the problem; `bnc train --json` lines are read as one run.
struct MetricsFileTests {
    func json(_ m: ComparisonMetrics) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(MetricsFile.encode(m))) as? [String: Any])
    }

    func bytes(_ object: [String: Any]) throws -> [UInt8] {
        [UInt8](try JSONSerialization.data(withJSONObject: object))
    }

    @Test func roundTrip() throws {
        let m = SampleMetrics.make(steps: 50, gapAt: 20)
        let encoded = try MetricsFile.encode(m)
        let decoded = try MetricsFile.decode(encoded, path: "m.json")
        #expect(decoded == m)
        #expect(try MetricsFile.encode(decoded) == encoded)
        let text = String(decoding: encoded, as: UTF8.self)
        #expect(text.contains("\"format\" : \"bnc-compare-metrics\""))
        #expect(text.contains("null"))  // the missing losses
    }

    /// (edit of the JSON, place, words of the problem)
    static let broken: [(String, String, String)] = [
        ("version", "version", "is 2; this bnc reads version 1"),
        ("format", "format", "expected 'bnc-compare-metrics'"),
        ("stepLossType", "runs[0].step_loss", "expected an array"),
        ("lossType", "runs[1].step_loss[3]", "expected a number"),
        ("missingRuns", "runs", "is missing"),
        ("noRuns", "runs", "has 0 runs"),
        ("counts", "runs[0].snapshots[1].layers[2].histogram.counts", "add up to"),
        ("layers", "runs[1].snapshots[0].layers", "has 2 entries for 3 activations"),
        ("means", "runs[0].unit_means.layers[1].means[4]", "values for 121 steps"),
        ("epochs", "runs[0].epochs[2].epoch", "epochs must count up from 1"),
        ("accuracy", "runs[1].epochs[0].val_accuracy", "a fraction in [0, 1]"),
    ]

    @Test(arguments: broken)
    func brokenContentNamesThePlace(_ edit: String, _ place: String, _ problem: String) throws {
        var o = try json(SampleMetrics.make(task: .classification))
        var runs = o["runs"] as! [[String: Any]]
        switch edit {
        case "version": o["version"] = 2
        case "format": o["format"] = "something"
        case "stepLossType": runs[0]["step_loss"] = "many"
        case "lossType":
            var l = runs[1]["step_loss"] as! [Any]
            l[3] = "x"
            runs[1]["step_loss"] = l
        case "missingRuns": o["runs"] = nil
        case "noRuns": runs = []
        case "counts", "layers":
            let r = edit == "counts" ? 0 : 1
            var snapshots = runs[r]["snapshots"] as! [[String: Any]]
            var layers = snapshots[edit == "counts" ? 1 : 0]["layers"] as! [[String: Any]]
            if edit == "counts" {
                var h = layers[2]["histogram"] as! [String: Any]
                var c = h["counts"] as! [Int]
                c[7] += 1
                h["counts"] = c
                layers[2]["histogram"] = h
            } else {
                layers.removeLast()
            }
            snapshots[edit == "counts" ? 1 : 0]["layers"] = layers
            runs[r]["snapshots"] = snapshots
        case "means":
            var u = runs[0]["unit_means"] as! [String: Any]
            var layers = u["layers"] as! [[String: Any]]
            var means = layers[1]["means"] as! [[Any]]
            means[4].removeLast()
            layers[1]["means"] = means
            u["layers"] = layers
            runs[0]["unit_means"] = u
        case "epochs":
            var e = runs[0]["epochs"] as! [[String: Any]]
            e[2]["epoch"] = 2
            runs[0]["epochs"] = e
        case "accuracy":
            var e = runs[1]["epochs"] as! [[String: Any]]
            e[0]["val_accuracy"] = 84.5
            runs[1]["epochs"] = e
        default: Issue.record("unknown edit \(edit)")
        }
        if o["runs"] != nil { o["runs"] = runs }
        let error = #expect(throws: ReportError.self) { try MetricsFile.decode(try bytes(o), path: "dir/run.json") }
        #expect(error?.file == "dir/run.json")
        #expect(error?.place == place, "\(String(describing: error))")
        #expect(error?.problem.contains(problem) == true, "\(String(describing: error))")
        #expect(error.map { !$0.description.contains("\n") } == true)
    }

    @Test func notJSONAtAll() throws {
        let good = try MetricsFile.encode(SampleMetrics.make(steps: 20))
        let cases: [([UInt8], String)] = [
            ([], "is empty"),
            (Array(good.prefix(300)), "is not valid JSON"),
            ([0x7B, 0xFF, 0xFE, 0x7D], "is not UTF-8 text"),
            (Array("{\"format\": \"bnc-compare-metrics\", \"version\": 1,, }".utf8), "is not valid JSON"),
        ]
        for (data, problem) in cases {
            let error = #expect(throws: ReportError.self) { try MetricsFile.decode(data, path: "x.json") }
            #expect(error?.problem.hasPrefix(problem) == true, "\(String(describing: error))")
            #expect(error?.description.hasPrefix("x.json: ") == true)
            #expect(error.map { !$0.description.contains("\n") } == true)
        }
        // A syntax error is placed by line and column.
        let error = try #require(throws: ReportError.self) { try MetricsFile.decode(Array(good.prefix(300)), path: "x.json") }
        #expect(error.place.hasPrefix("line "), "\(error)")
        let comma = try #require(throws: ReportError.self) {
            try MetricsFile.decode(Array("{\n  \"version\": 1,, }".utf8), path: "x.json")
        }
        #expect(comma.description == "x.json: line 2, column 16: is not valid JSON: invalid value")
    }

    @Test func missingFileAndDirectory() throws {
        #expect(throws: ReportError(file: "/nonexistent/m.json", place: "", problem: "no such file")) {
            try MetricsFile.read(path: "/nonexistent/m.json")
        }
        let dir = FileManager.default.temporaryDirectory.path
        let error = #expect(throws: ReportError.self) { try MetricsFile.read(path: dir) }
        #expect(error?.problem == "is a directory, not a metrics file")
    }

    @Test func trainJSONLinesBecomeOneRun() throws {
        let lines = """
            {"event":"epoch","epoch":1,"epochs":2,"train_loss":0.9,"val_loss":0.7,"val_accuracy":0.75,"seconds":1.5,"samples_per_second":3000}
            {"event":"epoch","epoch":2,"epochs":2,"train_loss":0.5,"val_loss":null,"val_accuracy":0.8,"seconds":1.4,"samples_per_second":3100}
            {"event":"test","loss":0.55,"accuracy":0.79,"output":"m.pb"}

            """
        let m = try MetricsFile.decode(Array(lines.utf8), path: "train.log")
        #expect(m.settings.task == .classification && m.settings.epochs == 2)
        #expect(m.runs.count == 1)
        let run = m.runs[0]
        #expect(run.epochs == [EpochMetrics(epoch: 1, trainLoss: 0.9, validationLoss: 0.7, validationAccuracy: 0.75, seconds: 1.5),
                               EpochMetrics(epoch: 2, trainLoss: 0.5, validationLoss: nil, validationAccuracy: 0.8, seconds: 1.4)])
        #expect(run.test == TestMetrics(loss: 0.55, accuracy: 0.79))
        #expect(run.model == "m.pb" && run.stepLoss.isEmpty && run.snapshots.isEmpty)

        // --compare --json: the "run" field tells the networks apart.
        let compare = """
            {"event":"epoch","run":"without BN","epoch":1,"epochs":1,"train_loss":900,"val_loss":800}
            {"event":"test","run":"without BN","loss":800,"output":"m.no-bn.pb"}
            {"event":"epoch","run":"with BN","epoch":1,"epochs":1,"train_loss":200,"val_loss":150}
            {"event":"test","run":"with BN","loss":150,"output":"m.pb"}
            {"event":"report","metrics":"m.compare.json"}
            """
        let two = try MetricsFile.decode(Array(compare.utf8), path: "c.log")
        #expect(two.runs.map(\.label) == ["without BN", "with BN"] && two.runs.map(\.batchNorm) == [false, true])
        #expect(two.runs.map { $0.test?.loss } == [800, 150] && two.runs.map(\.model) == ["m.no-bn.pb", "m.pb"])
        #expect(two.settings.task == .regression)

        let regression = try MetricsFile.decode(Array("{\"event\":\"epoch\",\"epoch\":1,\"train_loss\":300,\"val_loss\":200}\n".utf8), path: "r")
        #expect(regression.settings.task == .regression)

        let bad: [(String, String, String)] = [
            ("{\"event\":\"epoch\",\"epoch\":1}\n{\"event\":\"epoch\",\"epoch\":1}\n", "line 2.epoch", "not after the previous epoch"),
            ("{\"event\":\"epoch\",\"epoch\":1}\nnot json\n", "line 2, column 2", "not valid JSON"),  // "n" could start null
            ("{\"event\":\"epoch\",\"epoch\":\"one\"}\n", "line 1: epoch", "expected a whole number"),
            ("{\"event\":\"test\",\"loss\":1}\n", "", "has no \"epoch\" lines"),
            ("{\"event\":\"epoch\",\"run\":\"a\",\"epoch\":1}\n{\"event\":\"epoch\",\"run\":\"b\",\"epoch\":1}\n{\"event\":\"epoch\",\"run\":\"c\",\"epoch\":1}\n",
             "line 3.run", "'c' is a third run"),
        ]
        for (text, place, problem) in bad {
            let error = #expect(throws: ReportError.self) { try MetricsFile.decode(Array(text.utf8), path: "t.log") }
            #expect(error?.place == place, "\(String(describing: error))")
            #expect(error?.problem.contains(problem) == true, "\(String(describing: error))")
        }
    }
}
