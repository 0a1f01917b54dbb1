import BNCGraph
import BNCModelFile
import Foundation
import Testing

@testable import BNCCLI

/// `bnc fold` on files other tools wrote, in their own layout: IR 3 (every initializer also
/// a graph input) and external data (a side file). The output keeps the IR version, the
/// opset and the layout; nothing is silently upgraded.
@Suite struct ForeignLayoutFoldTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("BNCModelFileTests/Fixtures/format")

    func fold(_ model: String, to out: String) throws -> FoldRun {
        try FoldRun.perform(modelPath: model, outputPath: out, dataPath: nil, probeImages: 0, randomProbes: 50,
                            defaultImages: "/nonexistent")
    }

    @Test(arguments: [15, 9, 7] as [Int64])
    func ir3FoldsKeepingIRVersionOpsetAndEveryInitializerAmongTheInputs(opset: Int64) throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = Self.fixtures.appendingPathComponent("ir3_opset\(opset).onnx").path
        let out = dir.appendingPathComponent("folded.onnx").path
        let run = try fold(input, to: out)
        #expect(run.report.folded.map(\.bn) == ["bn1"])
        #expect(run.proof.passed && run.written)
        let folded = try ModelFile.load(path: out)
        #expect(folded.irVersion == 3 && folded.defaultOpset == opset)
        #expect(!folded.graph.nodes.contains { $0.opType == "BatchNormalization" })
        #expect(folded.graph.inputs.map(\.name) == ["x"] + folded.graph.initializers.map(\.name))
        #expect(!folded.graph.inputs.contains { $0.name.hasPrefix("bn1.") })
    }

    @Test func externalDataFoldsIntoANewSideFileBesideTheOutput() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = Self.fixtures.appendingPathComponent("external/cnn.onnx").path
        let out = dir.appendingPathComponent("cnn.folded.onnx").path
        let run = try fold(input, to: out)
        #expect(run.report.folded.map(\.bn) == ["bn1"] && run.written)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["cnn.folded.onnx", "cnn.folded.onnx.data"])
        let folded = try ModelFile.load(path: out)
        #expect(folded.irVersion == 8 && folded.defaultOpset == 15)
        // The folded conv weight stays outside (it was); the bias (128 bytes) stays inside.
        #expect(folded.graph.initializers.filter { $0.external != nil }.map(\.name) == ["conv1.W", "fc.W"])
        #expect(folded.graph.initializer(named: "conv1.W")?.external?.location == "cnn.folded.onnx.data")
    }

    /// `--data` takes an ONNX TensorProto `.pb` holding the whole input, batch first: its items
    /// are the real probes; a file of another shape is one line naming both shapes.
    @Test func tensorProtoProbesFromData() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = Self.fixtures.appendingPathComponent("external/cnn.onnx").path
        let probes = dir.appendingPathComponent("probes.pb").path
        try TensorFile.save(Tensor(name: "x", dims: [3, 1, 8, 8], floats: (0..<192).map { Float($0 % 17) / 17 - 0.5 }), to: probes)
        let run = try FoldRun.perform(modelPath: input, outputPath: dir.appendingPathComponent("f.onnx").path, dataPath: probes,
                                      probeImages: 2, randomProbes: 0, defaultImages: "/nonexistent")
        #expect(run.proof.passed && run.proof.realProbes == 2 && run.proof.probes == 2 && run.imagesSource == probes)
        let wrong = dir.appendingPathComponent("wrong.pb").path
        try TensorFile.save(Tensor(name: "x", dims: [3, 1, 8, 7], floats: [Float](repeating: 0, count: 168)), to: wrong)
        do {
            _ = try FoldRun.perform(modelPath: input, outputPath: dir.appendingPathComponent("g.onnx").path, dataPath: wrong,
                                    probeImages: 2, randomProbes: 0, defaultImages: "/nonexistent")
            Issue.record("expected a shape error")
        } catch {
            #expect("\(error)".contains("(3, 1, 8, 7)") || "\(error)".contains("[3, 1, 8, 7]"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("g.onnx").path))
    }
}
