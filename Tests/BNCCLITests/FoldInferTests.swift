import BNCData
import BNCGraph
import BNCModelFile
import Foundation
import Testing

@testable import BNCCLI

/// `bnc fold` and `bnc infer` run in process on a small model and IDX files made here;
/// a few runs of the built binary check exit statuses.
@Suite struct FoldInferTests {
    /// 4×4 images → Gemm(16→8) → BN → Relu → Gemm(8→3) → BN → Softmax.
    static func model(seed: UInt64 = 3) -> Model {
        var state = seed
        func random(_ n: Int, _ lo: Float, _ hi: Float) -> [Float] {
            (0..<n).map { _ in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return lo + (hi - lo) * Float(state >> 40) / Float(1 << 24)
            }
        }
        var inits: [Tensor] = [
            Tensor(name: "W1", dims: [8, 16], floats: random(128, -0.5, 0.5)),
            Tensor(name: "W2", dims: [8, 3], floats: random(24, -1, 1)),
        ]
        var nodes = [Node(name: "fc1", opType: "Gemm", inputs: ["x", "W1"], outputs: ["h1"], attributes: [Attribute("transB", .int(1))])]
        for (name, input, output, c) in [("bn1", "h1", "h1n", 8), ("bn2", "h2", "z", 3)] {
            inits += [
                Tensor(name: "\(name).scale", dims: [c], floats: random(c, 0.5, 2)),
                Tensor(name: "\(name).bias", dims: [c], floats: random(c, -1, 1)),
                Tensor(name: "\(name).mean", dims: [c], floats: random(c, -0.5, 0.5)),
                Tensor(name: "\(name).var", dims: [c], floats: random(c, 0.2, 2)),
            ]
            nodes.append(Node(name: name, opType: "BatchNormalization",
                              inputs: [input, "\(name).scale", "\(name).bias", "\(name).mean", "\(name).var"], outputs: [output]))
            if name == "bn1" {
                nodes.append(Node(name: "relu", opType: "Relu", inputs: ["h1n"], outputs: ["a1"]))
                nodes.append(Node(name: "fc2", opType: "MatMul", inputs: ["a1", "W2"], outputs: ["h2"]))
            }
        }
        nodes.append(Node(name: "softmax", opType: "Softmax", inputs: ["z"], outputs: ["y"], attributes: [Attribute("axis", .int(1))]))
        let graph = Graph(name: "tiny", nodes: nodes, initializers: inits,
                          inputs: [ValueInfo(name: "x", shape: [.param("N"), .value(16)])],
                          outputs: [ValueInfo(name: "y", shape: [.param("N"), .value(3)])])
        return Model(graph: graph, metadata: [
            MetadataEntry(key: MetadataKey.inputScaling, value: "x/255"),
            MetadataEntry(key: MetadataKey.task, value: "classification: a,b,c"),
        ])
    }

    /// A temp directory with model.pb, images.idx (N 4×4 byte images) and labels.idx.
    struct Files {
        let dir: URL
        var model: String { dir.appendingPathComponent("model.pb").path }
        var images: String { dir.appendingPathComponent("images.idx").path }
        var labels: String { dir.appendingPathComponent("labels.idx").path }
        var pixels: [UInt8]
        var labelValues: [UInt8]

        init(count: Int = 40) throws {
            dir = try CLIRunner.temporaryDirectory()
            try ModelFile.save(FoldInferTests.model(), to: dir.appendingPathComponent("model.pb").path)
            pixels = (0..<(count * 16)).map { (i: Int) -> UInt8 in
                let v: Int = (i * 37 + (i / 16) * 11) % 256
                return UInt8(v)
            }
            labelValues = (0..<count).map { UInt8($0 % 3) }
            try AtomicFile.write(IDXFile(path: "", dims: [count, 4, 4], elements: .uint8(pixels)).encoded(), to: dir.appendingPathComponent("images.idx").path)
            try AtomicFile.write(IDXFile(path: "", dims: [count], elements: .uint8(labelValues)).encoded(), to: dir.appendingPathComponent("labels.idx").path)
        }

        func remove() { try? FileManager.default.removeItem(at: dir) }
    }

    @Test func defaultOutputNames() {
        #expect(FoldRun.defaultOutput(for: "/a/model.pb") == "/a/model.folded.pb")
        #expect(FoldRun.defaultOutput(for: "x.onnx") == "x.folded.onnx")
        #expect(FoldRun.defaultOutput(for: "dir.v2/model") == "dir.v2/model.folded")
    }

    @Test func foldWritesBesideTheInputAndKeepsTheInput() throws {
        let f = try Files()
        defer { f.remove() }
        let before = try AtomicFile.read(f.model, limit: 1 << 20)
        let run = try FoldRun.perform(modelPath: f.model, outputPath: nil, dataPath: f.images, probeImages: 30, randomProbes: 20)
        #expect(run.report.folded.map(\.bn) == ["bn1", "bn2"])
        #expect(run.proof.passed && run.proof.realProbes == 30 && run.proof.randomProbes == 20)
        #expect(run.written && run.outputPath == f.dir.appendingPathComponent("model.folded.pb").path)
        #expect(try AtomicFile.read(f.model, limit: 1 << 20) == before)
        let folded = try ModelFile.load(path: run.outputPath)
        #expect(!folded.graph.nodes.contains { $0.opType == "BatchNormalization" })
        #expect(folded[metadata: "bnc.fold.bn1"] != nil && folded[metadata: "bnc.fold.bn2"] != nil)
        #expect(run.text().contains("folded  bn2: backward into Gemm 'fc2' (was MatMul)"))
    }

    @Test func foldOverToleranceWritesNothing() throws {
        let f = try Files()
        defer { f.remove() }
        let out = f.dir.appendingPathComponent("out.pb").path
        let run = try FoldRun.perform(modelPath: f.model, outputPath: out, dataPath: nil, probeImages: 0, randomProbes: 10, tolerance: 1e-15)
        #expect(!run.proof.passed && !run.written)
        #expect(!FileManager.default.fileExists(atPath: out))
        // The command itself: exit status 1, nothing written.
        let r = try CLIRunner.run(["fold", f.model, "-o", out, "--tolerance", "1e-15", "--probe-images", "0"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("fold proof failed") && r.stderr.contains("nothing written"))
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func foldJSONContract() throws {
        let f = try Files()
        defer { f.remove() }
        let run = try FoldRun.perform(modelPath: f.model, outputPath: nil, dataPath: f.images, probeImages: 10, randomProbes: 5, write: false)
        let object = try #require(JSONSerialization.jsonObject(with: Data(try run.jsonText().utf8)) as? [String: Any])
        let folded = try #require(object["folded"] as? [[String: Any]])
        #expect(folded.map { $0["bn"] as? String } == ["bn1", "bn2"])
        #expect(folded.map { $0["into"] as? String } == ["fc1", "fc2"])
        #expect(folded.map { $0["direction"] as? String } == ["backward", "backward"])
        #expect((object["skipped"] as? [Any])?.isEmpty == true)
        #expect(object["warnings"] is [Any])
        let proof = try #require(object["proof"] as? [String: Any])
        for key in ["max_abs_diff", "max_rel_diff", "argmax_agreement", "probes"] { #expect(proof[key] != nil, "\(key)") }
        #expect(object["output"] as? String == f.dir.appendingPathComponent("model.folded.pb").path)
    }

    @Test func foldRejectsImagesOfTheWrongSize() throws {
        let f = try Files()
        defer { f.remove() }
        let wrong = f.dir.appendingPathComponent("wrong.idx").path
        try AtomicFile.write(IDXFile(path: "", dims: [2, 3, 3], elements: .uint8([UInt8](repeating: 1, count: 18))).encoded(), to: wrong)
        #expect(throws: DataError.self) {
            try FoldRun.perform(modelPath: f.model, outputPath: nil, dataPath: wrong, write: false)
        }
    }

    @Test func inferLinesMatchTheExecutorAndBatchSizeDoesNotMatter() throws {
        let f = try Files()
        defer { f.remove() }
        var lines1: [String] = [], lines7: [String] = []
        _ = try InferRun.perform(modelPath: f.model, imagesPath: f.images, labelsPath: nil, batchSize: 1) { lines1.append($0) }
        _ = try InferRun.perform(modelPath: f.model, imagesPath: f.images, labelsPath: nil, batchSize: 7) { lines7.append($0) }
        #expect(lines1.count == 41 && lines7.count == 41)  // 40 images + summary
        #expect(Array(lines1.dropLast()) == Array(lines7.dropLast()))
        // Against the model run directly (pixels x/255).
        let exec = try #require(try InferSetup(modelPath: f.model, imagesPath: f.images, maxBatch: 64).executor)
        let y = exec.run(f.pixels.map { Float($0) / 255 })
        for i in 0..<40 {
            let row = Array(y[(3 * i)..<(3 * i + 3)])
            let best = row.firstIndex(of: row.max()!)!
            #expect(lines1[i].hasPrefix("\(i)\t\(best)\t\(["a", "b", "c"][best])\t"))
        }
    }

    @Test func inferWithLabelsCountsCorrectly() throws {
        let f = try Files()
        defer { f.remove() }
        var lines: [String] = []
        let summary = try InferRun.perform(modelPath: f.model, imagesPath: f.images, labelsPath: f.labels, batchSize: 16) { lines.append($0) }
        let exec = try #require(try InferSetup(modelPath: f.model, imagesPath: f.images, maxBatch: 64).executor)
        let y = exec.run(f.pixels.map { Float($0) / 255 })
        var correct = 0
        for i in 0..<40 {
            let row = Array(y[(3 * i)..<(3 * i + 3)])
            if row.firstIndex(of: row.max()!)! == Int(f.labelValues[i]) { correct += 1 }
        }
        #expect(summary.correct == correct && summary.images == 40)
        #expect(summary.confusion?.flatMap { $0 }.reduce(0, +) == 40)
        #expect(lines.joined(separator: "\n").contains("confusion matrix"))
    }

    @Test func inferJSONContract() throws {
        let f = try Files()
        defer { f.remove() }
        var text = ""
        _ = try InferRun.perform(modelPath: f.model, imagesPath: f.images, labelsPath: f.labels, batchSize: 9, topK: 2, json: true) { text += $0 + "\n" }
        let object = try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["images"] as? Int == 40)
        #expect((object["predictions"] as? [Int])?.count == 40)
        let outputs = try #require(object["outputs"] as? [[Double]])
        #expect(outputs.count == 40 && outputs.allSatisfy { $0.count == 3 && abs($0.reduce(0, +) - 1) < 1e-5 })
        #expect((object["top_k"] as? [[Int]])?.allSatisfy { $0.count == 2 } == true)
        #expect(object["accuracy"] is Double && (object["confusion"] as? [[Int]])?.count == 3)
    }

    @Test func inferErrorsAreBadInput() throws {
        let f = try Files()
        defer { f.remove() }
        let short = f.dir.appendingPathComponent("short.idx").path
        try AtomicFile.write(IDXFile(path: "", dims: [5], elements: .uint8([0, 1, 2, 0, 1])).encoded(), to: short)
        #expect(throws: DataError.self) {
            try InferRun.perform(modelPath: f.model, imagesPath: f.images, labelsPath: short) { _ in }
        }
        let r = try CLIRunner.run(["infer", f.model, f.labels])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("bnc: \(f.labels): dims [40]: items are single values"))
    }
}
