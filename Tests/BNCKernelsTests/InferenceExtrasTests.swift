import Foundation
import Testing

@testable import BNCKernels

/// The executor's extra forward kernels vs naive Double references.
@Suite struct InferenceExtrasTests {
    @Test(arguments: Activation.allCases)
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
                switch act {
                case .identity: return v
                case .relu: return max(v, 0)
                case .sigmoid: return 1 / (1 + Foundation.exp(-v))
                case .tanh: return Foundation.tanh(v)
                }
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
