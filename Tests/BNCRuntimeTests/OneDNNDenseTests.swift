import BNCGraph
import BNCKernels
import BNCOps
import BNCTestSupport
import Testing

@testable import BNCRuntime

/// Dense layers through oneDNN's inner product (`DNNLDense`) against the Double reference
/// evaluator and against OpenBLAS (oneDNN off), on the forms the executor lowers: Gemm with
/// transB and bias, MatMul by a constant (k, n) weight, an unfolded BN (scale and shift
/// post-ops), activations as post-ops (sigmoid, ReLU) and one oneDNN lacks (softsign, applied
/// after in Swift); Gemm with alpha ≠ 1 stays OpenBLAS. Batches 1 (one row: OpenBLAS's row
/// product), 5, 37, 70 and 200 (rows split over the two threads; 200 = sub-batches of 64).
///
/// `DNNLDense` exists only where oneDNN runs brgemm (AVX-512); on an AVX2 CPU (or capped with
/// ONEDNN_MAX_CPU_ISA=AVX2) every dense step must stay OpenBLAS and still agree.
/// Tolerance: 1e-5 of the output scale, as `expectMatchesReference` (Float sums of K ≤ 300
/// terms).
@Suite struct OneDNNDenseTests {
    static var brgemm: Bool { DNNL.isAvailable && DNNL.isa.hasPrefix("avx512") }

    func expectAgrees(_ graph: Graph, oneDNNSteps: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try ModelValidator.validate(graph, opset: Int(Model.opsetWritten))
        let on = try Executor(graph: graph, maxBatch: 1024, options: PlanOptions(oneDNN: true))
        let off = try Executor(graph: graph, maxBatch: 1024, options: PlanOptions(oneDNN: false))
        let dense = on.stepKernels.filter { $0.hasPrefix("onednn brgemm") }.count
        #expect(dense == (Self.brgemm ? oneDNNSteps : 0), "\(on.stepSummaries) \(on.stepKernels)", sourceLocation: sourceLocation)
        var rng = SeededRNG(seed: 17)
        for batch in [1, 5, 37, 70, 200] {
            let x = rng.floats(batch * on.inputCount, -2...2)
            let ref = try ReferenceEvaluator.run(graph, input: RefTensor(shape: [batch] + on.inputShape, data: x.map(Double.init)))
            let scale = max(1, ref.data.map(abs).max() ?? 1)
            let yOn = on.run(x), yOff = off.run(x)
            let errOn = zip(yOn, ref.data).map { abs(Double($0) - $1) }.max() ?? .infinity
            let errOff = zip(yOff, ref.data).map { abs(Double($0) - $1) }.max() ?? .infinity
            #expect(yOn.count == ref.count && errOn <= 1e-5 * scale, "batch \(batch): max |oneDNN − reference| = \(errOn)",
                    sourceLocation: sourceLocation)
            #expect(yOff.count == ref.count && errOff <= 1e-5 * scale, "batch \(batch): max |OpenBLAS − reference| = \(errOff)",
                    sourceLocation: sourceLocation)
            #expect(on.run(x).map(\.bitPattern) == yOn.map(\.bitPattern), "batch \(batch): a second run differs",
                    sourceLocation: sourceLocation)
        }
    }

    /// The MLP preset's shape: Gemm → BN → sigmoid, Gemm → BN → ReLU, Gemm (three products).
    @Test func mlpShape() throws {
        var n = Net([96])
        n.weight("W1", [40, 96], -0.3...0.3); n.weight("b1", [40])
        n.op("Gemm", ["x", "W1", "b1"], "h1", [int("transB", 1)])
        n.bn("h1", "n1", channels: 40)
        n.op("Sigmoid", ["n1"], "s1")
        n.weight("W2", [24, 40], -0.3...0.3)
        n.op("Gemm", ["s1", "W2"], "h2", [int("transB", 1)])
        n.bn("h2", "n2", channels: 24)
        n.op("Relu", ["n2"], "r2")
        n.weight("W3", [10, 24]); n.weight("b3", [10])
        n.op("Gemm", ["r2", "W3", "b3"], "y", [int("transB", 1)])
        try expectAgrees(n.graph, oneDNNSteps: 3)
    }

    /// MatMul by a (k, n) constant, then softsign (no oneDNN post-op: applied in Swift); and a
    /// Gemm with alpha 0.5, which stays OpenBLAS.
    @Test func matMulActivationWithoutPostOpAndAlpha() throws {
        var n = Net([50])
        n.weight("W1", [50, 30], -0.3...0.3)
        n.op("MatMul", ["x", "W1"], "h")
        n.op("Softsign", ["h"], "s")
        n.weight("W2", [30, 7]); n.weight("b2", [7])
        n.op("Gemm", ["s", "W2", "b2"], "y", [Attribute("alpha", .float(0.5))])
        try expectAgrees(n.graph, oneDNNSteps: 1)
    }
}
