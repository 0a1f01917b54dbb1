import BNCData
import Testing
@testable import BNCTraining

/// The weight initializers draw the distributions their documentation names.
struct InitializerTests {
    /// Mean, variance and largest magnitude of `count` draws with fan-in 50, fan-out 30.
    func draws(_ initializer: WeightInitializer, count: Int = 200_000) -> (mean: Double, variance: Double, largest: Double) {
        var rng = SeededGenerator(seed: 3)
        var w = [Float](repeating: .nan, count: count)
        w.withUnsafeMutableBufferPointer { initializer.fill($0.baseAddress!, count: count, fanIn: 50, fanOut: 30, using: &rng) }
        let values = w.map(Double.init)
        let mean = values.reduce(0, +) / Double(count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(count)
        return (mean, variance, values.map(abs).max() ?? .nan)
    }

    /// He normal as Keras draws it: variance 2/fan_in, nothing beyond 2 of the
    /// (pre-truncation) standard deviations 2/fan_in / 0.8796².
    @Test func heIsATruncatedNormalWithVarianceTwoOverFanIn() {
        let d = draws(.he)
        #expect(abs(d.mean) < 0.002)
        #expect(abs(d.variance / (2.0 / 50) - 1) < 0.01, "variance \(d.variance), expected 0.04")
        let bound = 2 * (2.0 / 50).squareRoot() / 0.87962566103423978
        #expect(d.largest <= bound * (1 + 1e-6), "largest |w| \(d.largest) beyond ±2σ = \(bound)")
        #expect(d.largest > 0.99 * bound, "largest |w| \(d.largest): the tails up to ±2σ are missing")
    }

    @Test func glorotIsUniformWithinItsLimit() {
        let d = draws(.glorot)
        let limit = (6.0 / 80).squareRoot()
        #expect(abs(d.mean) < 0.002)
        #expect(abs(d.variance / (limit * limit / 3) - 1) < 0.01)
        #expect(d.largest <= limit && d.largest > 0.999 * limit)
    }

    @Test func normalIsTheUnitNormal() {
        let d = draws(.normal)
        #expect(abs(d.mean) < 0.01)
        #expect(abs(d.variance - 1) < 0.01)
        #expect(d.largest > 4)
    }
}
