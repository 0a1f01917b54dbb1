import BNCGraph
import BNCModelFile
import Foundation
import Testing

@Suite struct InspectTests {
    /// Dense → BN → Relu → Gemm → Softmax, 4 inputs, 3 classes.
    static func smallModel() -> Model {
        let bnInputs = ["h", "bn.scale", "bn.bias", "bn.mean", "bn.var"]
        let nodes = [
            Node(name: "dense1", opType: "Gemm", inputs: ["input", "dense1.weight"], outputs: ["h"],
                 attributes: [Attribute("transB", .int(1))]),
            Node(name: "bn", opType: "BatchNormalization", inputs: bnInputs, outputs: ["hn"],
                 attributes: [Attribute("epsilon", .float(0.001)), Attribute("momentum", .float(0.99))]),
            Node(name: "relu", opType: "Relu", inputs: ["hn"], outputs: ["a"]),
            Node(name: "dense2", opType: "Gemm", inputs: ["a", "dense2.weight", "dense2.bias"], outputs: ["logits"],
                 attributes: [Attribute("transB", .int(1))]),
            Node(name: "softmax", opType: "Softmax", inputs: ["logits"], outputs: ["probabilities"]),
        ]
        let inits = [
            Tensor(name: "dense1.weight", dims: [5, 4], floats: (0..<20).map { Float($0) / 10 }),
            Tensor(name: "bn.scale", dims: [5], floats: [1, 1, 1, 1, 1]),
            Tensor(name: "bn.bias", dims: [5], floats: [0, 0, 0, 0, 0]),
            Tensor(name: "bn.mean", dims: [5], floats: [0.5, 0, 0, 0, 0]),
            Tensor(name: "bn.var", dims: [5], floats: [2, 1, 1, 1, 1]),
            Tensor(name: "dense2.weight", dims: [3, 5], floats: (0..<15).map { Float($0) / 7 }),
            Tensor(name: "dense2.bias", dims: [3], floats: [0.1, 0.2, 0.3]),
        ]
        let graph = Graph(name: "small", nodes: nodes, initializers: inits,
                          inputs: [ValueInfo(name: "input", shape: [.param("N"), .value(4)])],
                          outputs: [ValueInfo(name: "probabilities", shape: [.param("N"), .value(3)])])
        return Model(graph: graph, metadata: [MetadataEntry(key: "bnc.bn.variance_estimator", value: "biased")])
    }

    @Test func tableListsNodesParametersAndMetadata() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("small.pb").path
        try ModelFile.save(Self.smallModel(), to: path)
        let r = try CLIRunner.run(["inspect", path])
        #expect(r.status == 0)
        #expect(r.stdout.contains("inputs:  input [N×4]"))
        #expect(r.stdout.contains("BatchNormalization"))
        #expect(r.stdout.contains("epsilon=0.001"))
        #expect(r.stdout.contains("dense1.weight(5×4)"))
        #expect(r.stdout.contains("5 nodes, 58 parameters"))
        #expect(r.stdout.contains("bnc.bn.variance_estimator = biased"))
    }

    @Test func jsonHasTheSameFacts() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("small.pb").path
        try ModelFile.save(Self.smallModel(), to: path)
        let r = try CLIRunner.run(["inspect", path, "--json"])
        #expect(r.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        #expect(object["totalParameters"] as? Int == 58)
        let nodes = object["nodes"] as! [[String: Any]]
        #expect(nodes.map { $0["op"] as! String } == ["Gemm", "BatchNormalization", "Relu", "Gemm", "Softmax"])
        #expect((nodes[1]["attributes"] as! [String: String])["momentum"] == "0.99")
    }

    @Test func badFileExitsTwoWithOneLine() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("bad.pb").path
        var bytes = ModelFile.encode(Self.smallModel())
        bytes.removeLast(bytes.count / 3)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let r = try CLIRunner.run(["inspect", path])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("bnc: \(path): byte "))
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(r.stdout.isEmpty)
    }

    @Test func missingFileExitsTwo() throws {
        let r = try CLIRunner.run(["inspect", "/nonexistent/model.pb"])
        #expect(r.status == 2)
        #expect(r.stderr == "bnc: /nonexistent/model.pb: cannot open: No such file or directory\n")
    }

    @Test func versionAndHelp() throws {
        let v = try CLIRunner.run(["--version"])
        #expect(v.status == 0)
        #expect(v.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
        let h = try CLIRunner.run(["--help"])
        #expect(h.stdout.contains("inspect"))
    }
}

@Suite struct VerifyTests {
    @Test func verifyReportsMatchMismatchAndAbsent() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.pb").path
        try ModelFile.save(InspectTests.smallModel(), to: good)
        let ok = try CLIRunner.run(["verify", good])
        #expect(ok.status == 0)
        #expect(ok.stdout.contains("tensors match sha256"))

        // Flip one bit inside dense2.bias (0.1, 0.2, 0.3 → find 0.2's bytes).
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: good)))
        let pattern = withUnsafeBytes(of: Float(0.2).bitPattern.littleEndian) { Array($0) }
        let at = try #require(bytes.indices.first { i in i + 4 <= bytes.count && Array(bytes[i..<(i + 4)]) == pattern })
        bytes[at] ^= 0x01
        let bad = dir.appendingPathComponent("bad.pb").path
        try Data(bytes).write(to: URL(fileURLWithPath: bad))
        let flipped = try CLIRunner.run(["verify", bad])
        #expect(flipped.status == 1)
        #expect(flipped.stderr.contains("do not match the stored digest"))
        // Loading it anywhere else is refused as bad input.
        let inspect = try CLIRunner.run(["inspect", bad])
        #expect(inspect.status == 2)
        #expect(inspect.stderr.contains("bnc.integrity.sha256"))

        let plain = dir.appendingPathComponent("plain.pb").path
        try Data(ModelFile.encodeUnstamped(InspectTests.smallModel())).write(to: URL(fileURLWithPath: plain))
        let absent = try CLIRunner.run(["verify", plain])
        #expect(absent.status == 0)
        #expect(absent.stdout.contains("no bnc integrity digest"))
    }
}

@Suite struct InspectFoldedTests {
    @Test func foldedModelShowsTheAuditTrail() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("small.pb").path
        let folded = dir.appendingPathComponent("small.folded.pb").path
        try ModelFile.save(InspectTests.smallModel(), to: path)
        let fold = try CLIRunner.run(["fold", path, "-o", folded])
        #expect(fold.status == 0)
        let r = try CLIRunner.run(["inspect", folded])
        #expect(r.status == 0)
        #expect(r.stdout.contains("folded batch normalizations"))
        #expect(r.stdout.contains("bn → dense1 (backward), 5 channels, epsilon 0.001, mean 0…0.5, variance 1…2"))
        #expect(!r.stdout.contains("BatchNormalization"))
        let j = try CLIRunner.run(["inspect", folded, "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as! [String: Any]
        let list = object["folded"] as! [[String: Any]]
        #expect(list.count == 1)
        #expect(list[0]["into"] as? String == "dense1")
    }
}
