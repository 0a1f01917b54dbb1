import Testing
@testable import BNCKernels

/// GlobalPooling against the plane mean and maximum in Double. Tolerance 1e-6 mixed error for
/// the mean: `Reduce.sum` of ≤ 4096 values in [−1, 1] in 16 lanes, ≈ 256 additions per
/// lane, then the division: far below 256·2⁻²⁴ ≈ 1.5e-5 of the sum of |x| in practice with
/// random signs; the maximum is exact.
struct GlobalPoolingTests {
    @Test(arguments: [(1, 1), (3, 7), (6, 49), (40, 4096), (2, 17)])
    func meanAndMaximumOfEveryPlane(_ planes: Int, _ spatial: Int) {
        var rng = TestRandom(UInt64(planes * 31 + spatial))
        let x = rng.floats(planes * spatial)
        var mean = [Float](repeating: .nan, count: planes), top = mean
        GlobalPooling.average(planes: planes, spatial: spatial, input: x, output: &mean)
        GlobalPooling.maximum(planes: planes, spatial: spatial, input: x, output: &top)
        let ref = (0..<planes).map { p in x[(p * spatial)..<((p + 1) * spatial)].reduce(0.0) { $0 + Double($1) } / Double(spatial) }
        let refMax = (0..<planes).map { p in x[(p * spatial)..<((p + 1) * spatial)].max()! }
        #expect(maxError(mean, ref) < 1e-6)
        #expect(top == refMax)
    }

    @Test func maximumPropagatesNaN() {
        var y = [Float](repeating: 0, count: 2)
        GlobalPooling.maximum(planes: 2, spatial: 3, input: [1, .nan, 2, -1, -3, -2], output: &y)
        #expect(y[0].isNaN && y[1] == -1)
    }
}
