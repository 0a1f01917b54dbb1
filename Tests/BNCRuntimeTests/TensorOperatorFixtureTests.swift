import BNCGraph
import BNCModelFile
import Foundation
import Testing

@testable import BNCRuntime

/// The graphs of tools/fixtures/make_tensor_op_fixtures.py — exporters' constant subgraphs on
/// the live input (tf2onnx's and PyTorch's flatten, the dynamo exporter's zero Conv bias) and
/// each data-movement operator at several opsets — against onnxruntime's outputs at batch 1
/// and batch 8.
///
/// Tolerance: 0 for graphs that only move values (a copy is exact). Graphs ending in a
/// product (MatMul, Gemm, Conv over K ≤ 24 terms) differ from onnxruntime by summation order:
/// each of the K roundings is ≤ 2⁻²⁴ relative to the running sum, so ≤ 24·6e-8 ≈ 1.4e-6 of
/// the output scale; 1e-5 of the scale (largest |y|, at least 1) bounds it.
@Suite struct TensorOperatorFixtureTests {
    static let root = Bundle.module.url(forResource: "tensor-ops", withExtension: nil, subdirectory: "Fixtures")

    static var cases: [String] {
        guard let root else { return [] }
        return ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).sorted()
    }

    @Test func everyCaseIsThere() {
        #expect(Self.cases.count == 34, "regenerate with tools/fixtures/make_tensor_op_fixtures.py")
        for prefix in ["tf2onnx_flatten_opset9", "tf2onnx_flatten_opset13", "pytorch_flatten_opset9", "pytorch_flatten_opset11",
                       "pytorch_flatten_opset13", "dynamo_conv_bias_opset18"] {
            #expect(Self.cases.contains(prefix))
        }
    }

    @Test(arguments: cases)
    func matchesOnnxruntime(_ name: String) throws {
        let dir = try #require(Self.root).appendingPathComponent(name)
        let model = try ModelFile.load(path: dir.appendingPathComponent("model.onnx").path)
        let runner = try GraphRunner(model: model)
        let products: Set<String> = ["MatMul", "Gemm", "Conv"]
        let tolerance = model.graph.nodes.contains { products.contains($0.opType) } ? 1e-5 : 0
        for set in ["test_data_set_0", "test_data_set_1"] {
            let x = try TensorFile.load(path: dir.appendingPathComponent("\(set)/input_0.pb").path)
            let want = try TensorFile.load(path: dir.appendingPathComponent("\(set)/output_0.pb").path)
            let got = try runner.run(["x": x])[0]
            #expect(got.dims == want.dims, "\(set) (batch \(x.dims[0])): shape \(got.dims), onnxruntime \(want.dims)")
            let a = got.floats ?? [], b = want.floats ?? []
            guard a.count == b.count else { continue }
            let scale = max(1, b.map { abs(Double($0)) }.max() ?? 1)
            let err = zip(a, b).map { abs(Double($0) - Double($1)) }.max() ?? 0
            #expect(err <= tolerance * scale, "\(set) (batch \(x.dims[0])): max |bnc − onnxruntime| = \(err), scale \(scale)")
        }
    }

    @Test func exporterFlattensRunPerSample() throws {
        // The shape subgraph sees one sample in the batch plan; the Reshape's target differs
        // with the batch, but the Reshape is an alias either way: the plan stays per sample.
        for name in ["tf2onnx_flatten_opset13", "pytorch_flatten_opset13", "dynamo_conv_bias_opset18"] {
            let dir = try #require(Self.root).appendingPathComponent(name)
            let model = try ModelFile.load(path: dir.appendingPathComponent("model.onnx").path)
            let exec = try Executor(graph: model.graph, opset: Int(model.defaultOpset!), maxBatch: 64)
            #expect(exec.batchCapacity == 64, "\(name) runs one unit at a time")
        }
    }
}
