import Foundation

/// Turning raw values (the inputs of one activation over a probe batch) into what a report
/// keeps: a histogram and a few shares, or per-unit means. Double sums; non-finite values are
/// counted apart.
extension Distribution {
    /// The magnitude beyond which an activation is saturated: tanh 2 (slope < 0.071),
    /// sigmoid 4 (slope < 0.018); nil for ReLU and others.
    public static func saturationThreshold(activation: String) -> Double? {
        switch activation {
        case "tanh": return 2
        case "sigmoid": return 4
        default: return nil
        }
    }

    /// Summarizes `values` with a histogram of `bins` equal bins over [min, max].
    public static func of(_ values: UnsafeBufferPointer<Float>, bins: Int, saturationThreshold: Double?) -> Distribution {
        precondition(bins >= 1)
        var count = 0, nonFinite = 0, nonPositive = 0, saturated = 0
        var lo = Double.infinity, hi = -Double.infinity, sum = 0.0
        let limit = saturationThreshold ?? .infinity
        for v in values {
            guard v.isFinite else {
                nonFinite += 1
                continue
            }
            let d = Double(v)
            count += 1
            sum += d
            lo = Swift.min(lo, d)
            hi = Swift.max(hi, d)
            if d <= 0 { nonPositive += 1 }
            if abs(d) > limit { saturated += 1 }
        }
        guard count > 0 else {
            return Distribution(count: 0, nonFinite: nonFinite, mean: nil, std: nil, nonPositive: nil, saturated: nil,
                                saturationThreshold: saturationThreshold, histogram: nil)
        }
        let mean = sum / Double(count)
        var squares = 0.0
        var counts = [Int](repeating: 0, count: bins)
        let width = (hi - lo) / Double(bins)
        for v in values where v.isFinite {
            let d = Double(v)
            squares += (d - mean) * (d - mean)
            let i = width > 0 ? Int((d - lo) / width) : bins / 2
            counts[Swift.min(Swift.max(i, 0), bins - 1)] += 1
        }
        let std = (squares / Double(count)).squareRoot()
        let n = Double(count)
        return Distribution(
            count: count, nonFinite: nonFinite, mean: mean, std: std, nonPositive: Double(nonPositive) / n,
            saturated: saturationThreshold == nil ? nil : Double(saturated) / n, saturationThreshold: saturationThreshold,
            histogram: Histogram(min: lo, max: hi, counts: counts))
    }
}

/// Rounding recorded figures to the digits worth keeping (values that come from Float sums
/// carry about 7), so the metrics file stays small and readable.
public enum Significant {
    /// `v` rounded to `digits` significant decimal digits (exactly representable values
    /// like 0.123457 print as such in JSON).
    public static func round(_ v: Double, digits: Int) -> Double {
        guard v.isFinite, v != 0 else { return v }
        let e = Int(log10(abs(v)).rounded(.down)) - digits + 1
        if e >= 0 {
            let p = pow(10, Double(e))
            return (v / p).rounded() * p
        }
        let p = pow(10, Double(-e))
        return (v * p).rounded() / p
    }
}

extension UnitMeans {
    /// Mean over examples and positions of each of the first `first` units of `values`
    /// (N, units, spatial) row-major; nil for a unit with a non-finite value.
    public static func means(
        _ values: UnsafeBufferPointer<Float>, batch: Int, units: Int, spatial: Int, first: Int
    ) -> [Double?] {
        precondition(values.count == batch * units * spatial, "values (\(values.count)) ≠ \(batch)×\(units)×\(spatial)")
        let k = Swift.min(first, units)
        var sums = [Double](repeating: 0, count: k)
        for i in 0..<batch {
            for u in 0..<k {
                let base = (i * units + u) * spatial
                var s = 0.0
                for j in 0..<spatial { s += Double(values[base + j]) }
                sums[u] += s
            }
        }
        let m = Double(batch * spatial)
        return sums.map { s in
            let mean = s / m
            return mean.isFinite ? mean : nil
        }
    }
}
