import Foundation
import Testing
@testable import BNCKernels

/// LRN against ONNX's formula in Double, for odd and even window sizes (the window is
/// [c − ⌊(size − 1)/2⌋, c + ⌈(size − 1)/2⌉], lopsided when size is even) and windows cut by
/// the first and last channels. Tolerance 1e-5 mixed error: a Float sum of ≤ 5 squares, the
/// affine map and `powf` (a few ulps) add ≤ ~10 roundings of 2⁻²⁴, amplified at most by
/// beta ≤ 1 in the power.
struct LocalResponseNormalizationTests {
    @Test(arguments: [(5, Float(1e-4), Float(0.75), Float(1)), (4, 0.02, 0.5, 2), (1, 1, 1, 0.5), (8, 0.3, 0.9, 1.5)])
    func matchesTheFormula(_ size: Int, _ alpha: Float, _ beta: Float, _ bias: Float) {
        let n = 2, c = 6, s = 10
        var rng = TestRandom(UInt64(size))
        let x = rng.floats(n * c * s, -3, 3)
        var y = [Float](repeating: .nan, count: x.count)
        LocalResponseNormalization.forward(batch: n, channels: c, spatial: s, size: size, alpha: alpha, beta: beta, bias: bias,
                                           input: x, output: &y)
        var ref: [Double] = []
        for i in 0..<n {
            for ch in 0..<c {
                let lo = max(0, ch - Int(floor(Double(size - 1) / 2))), hi = min(c - 1, ch + Int(ceil(Double(size - 1) / 2)))
                for j in 0..<s {
                    var sq = 0.0
                    for k in lo...hi { sq += pow(Double(x[(i * c + k) * s + j]), 2) }
                    let v = Double(x[(i * c + ch) * s + j])
                    ref.append(v / pow(Double(bias) + Double(alpha) / Double(size) * sq, Double(beta)))
                }
            }
        }
        #expect(maxError(y, ref) < 1e-5, "size \(size)")
    }

    @Test func windowBoundsFollowONNX() {
        #expect(LocalResponseNormalization.window(0, size: 5, channels: 8) == 0..<3)
        #expect(LocalResponseNormalization.window(4, size: 5, channels: 8) == 2..<7)
        #expect(LocalResponseNormalization.window(4, size: 4, channels: 8) == 3..<7)  // ⌊3/2⌋ = 1 below, ⌈3/2⌉ = 2 above
        #expect(LocalResponseNormalization.window(7, size: 4, channels: 8) == 6..<8)
    }

    /// Many planes split over the cores: same values as one core.
    @Test func splitGivesTheSameValues() {
        let n = 8, c = 16, s = 1024
        var rng = TestRandom(3)
        let x = rng.floats(n * c * s)
        var a = [Float](repeating: .nan, count: x.count), b = a
        LocalResponseNormalization.forward(batch: n, channels: c, spatial: s, size: 5, alpha: 1e-3, beta: 0.75, bias: 1,
                                           input: x, output: &a)
        LocalResponseNormalization.forward(batch: n, channels: c, spatial: s, size: 5, alpha: 1e-3, beta: 0.75, bias: 1,
                                           input: x, output: &b, parallel: false)
        #expect(a == b)
    }
}
