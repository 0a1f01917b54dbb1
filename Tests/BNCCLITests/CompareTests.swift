import Foundation
import Testing

/// `bnc train --compare` and `bnc report` as a user runs them: the toy data set (a second
/// per run), and, when Fashion-MNIST is installed, the MLP and CNN presets on a few images.
@Suite struct CompareTests {
    static let fashionMNIST = TrainTests.fashionMNIST

    func data(_ dir: URL, _ name: String) throws -> Data { try Data(contentsOf: dir.appendingPathComponent(name)) }

    func metrics(_ dir: URL, _ name: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data(dir, name)) as? [String: Any])
    }

    @Test(arguments: ["relu", "tanh"])
    func toyComparisonWritesModelsMetricsAndReport(_ activation: String) throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let common = ["train", "--dataset", "toy", "--epochs", "3", "--activation", activation, "--seed", "4"]
        let r = try CLIRunner.run(common + ["--compare", "-o", "t.pb"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("report → t.compare.html"))
        for name in ["t.pb", "t.no-bn.pb", "t.compare.json", "t.compare.html", "t.compare-loss.svg", "t.compare-validation.svg",
                     "t.compare-histograms.svg", "t.compare-units.svg"] {
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path), "\(name) missing")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("t.pb.ckpt").path))

        // Recording changes no training bit: the two models are those of plain runs.
        let plain = try CLIRunner.run(common + ["-o", "plain.pb"], in: dir)
        let noBN = try CLIRunner.run(common + ["--no-bn", "-o", "nobn.pb"], in: dir)
        #expect(plain.status == 0 && noBN.status == 0)
        #expect(try data(dir, "t.pb") == data(dir, "plain.pb"))
        #expect(try data(dir, "t.no-bn.pb") == data(dir, "nobn.pb"))

        let m = try metrics(dir, "t.compare.json")
        #expect(m["format"] as? String == "bnc-compare-metrics")
        let runs = try #require(m["runs"] as? [[String: Any]])
        #expect(runs.map { $0["label"] as? String } == ["without BN", "with BN"])
        // Both nets started from the same dense/conv weights.
        let digests = runs.map { $0["initial_weights_sha256"] as? String }
        #expect(digests[0] != nil && digests[0]?.count == 64 && digests[0] == digests[1])
        for run in runs {
            #expect((run["step_loss"] as? [Any])?.count == 48)  // 3 epochs × 16 batches of 32 of 500
            #expect((run["epochs"] as? [Any])?.count == 3)
            let snapshots = try #require(run["snapshots"] as? [[String: Any]])
            #expect(snapshots.map { $0["step"] as? Int } == [0, 4, 24, 48])
            #expect(snapshots.allSatisfy { ($0["layers"] as? [Any])?.count == 7 })
            let activations = try #require(run["activations"] as? [[String: Any]])
            #expect(activations.map { $0["name"] as? String } == (1...7).map { "\(activation)\($0)" })
        }
        let sources = runs.map { run in (run["activations"] as? [[String: Any]])?.first?["source"] as? String }
        #expect(sources == ["dense1", "bn2"])  // the toy net with BN normalizes its input with bn1

        let html = String(decoding: try data(dir, "t.compare.html"), as: UTF8.self)
        #expect(html.components(separatedBy: "<svg ").count - 1 == 4)
        #expect(html.contains("without BN") && html.contains("with BN"))
        #expect(html.contains(activation == "relu" ? "≤ 0" : "|x|&gt;2"))
        #expect(!html.contains("<script") && !html.contains("src="))

        // Another seed, other weights.
        let other = try CLIRunner.run(["train", "--dataset", "toy", "--epochs", "1", "--seed", "5", "--compare", "-o", "o.pb"], in: dir)
        #expect(other.status == 0)
        let otherDigest = try #require(try metrics(dir, "o.compare.json")["runs"] as? [[String: Any]])[0]["initial_weights_sha256"] as? String
        #expect(otherDigest != digests[0])
    }

    @Test func reportRedrawsTheSameFiguresFromTheMetrics() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLIRunner.run(["train", "--dataset", "toy", "--epochs", "2", "--compare", "-o", "a.pb"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let again = try CLIRunner.run(["report", "a.compare.json", "-o", "b.html"], in: dir)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.hasPrefix("report → b.html"))
        for figure in ["loss", "validation", "histograms", "units"] {
            #expect(try data(dir, "b-\(figure).svg") == data(dir, "a.compare-\(figure).svg"), "\(figure)")
        }
        let html = String(decoding: try data(dir, "b.html"), as: UTF8.self)
        #expect(html.contains("<a href=\"b-loss.svg\">SVG</a>"))
        // Default output: beside the metrics file; another unit layer on request.
        let beside = try CLIRunner.run(["report", "a.compare.json", "--unit-layer", "relu5"], in: dir)
        #expect(beside.status == 0, "\(beside.stderr)")
        #expect(String(decoding: try data(dir, "a.compare-units.svg"), as: UTF8.self).contains("Mean value entering relu5"))
        // Fewer histogram snapshots.
        let two = try CLIRunner.run(["report", "a.compare.json", "--steps", "0,last", "-o", "two.html"], in: dir)
        #expect(two.status == 0, "\(two.stderr)")
        let histograms = String(decoding: try data(dir, "two-histograms.svg"), as: UTF8.self)
        #expect(histograms.components(separatedBy: "class=\"snapshot\"").count - 1 == 2)
        #expect(histograms.contains("data-step=\"0\"") && histograms.contains("data-step=\"32\""))
        let badStep = try CLIRunner.run(["report", "a.compare.json", "--steps", "5"], in: dir)
        #expect(badStep.status == 2)
        #expect(badStep.stderr == "bnc: a.compare.json: --steps: '5' is not a recorded step; recorded: 0, 3, 16, 32\n")
        let unknown = try CLIRunner.run(["report", "a.compare.json", "--unit-layer", "relu9"], in: dir)
        #expect(unknown.status == 2)
        #expect(unknown.stderr == "bnc: a.compare.json: --unit-layer: 'relu9' has no recorded unit means; recorded: relu1, relu2, relu3, relu4, relu5, relu6, relu7\n")
    }

    @Test func reportReadsTrainJSONLines() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLIRunner.run(["train", "--dataset", "toy", "--epochs", "3", "--json", "-o", "j.pb"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        try Data(r.stdout.utf8).write(to: dir.appendingPathComponent("train.jsonl"))
        let report = try CLIRunner.run(["report", "train.jsonl"], in: dir)
        #expect(report.status == 0, "\(report.stderr)")
        #expect(report.stdout.contains("train.html"))
        let html = String(decoding: try data(dir, "train.html"), as: UTF8.self)
        #expect(html.contains("Training report: regression"))
        #expect(html.components(separatedBy: "<svg ").count - 1 == 2)  // loss and validation per epoch
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("train-loss.svg").path))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("train-histograms.svg").path))
    }

    @Test(arguments: [
        ("{\"format\":\"bnc-compare-metrics\",\"version\":1,\"settings\":{\"task\":\"regression\"},\"runs\":[{\"label\":\"x\",\"step_loss\":[1,2],\"epochs\":[],\"activations\":[],\"snapshots\":[]}", "m.json: line 1, column ", "is not valid JSON"),
        ("{\"format\":\"bnc-compare-metrics\",\"version\":1,\"settings\":{\"task\":\"regression\"},\"runs\":[{\"label\":\"x\",\"step_loss\":[1,\"two\"],\"epochs\":[],\"activations\":[],\"snapshots\":[]}]}", "m.json: runs[0].step_loss[1]: ", "expected a number"),
        ("{\"format\":\"bnc-compare-metrics\",\"version\":7,\"settings\":{\"task\":\"regression\"},\"runs\":[]}", "m.json: version: ", "this bnc reads version 1"),
        ("{\"format\":\"bnc-compare-metrics\",\"version\":1,\"settings\":{\"task\":\"fun\"},\"runs\":[]}", "m.json: settings.task: ", "is 'fun'; expected classification or regression"),
        ("", "m.json: ", "is empty"),
    ])
    func badMetricsFileExitsTwoWithOneLine(_ content: String, _ prefix: String, _ problem: String) throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(content.utf8).write(to: dir.appendingPathComponent("m.json"))
        let r = try CLIRunner.run(["report", "m.json"], in: dir)
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("bnc: " + prefix), "\(r.stderr)")
        #expect(r.stderr.contains(problem), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(r.stdout.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("m.html").path))
    }

    @Test func missingMetricsFile() throws {
        let r = try CLIRunner.run(["report", "/nonexistent/run.json"])
        #expect(r.status == 2)
        #expect(r.stderr == "bnc: /nonexistent/run.json: no such file\n")
    }

    @Test(arguments: [
        (["--no-bn"], "--compare trains the network both with and without BN; remove --no-bn."),
        (["--resume"], "--compare writes no checkpoint and cannot resume"),
        (["--arch", "d30-relu-d1"], "--compare needs an architecture with bn layers"),
    ])
    func compareRefusesOptionsThatContradictIt(_ args: [String], _ message: String) throws {
        let r = try CLIRunner.run(["train", "--dataset", "toy", "--compare"] + args)
        #expect(r.status != 0)
        #expect(r.stderr.contains(message), "\(r.stderr)")
    }

    /// A tiny MNIST-format folder (plain IDX files): `train` and `test` 28×28 images with
    /// labels 0–9 in turn, pixels from a fixed pattern.
    static func tinyMNIST(in dir: URL, train: Int, test: Int) throws -> URL {
        let folder = dir.appendingPathComponent("tiny-mnist")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        func header(_ type: UInt8, _ dims: [Int]) -> [UInt8] {
            [0, 0, type, UInt8(dims.count)] + dims.flatMap { d in (0..<4).reversed().map { UInt8((d >> (8 * $0)) & 0xFF) } }
        }
        for (name, n) in [("train", train), ("t10k", test)] {
            var pixels: [UInt8] = []
            for i in 0..<n {
                for p in 0..<784 { pixels.append(UInt8(truncatingIfNeeded: (p * (i % 10 + 3) + i * 7) % 251)) }
            }
            try Data(header(0x08, [n, 28, 28]) + pixels).write(to: folder.appendingPathComponent("\(name)-images-idx3-ubyte"))
            try Data(header(0x08, [n]) + (0..<n).map { UInt8($0 % 10) }).write(to: folder.appendingPathComponent("\(name)-labels-idx1-ubyte"))
        }
        return folder
    }

    /// The MLP and CNN presets: images as the classification task sees them (flat for the
    /// MLP, 1×28×28 for the CNN), one site per activation with its shape.
    @Test(arguments: ["mlp", "cnn"])
    func imagePresets(_ arch: String) throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let folder = try CompareTests.tinyMNIST(in: dir, train: 100, test: 20)
        let r = try CLIRunner.run(["train", "--data", folder.path, "--arch", arch, "--epochs", "1", "--batch-size", "30",
                                   "--compare", "-o", "f.pb"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let m = try metrics(dir, "f.compare.json")
        let settings = try #require(m["settings"] as? [String: Any])
        #expect(settings["task"] as? String == "classification")
        // 10 of the 100 images are held out; dense nets record on all 10, conv nets on at most one batch.
        #expect(settings["probe"] as? String == "10 validation examples")
        let runs = try #require(m["runs"] as? [[String: Any]])
        #expect(runs[0]["initial_weights_sha256"] as? String == runs[1]["initial_weights_sha256"] as? String)
        for run in runs {
            #expect(((run["epochs"] as? [[String: Any]])?.first?["val_accuracy"] as? Double) != nil)
            #expect((run["step_loss"] as? [Any])?.count == 3)
            let shapes = (run["activations"] as? [[String: Any]])?.map { $0["shape"] as? [Int] }
            #expect(shapes == (arch == "cnn" ? [[32, 28, 28], [64, 14, 14], [128]] : [[100], [100]]))
        }
        let html = String(decoding: try data(dir, "f.compare.html"), as: UTF8.self)
        #expect(html.contains("validation accuracy (%)"))
        #expect(html.components(separatedBy: "<svg ").count - 1 == 4)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("f.no-bn.pb").path))
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: fashionMNIST)))
    func fashionMNISTMLP() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLIRunner.run(["train", "--limit", "300", "--batch-size", "50", "--epochs", "1", "--compare", "-o", "f.pb"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("on Fashion-MNIST: 270 examples, 30 validation"))
        let runs = try #require(try metrics(dir, "f.compare.json")["runs"] as? [[String: Any]])
        #expect(runs.count == 2)
    }
}
