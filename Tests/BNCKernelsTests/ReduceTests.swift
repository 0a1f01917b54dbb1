import Testing
@testable import BNCKernels

/// The fused ReLU-backward reduction against a Double reference, and against the two-pass
/// form it replaces in BatchNorm.trainingBackward (which it must match bit for bit).
struct ReduceTests {
    @Test(arguments: [0, 1, 7, 16, 17, 37, 196, 784])
    func reluMaskSumAndDotMatchesReference(_ n: Int) {
        var rng = TestRandom(UInt64(11 + n))
        var y = rng.floats(n)
        if n > 3 { y[1] = 0; y[2] = -0.0 }  // the mask is y > 0: exact zeros pass nothing
        let dy = rng.floats(n), h = rng.floats(n, -3, 3)
        var dz = [Float](repeating: .nan, count: n)
        let (sum, dot) = Reduce.reluMaskSumAndDot(y, dy, h, into: &dz, count: n)
        var refDz = [Double](repeating: 0, count: n), refSum = 0.0, refDot = 0.0
        for i in 0..<n {
            refDz[i] = y[i] > 0 ? Double(dy[i]) : 0
            refSum += refDz[i]
            refDot += refDz[i] * Double(h[i])
        }
        #expect(maxError(dz, refDz) == 0)
        #expect(abs(Double(sum) - refSum) <= 1e-5 * Double(max(n, 1)))
        #expect(abs(Double(dot) - refDot) <= 1e-5 * Double(max(n, 1)))
        // Bit-identical to the two-pass form (mask, then sumAndDot).
        let (twoSum, twoDot) = Reduce.sumAndDot(dz, h, count: n)
        #expect(sum == twoSum && dot == twoDot)
    }

    @Test func reluMaskSumAndDotInPlace() {
        var rng = TestRandom(3)
        let n = 45
        let y = rng.floats(n), h = rng.floats(n)
        let dy = rng.floats(n)
        var separate = [Float](repeating: 0, count: n)
        let expected = Reduce.reluMaskSumAndDot(y, dy, h, into: &separate, count: n)
        var inPlace = dy
        let got = inPlace.withUnsafeMutableBufferPointer { p in
            Reduce.reluMaskSumAndDot(y, p.baseAddress!, h, into: p.baseAddress!, count: n)
        }
        #expect(inPlace == separate)
        #expect(got == expected)
    }
}
