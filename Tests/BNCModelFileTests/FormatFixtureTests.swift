import BNCGraph
import Foundation
import Testing

@testable import BNCModelFile

/// The onnx.helper fixtures of tools/fixtures/make_format_fixtures.py: typed tensors and
/// graph inputs as onnx writes them, and IR 3 files (every initializer also a graph input)
/// at opsets 7, 9 and 15, whose layout, opset and IR version a re-save keeps.
@Suite struct FormatFixtureTests {
    static func path(_ name: String) throws -> String { try ExternalDataTests.fixture(name).path }

    @Test func typedTensorsAndInputsAsOnnxHelperWritesThem() throws {
        let model = try ModelFile.load(path: Self.path("typed.onnx"))
        let g = model.graph
        #expect(g.initializer(named: "c.i64")?.int64s == [-3, 1 << 33, 7])
        #expect(g.initializer(named: "c.i32")?.int32s == [1, -2, .max, .min])
        #expect(g.initializer(named: "c.b")?.bools == [true, false, true])
        #expect(g.initializer(named: "c.i32.raw")?.int32s == [5, -6])
        #expect(g.initializer(named: "c.b.raw")?.bools == [false, true])
        #expect(g.inputs.map(\.elemType) == [DataType.int64, DataType.int32, DataType.bool, DataType.float])
        #expect(g.outputs.map(\.elemType) == [DataType.int64, DataType.int32, DataType.bool, DataType.float])
        let again = try ModelFile.decode(ModelFile.encode(model))
        #expect(again.graph.initializers.map(\.storage) == g.initializers.map(\.storage))
    }

    @Test(arguments: [7, 9, 15] as [Int64])
    func ir3FilesKeepLayoutOpsetAndIRVersionOnReencode(opset: Int64) throws {
        // Opsets below 13 are refused by today's validator: decode without it.
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.path("ir3_opset\(opset).onnx"))))
        let model = try ModelFile.decodeUnvalidated(bytes)
        #expect(model.irVersion == 3 && model.defaultOpset == opset)
        let names = model.graph.initializers.map(\.name)
        #expect(model.graph.inputs.map(\.name) == ["x"] + names)
        #expect(model.graph.runtimeInputs.map(\.name) == ["x"])
        let again = try ModelFile.decodeUnvalidated(ModelFile.encode(model))
        #expect(again.irVersion == 3 && again.opsetImports == model.opsetImports)
        #expect(again.graph.inputs == model.graph.inputs)
        #expect(again.graph.initializers.map(\.storage) == model.graph.initializers.map(\.storage))
    }

    @Test func ir3SaveListsEveryInitializerAmongTheInputs() throws {
        var model = try ModelFile.load(path: Self.path("ir3_opset15.onnx"))
        let original = model.graph.inputs
        // A pass that adds an initializer (and drops one) on the split graph.
        var g = InitializerInputs.split(model.graph)
        #expect(g.inputs.map(\.name) == ["x"])
        g.initializers.removeAll { $0.name == "fc.b" }
        g.nodes[5].inputs.removeLast()
        g.initializers.append(Tensor(name: "extra", dims: [2, 3], floats: [1, 2, 3, 4, 5, 6]))
        model.graph = g
        let dir = try ExternalDataTests.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("m.onnx").path
        try ModelFile.save(model, to: out)
        let back = try ModelFile.load(path: out)
        #expect(back.irVersion == 3 && back.defaultOpset == 15)
        #expect(back.graph.inputs.map(\.name) == original.map(\.name).filter { $0 != "fc.b" } + ["extra"])
        #expect(back.graph.inputs.last == ValueInfo(name: "extra", elemType: DataType.float, shape: [.value(2), .value(3)]))
        // Entries that were there keep their own form (symbolic batch dim of x included).
        #expect(back.graph.inputs[0] == original[0])
    }

    @Test func restoreIsTheIdentityOnAnUnchangedGraph() throws {
        let model = try ModelFile.load(path: Self.path("ir3_opset15.onnx"))
        let restored = InitializerInputs.restore(InitializerInputs.split(model.graph), originalInputs: model.graph.inputs)
        #expect(restored == model.graph)
    }
}
