#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Softmax over the last axis, and the two losses (softmax cross-entropy, mean squared error)
/// with their gradients. Shapes: logits/probabilities (N, K) row-major.
public enum Softmax {
    /// p[n, :] = exp(x[n, :] − max) / Σ exp(x[n, :] − max). In-place allowed.
    @inlinable
    public static func forward(_ x: UnsafePointer<Float>, rows: Int, columns k: Int, into p: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let xr = x + r * k, pr = p + r * k
            var mx = -Float.infinity
            for j in 0..<k { mx = max(mx, xr[j]) }
            var total: Float = 0
            for j in 0..<k {
                let e = expf(xr[j] - mx)
                pr[j] = e
                total += e
            }
            let inv = 1 / total
            for j in 0..<k { pr[j] *= inv }
        }
    }

    /// Index of the largest value of each row (the first on ties) into `classes` (N).
    @inlinable
    public static func argmax(_ x: UnsafePointer<Float>, rows: Int, columns k: Int, into classes: UnsafeMutablePointer<Int32>) {
        for r in 0..<rows {
            let xr = x + r * k
            var best = 0
            for j in 1..<max(k, 1) where xr[j] > xr[best] { best = j }
            classes[r] = Int32(best)
        }
    }
}

extension Softmax {
    /// The `count` largest values' indices of one row of `k` scores, largest first, the lower
    /// index first on ties (so the first is `argmax`'s class). Softmax keeps the order, so
    /// this is the same on logits and on their probabilities.
    public static func top(_ x: UnsafePointer<Float>, columns k: Int, count: Int) -> [Int] {
        if count <= 1 {
            var best = 0
            for j in 1..<max(k, 1) where x[j] > x[best] { best = j }
            return k == 0 ? [] : [best]
        }
        return Array((0..<k).sorted { x[$0] != x[$1] ? x[$0] > x[$1] : $0 < $1 }.prefix(count))
    }
}

public enum Loss {
    /// Softmax cross-entropy. From logits (N, K) and labels (N) in 0..<K: writes the
    /// probabilities (N, K) and, when given, dlogits = (p − onehot)·gradientScale (the mean
    /// loss's gradient for gradientScale = 1/N). Returns the SUM over rows of −log p[label]
    /// in Double (with log p computed stably as x − max − log Σ exp).
    @inlinable
    public static func softmaxCrossEntropy(
        logits x: UnsafePointer<Float>, labels: UnsafePointer<Int32>, rows: Int, columns k: Int,
        probabilities p: UnsafeMutablePointer<Float>, gradient dx: UnsafeMutablePointer<Float>?,
        gradientScale: Float
    ) -> Double {
        var loss = 0.0
        for r in 0..<rows {
            let xr = x + r * k, pr = p + r * k
            var mx = -Float.infinity
            for j in 0..<k { mx = max(mx, xr[j]) }
            var total: Float = 0
            for j in 0..<k {
                let e = expf(xr[j] - mx)
                pr[j] = e
                total += e
            }
            let label = Int(labels[r])
            precondition(label >= 0 && label < k, "label \(label) outside 0..<\(k)")
            loss += Double(mx) + log(Double(total)) - Double(xr[label])
            let inv = 1 / total
            for j in 0..<k { pr[j] *= inv }
            if let dx {
                let dr = dx + r * k
                for j in 0..<k { dr[j] = pr[j] * gradientScale }
                dr[label] -= gradientScale
            }
        }
        return loss
    }

    /// Squared error: returns Σ (prediction − target)² in Double over N·K values; writes
    /// dprediction = 2·(prediction − target)·gradientScale when given (gradientScale = 1/(N·K)
    /// for the mean).
    @inlinable
    public static func squaredError(
        prediction: UnsafePointer<Float>, target: UnsafePointer<Float>, count: Int,
        gradient dx: UnsafeMutablePointer<Float>?, gradientScale: Float
    ) -> Double {
        var total = 0.0
        for i in 0..<count {
            let d = prediction[i] - target[i]
            total += Double(d) * Double(d)
            dx?[i] = 2 * d * gradientScale
        }
        return total
    }
}
