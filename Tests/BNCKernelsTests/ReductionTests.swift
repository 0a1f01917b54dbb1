import Testing
@testable import BNCKernels

/// `Reduction.forward` for every mode over every kind of axis set (none, leading, inner,
/// trailing, split, all; size-1 axes among them) against a naive Double reference that maps
/// each input element to its output by its multi-index.
struct ReductionTests {
    static let cases: [([Int], [Int])] = [
        ([2, 3, 4, 5], []), ([2, 3, 4, 5], [0]), ([2, 3, 4, 5], [1]), ([2, 3, 4, 5], [3]),
        ([2, 3, 4, 5], [1, 2]), ([2, 3, 4, 5], [2, 3]), ([2, 3, 4, 5], [0, 3]), ([2, 3, 4, 5], [1, 3]),
        ([2, 3, 4, 5], [0, 1, 2, 3]), ([1, 3, 1, 4], [0, 2]), ([1, 3, 1, 4], [1]), ([3, 1, 5], [1, 2]),
        ([7], [0]), ([], []), ([4, 33], [1]), ([33, 4], [0]),
    ]

    @Test(arguments: Reduction.Mode.allCases)
    func matchesNaiveReference(_ mode: Reduction.Mode) {
        var rng = TestRandom(31)
        for (shape, axes) in Self.cases {
            let reduced = shape.indices.map { axes.contains($0) }
            let layout = Reduction.Layout(shape: shape, reduced: reduced)
            let count = shape.reduce(1, *)
            // ln Σ x needs positive terms; products stay near 1 so they neither over- nor underflow.
            let x = mode == .logSum || mode == .prod ? rng.floats(count, 0.5, 1.5) : rng.floats(count, -3, 3)
            let outShape = shape.indices.map { reduced[$0] ? 1 : shape[$0] }
            let outCount = outShape.reduce(1, *)
            #expect(layout.outputCount == outCount && layout.inputCount == count, "\(shape) over \(axes)")
            var y = [Float](repeating: .nan, count: outCount)
            var scratch = [Float](repeating: .nan, count: max(1, Reduction.scratchCount(mode, layout)))
            Reduction.forward(mode, x, layout: layout, into: &y, scratch: &scratch)

            // Terms of each output, gathered by multi-index.
            var terms = [[Double]](repeating: [], count: outCount)
            for flat in 0..<count {
                var rem = flat, o = 0, mul = 1
                for d in stride(from: shape.count - 1, through: 0, by: -1) {
                    let i = rem % shape[d]
                    rem /= shape[d]
                    if !reduced[d] { o += i * mul }
                    mul *= outShape[d]
                }
                terms[o].append(Double(x[flat]))
            }
            for (o, t) in terms.enumerated() {
                let (r, bound) = Self.reference(mode, t)
                #expect(abs(Double(y[o]) - r) <= bound, "\(mode) of \(shape) over \(axes) at \(o): \(y[o]), expected \(r) ± \(bound)")
            }
        }
    }

    /// The mode in Double, and the bound of the Float kernel's error. u = 2⁻²³ (one ulp, which
    /// also covers glibc's expf/logf): n terms summed in Float carry at most (n − 1)·u of the
    /// sum of their magnitudes; a product (n − 1)·u of its value; √ halves a relative error;
    /// ln turns the sum's relative error into an absolute one; the final rounding adds u.
    static func reference(_ mode: Reduction.Mode, _ t: [Double]) -> (Double, Double) {
        let u = 1.0 / Double(1 << 23), n = Double(t.count)
        let sum = t.reduce(0, +), mags = t.reduce(0) { $0 + abs($1) }, squares = t.reduce(0) { $0 + $1 * $1 }
        switch mode {
        case .sum: return (sum, n * u * mags)
        case .mean: return (sum / n, (n + 1) * u * mags / n)
        case .max: return (t.max()!, 0)
        case .min: return (t.min()!, 0)
        case .prod:
            let p = t.reduce(1, *)
            return (p, (n + 1) * u * abs(p))
        case .l1: return (mags, (n + 1) * u * mags)
        case .sumSquare: return (squares, (n + 1) * u * squares)
        case .l2: return (squares.squareRoot(), (n + 1) * u * squares.squareRoot())
        case .logSum:
            let r = Foundation_log(sum)
            return (r, (n + 1) * u + u * abs(r))
        case .logSumExp:
            let m = t.max()!
            let r = m + Foundation_log(t.reduce(0) { $0 + Foundation_exp($1 - m) })
            return (r, (n + 3) * u * (1 + abs(r)))
        }
    }

    /// Infinite and NaN terms: the maximum shift of ln Σ eˣ must not turn them into NaN.
    @Test func logSumExpOfInfinities() {
        let layout = Reduction.Layout(shape: [4, 2], reduced: [true, false])
        let x: [Float] = [-.infinity, 1, -.infinity, .infinity, -.infinity, 2, -.infinity, 3]
        var y = [Float](repeating: 0, count: 2), s = y
        Reduction.forward(.logSumExp, x, layout: layout, into: &y, scratch: &s)
        #expect(y[0] == -.infinity)
        #expect(y[1] == .infinity)
        let withNaN: [Float] = [1, .nan, 2, 3]
        var z = [Float](repeating: 0, count: 1), t = z
        Reduction.forward(.logSumExp, withNaN, layout: Reduction.Layout(shape: [4], reduced: [true]), into: &z, scratch: &t)
        #expect(z[0].isNaN)
        Reduction.forward(.max, withNaN, layout: Reduction.Layout(shape: [4], reduced: [true]), into: &z, scratch: &t)
        #expect(z[0].isNaN)
    }

    /// An empty reduced axis gives each mode's value on the empty set (Σ 0, Π 1, max −∞,
    /// min +∞, ln Σ eˣ −∞, the mean 0/0 = NaN), as onnxruntime and the ONNX reference do.
    /// The empty axis in the middle, innermost (a run of length 0: the walk divided by it,
    /// found by tools/check/random-graphs), or the only one.
    @Test(arguments: [([2, 0, 3], [false, true, false], 6), ([2, 3, 0], [false, false, true], 6), ([0], [true], 1)])
    func emptyReducedAxis(_ shape: [Int], _ reduced: [Bool], _ outputs: Int) {
        let layout = Reduction.Layout(shape: shape, reduced: reduced)
        #expect(layout.outputCount == outputs && layout.inputCount == 0)
        let expected: [Reduction.Mode: Float] = [.sum: 0, .prod: 1, .max: -.infinity, .min: .infinity, .l2: 0, .logSumExp: -.infinity]
        for (mode, value) in expected {
            var y = [Float](repeating: .nan, count: outputs), s = y
            Reduction.forward(mode, [], layout: layout, into: &y, scratch: &s)
            #expect(y.allSatisfy { $0 == value }, "\(mode): \(y)")
        }
        var y = [Float](repeating: 0, count: outputs), s = y
        Reduction.forward(.mean, [], layout: layout, into: &y, scratch: &s)
        #expect(y.allSatisfy { $0.isNaN })
    }
}
