/// The 1-D regression of the batch-normalization tutorial (Morvan Zhou, "Batch Normalization
/// 批标准化"): y = x² − 5 + noise, noise ~ N(0, 8²). Needs no files; the tests train on it.
///
/// The tutorial spaces x evenly (`np.linspace(-7, 10, 500)`); bnc draws x uniformly on
/// [−7, 10) instead, which gives the same distribution of inputs without a grid.
public enum ToyRegression {
    /// The interval x is drawn from.
    public static let xRange: ClosedRange<Float> = -7...10
    /// Standard deviation of the noise; the best possible MSE is its square, 64.
    public static let noiseStandardDeviation: Float = 8

    /// `count` points, `x[i]` uniform on [−7, 10) and `y[i] = x[i]² − 5 + 8·g[i]`, g standard
    /// normal. Deterministic: x[i] and then g[i] are drawn for i = 0, 1, ... from
    /// `SeededGenerator(seed:)` (computed in Double, rounded once to Float).
    public static func generate(count: Int = 500, seed: UInt64) -> (x: [Float], y: [Float]) {
        precondition(count >= 0, "count must not be negative")
        var rng = SeededGenerator(seed: seed)
        var xs = [Float]()
        var ys = [Float]()
        xs.reserveCapacity(count)
        ys.reserveCapacity(count)
        let low = Double(xRange.lowerBound)
        let width = Double(xRange.upperBound - xRange.lowerBound)
        for _ in 0..<count {
            let x = Float(low + width * rng.nextUniform())
            let noise = Double(noiseStandardDeviation) * rng.nextGaussian()
            let xd = Double(x)
            xs.append(x)
            ys.append(Float(xd * xd - 5 + noise))
        }
        return (xs, ys)
    }
}
