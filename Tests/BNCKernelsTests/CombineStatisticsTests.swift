import Testing
@testable import BNCKernels

/// `BatchNorm.partStatistics` + `combineStatistics`, the statistics a synchronized BN
/// combines over processes, against a Double two-pass reference over the concatenated data.
struct CombineStatisticsTests {
    /// Double parts with |μ| = 1e8 ≫ σ = 1, sizes 1, 0, 7, 50, 2: the pairwise (Chan) update
    /// keeps M2 to 1e-7 relative. Each step's δ²·nₐn_b/n term is formed from a difference
    /// of means δ ≈ σ that carries their rounding, ≤ ulp(1e8) = 1.5e-8, so δ² is ≈ 3e-8
    /// relative off and adds at most that to M2; the reference's own two-pass error is as
    /// large: 1e-7. The naive Σx² − m·μ² cancels 1e16-sized terms in Double (ulp 2):
    /// relative error O(1), checked too.
    @Test func combinedVarianceIsExactForLargeMeans() {
        var rng = TestRandom(11)
        let sizes = [1, 0, 7, 50, 2]
        let channels = 3
        var parts: [[[Double]]] = []  // [part][channel][values]
        for n in sizes {
            parts.append((0..<channels).map { c in (0..<n).map { _ in 1e8 * Double(c + 1) + Double(rng.uniform(-1.7, 1.7)) } })
        }
        var counts: [Int] = [], means: [Double] = [], m2s: [Double] = []
        for (p, n) in sizes.enumerated() {
            counts.append(n)
            for c in 0..<channels {
                let v = parts[p][c]
                let mu = n > 0 ? v.reduce(0, +) / Double(n) : 0
                means.append(mu)
                m2s.append(v.reduce(0) { $0 + ($1 - mu) * ($1 - mu) })
            }
        }
        var mean = [Double](repeating: 0, count: channels), m2 = mean
        let total = BatchNorm.combineStatistics(parts: sizes.count, channels: channels, count: counts, mean: means,
                                                squaredDeviations: m2s, combinedMean: &mean, combinedSquaredDeviations: &m2)
        #expect(total == sizes.reduce(0, +))
        for c in 0..<channels {
            let all = parts.flatMap { $0[c] }
            let mu = all.reduce(0, +) / Double(all.count)
            let ref = all.reduce(0) { $0 + ($1 - mu) * ($1 - mu) }
            #expect(abs(mean[c] - mu) <= 1e-7, "channel \(c): mean \(mean[c]) vs \(mu)")
            #expect(abs(m2[c] - ref) <= 1e-7 * ref, "channel \(c): M2 \(m2[c]) vs \(ref)")
            // The unsound alternative, for contrast: it is far off at these means.
            let naive = all.reduce(0) { $0 + $1 * $1 } - Double(all.count) * mu * mu
            #expect(abs(naive - ref) > 1e-3 * ref, "the naive formula was expected to fail (\(naive) vs \(ref))")
        }
    }

    /// Float data (|μ| = 2e4, σ ≈ 1, S = 16; shards of 3, 1, 0 and 5 samples): the parts'
    /// statistics (`partStatistics`) combine to the concatenated batch's mean within 1e-6
    /// and M2 within 1e-5 relative. The deviations d = x − μ̃ are exact in Float, their
    /// 16-term Float sums ≈ 16·6e-8 = 1e-6 relative off; ×10. Float sums of the values
    /// themselves (what μ̃ comes from) are off by ≈ 0.1 per run here (partial sums near 3e5,
    /// ulp 0.03): a combination that trusted μ̃ as the parts' means (M2 about μ̃, or means
    /// from Σx) is ≈ 1e-4 off in μ and 5e-5 in M2 and fails.
    @Test func partStatisticsOfFloatShardsCombineToTheWholeBatch() {
        var rng = TestRandom(5)
        let c = 2, s = 16
        let sizes = [3, 1, 0, 5]
        var shards: [[Float]] = []
        for n in sizes {
            var x = [Float](repeating: 0, count: n * c * s)
            for i in 0..<n { for ch in 0..<c { for j in 0..<s {
                x[(i * c + ch) * s + j] = Float(2e4 + 0.5 * Double(ch)) + rng.uniform(-1.7, 1.7)
            } } }
            shards.append(x)
        }
        var counts: [Int] = [], means = [Double](), m2s = [Double]()
        for (p, n) in sizes.enumerated() {
            var rounded = [Float](repeating: 0, count: c), mu = [Double](repeating: 0, count: c), q = mu
            shards[p].withUnsafeBufferPointer { x in
                BatchNorm.partStatistics(x.baseAddress ?? UnsafePointer(bitPattern: 8)!, batch: n, channels: c, spatial: s,
                                         roundedMean: &rounded, mean: &mu, squaredDeviations: &q)
            }
            counts.append(n * s)
            means += mu
            m2s += q
        }
        var mean = [Double](repeating: 0, count: c), m2 = mean
        let m = BatchNorm.combineStatistics(parts: sizes.count, channels: c, count: counts, mean: means,
                                            squaredDeviations: m2s, combinedMean: &mean, combinedSquaredDeviations: &m2)
        #expect(m == sizes.reduce(0, +) * s)
        for ch in 0..<c {
            var all: [Double] = []
            for (p, n) in sizes.enumerated() {
                for i in 0..<n { for j in 0..<s { all.append(Double(shards[p][(i * c + ch) * s + j])) } }
            }
            let mu = all.reduce(0, +) / Double(all.count)
            let ref = all.reduce(0) { $0 + ($1 - mu) * ($1 - mu) }
            #expect(abs(mean[ch] - mu) <= 1e-6, "channel \(ch): mean \(mean[ch]) vs \(mu)")
            #expect(abs(m2[ch] - ref) <= 1e-5 * ref, "channel \(ch): M2 \(m2[ch]) vs \(ref), relative \(abs(m2[ch] - ref) / ref)")
        }
    }
}
