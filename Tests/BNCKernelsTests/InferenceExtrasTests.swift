import Foundation
import Testing

@testable import BNCKernels

/// The executor's extra forward kernels vs naive Double references.
@Suite struct InferenceExtrasTests {
    @Test(arguments: Activation.trainable)
    func rowBiasWithActivation(_ act: Activation) {
        var rng = TestRandom(31)
        let rows = 5, cols = 7
        let y0 = rng.floats(rows * cols, -3, 3), bias = rng.floats(cols)
        for withBias in [true, false] {
            var y = y0
            bias.withUnsafeBufferPointer { b in
                Elementwise.addRowBias(&y, rows: rows, columns: cols, bias: withBias ? b.baseAddress : nil, activation: act)
            }
            let expected: [Double] = (0..<(rows * cols)).map { i in
                let v = Double(y0[i]) + (withBias ? Double(bias[i % cols]) : 0)
                return reference(act, v)
            }
            // Float evaluation of one add and one transcendental: a few ulps.
            #expect(maxError(y, expected) < 1e-6)
        }
    }

    @Test(arguments: [1, 3])
    func softmaxAlongMiddleAxis(inner: Int) {
        var rng = TestRandom(32)
        let outer = 2, length = 4
        let x = rng.floats(outer * length * inner, -4, 4)
        var p = [Float](repeating: 0, count: x.count)
        Softmax.forward(x, outer: outer, length: length, inner: inner, into: &p)
        var expected = [Double](repeating: 0, count: x.count)
        for o in 0..<outer {
            for i in 0..<inner {
                let idx = (0..<length).map { (o * length + $0) * inner + i }
                let total = idx.reduce(0.0) { $0 + Foundation.exp(Double(x[$1])) }
                for j in idx { expected[j] = Foundation.exp(Double(x[j])) / total }
            }
        }
        #expect(maxError(p, expected) < 1e-6)
    }
}

/// The one-row product (sgemv) vs a naive Double reference, both B layouts.
@Suite struct GEMVTests {
    @Test(arguments: [false, true])
    func oneRow(transB: Bool) {
        var rng = TestRandom(33)
        let n = 37, k = 53
        let x = rng.floats(k), b = rng.floats(n * k)
        var y = [Float](repeating: .nan, count: n)
        GEMM.multiplyRow(transB: transB, n: n, k: k, alpha: 0.5, x: x, b: b, y: &y)
        let expected: [Double] = (0..<n).map { j in
            0.5 * (0..<k).reduce(0.0) { $0 + Double(x[$1]) * Double(transB ? b[j * k + $1] : b[$1 * n + j]) }
        }
        // k = 53 Float products and sums: ≤ k·2⁻²⁴ relative to Σ|x b| ≈ 1e-5.
        #expect(maxError(y, expected) < 1e-5)
    }

    /// Above `GEMM.rowSplitThreshold` y is computed in two halves (on both cores when
    /// `parallel`): each half right, and the same bits with and without `parallel`.
    @Test(arguments: [false, true])
    func oneRowInHalves(transB: Bool) {
        var rng = TestRandom(34)
        let n = 101, k = 400
        #expect(n * k >= GEMM.rowSplitThreshold)
        let x = rng.floats(k), b = rng.floats(n * k)
        var y = [Float](repeating: .nan, count: n), serial = y
        GEMM.multiplyRow(transB: transB, n: n, k: k, x: x, b: b, y: &y)
        GEMM.multiplyRow(transB: transB, n: n, k: k, x: x, b: b, y: &serial, parallel: false)
        let expected: [Double] = (0..<n).map { j in
            (0..<k).reduce(0.0) { $0 + Double(x[$1]) * Double(transB ? b[j * k + $1] : b[$1 * n + j]) }
        }
        // k = 400 products and sums of values in [-1, 1]: well within 1e-4.
        #expect(maxError(y, expected) < 1e-4)
        #expect(y == serial)
    }
}

/// The branch-free sigmoid vs Double over a dense sweep and at the edges.
@Suite struct SigmoidAccuracyTests {
    @Test func denseSweepWithinThreeUlps() {
        var worstRel = 0.0, worstAbs = 0.0
        var x: Float = -90
        while x <= 90 {
            let exact = 1 / (1 + Foundation.exp(-Double(x)))
            let got = Double(Activation.sigmoid(x))
            worstAbs = max(worstAbs, abs(got - exact))
            if x > -87 { worstRel = max(worstRel, abs(got - exact) / exact) }
            x += 0.00137
        }
        // ≈ 3 ulp relative where σ is representable as a normal Float; 1e-7 absolute everywhere.
        #expect(worstRel < 2.5e-7, "worst relative error \(worstRel)")
        #expect(worstAbs < 1e-7, "worst absolute error \(worstAbs)")
    }

    @Test func edges() {
        #expect(Activation.sigmoid(0) == 0.5)
        #expect(Activation.sigmoid(.infinity) == 1)
        #expect(Activation.sigmoid(-.infinity) < 1e-37 && Activation.sigmoid(-.infinity) >= 0)
        #expect(Activation.sigmoid(.nan).isNaN)
        #expect(Activation.sigmoid(1e-9) == 0.5 && Activation.sigmoid(-1e-9) == 0.5)
        // Symmetry σ(−x) = 1 − σ(x) to within an ulp of 1.
        for v: Float in [0.1, 1, 3, 7.5, 15] {
            #expect(abs(Activation.sigmoid(-v) + Activation.sigmoid(v) - 1) <= 1.2e-7)
        }
    }
}
