import Testing
@testable import BNCReport

/// Histograms, shares and unit means against plain reference loops (Double).
struct SummariesTests {
    func distribution(_ values: [Float], bins: Int, threshold: Double? = nil) -> Distribution {
        values.withUnsafeBufferPointer { Distribution.of($0, bins: bins, saturationThreshold: threshold) }
    }

    @Test func histogramCountsEveryFiniteValueInItsBin() {
        let values: [Float] = (0..<1000).map { Float(SampleMetrics.noise(3, $0) * 7 + 1) } + [.nan, .infinity, -.infinity]
        let d = distribution(values, bins: 25, threshold: 2)
        let finite = values.filter(\.isFinite).map(Double.init)
        let h = try! #require(d.histogram)
        #expect(d.count == 1000 && d.nonFinite == 3)
        #expect(h.min == finite.min()! && h.max == finite.max()!)
        #expect(h.counts.reduce(0, +) == 1000)
        // Reference binning: bin i holds [min + i·w, min + (i+1)·w), the maximum in the last bin.
        let w = (h.max - h.min) / 25
        var reference = [Int](repeating: 0, count: 25)
        for v in finite { reference[min(24, Int((v - h.min) / w))] += 1 }
        #expect(h.counts == reference)
        let mean = finite.reduce(0, +) / 1000
        let std = (finite.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 1000).squareRoot()
        #expect(abs(d.mean! - mean) <= 1e-12 * max(1, abs(mean)))
        #expect(abs(d.std! - std) <= 1e-12 * std)
        #expect(d.nonPositive == Double(finite.filter { $0 <= 0 }.count) / 1000)
        #expect(d.saturated == Double(finite.filter { abs($0) > 2 }.count) / 1000)
        #expect(d.saturationThreshold == 2)
    }

    @Test func edgeCases() {
        // All equal: one middle bin, no spread.
        let same = distribution([Float](repeating: 0.5, count: 10), bins: 4)
        #expect(same.histogram?.counts == [0, 0, 10, 0])
        #expect(same.std == 0 && same.nonPositive == 0 && same.saturated == nil)
        // Only non-finite values: no histogram.
        let none = distribution([.nan, .nan], bins: 4)
        #expect(none.count == 0 && none.nonFinite == 2 && none.histogram == nil && none.mean == nil)
        // ReLU has no saturation threshold; tanh 2, sigmoid 4.
        #expect(Distribution.saturationThreshold(activation: "relu") == nil)
        #expect(Distribution.saturationThreshold(activation: "tanh") == 2)
        #expect(Distribution.saturationThreshold(activation: "sigmoid") == 4)
    }

    @Test func unitMeansAverageOverExamplesAndPositions() {
        // (N = 3, units = 6, spatial = 4)
        let n = 3, units = 6, spatial = 4
        let values: [Float] = (0..<(n * units * spatial)).map { Float(SampleMetrics.noise(9, $0) * 5) }
        let means = values.withUnsafeBufferPointer { UnitMeans.means($0, batch: n, units: units, spatial: spatial, first: 5) }
        #expect(means.count == 5)
        for u in 0..<5 {
            var s = 0.0
            for i in 0..<n { for j in 0..<spatial { s += Double(values[(i * units + u) * spatial + j]) } }
            #expect(abs(means[u]! - s / 12) <= 1e-12)
        }
        let nan = [Float](repeating: .nan, count: 4)
        #expect(nan.withUnsafeBufferPointer { UnitMeans.means($0, batch: 2, units: 2, spatial: 1, first: 5) } == [nil, nil])
    }

    @Test(arguments: [(0.123456789, 0.123457), (98765.4321, 98765.4), (-1.23456789e-7, -1.23457e-7), (2e12 + 123456, 2e12), (0, 0)] as [(Double, Double)])
    func significantDigits(_ v: Double, _ expected: Double) {
        let r = Significant.round(v, digits: 6)
        #expect(r == expected, "\(r)")
        #expect("\(r)".count <= "\(expected)".count)
    }
}
