#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Local response normalization across channels (ONNX `LRN`, AlexNet), NC… layout:
///
///     y[n, c, s] = x[n, c, s] / (bias + alpha/size · Σ_{i ∈ window(c)} x[n, i, s]²)^beta
///     window(c) = [c − ⌊(size − 1)/2⌋, c + ⌈(size − 1)/2⌉] ∩ [0, C)
///
/// Shapes: x, y (N, C, S) with S the product of the spatial dims.
public enum LocalResponseNormalization {
    /// The channels [lo, hi) of the window around channel c.
    @inline(__always)
    public static func window(_ c: Int, size: Int, channels: Int) -> Range<Int> {
        let lo = max(0, c - (size - 1) / 2), hi = min(channels, c + size / 2 + 1)
        return lo..<hi
    }

    /// y = LRN(x); y must not overlap x. The square sums are accumulated in y's plane (Float,
    /// channels in ascending order), then turned into y in place with one `powf` per value.
    /// Many (sample, channel) planes split over the cores unless `parallel` is false; every
    /// plane is computed by one core, so results do not depend on the split.
    public static func forward(
        batch n: Int, channels: Int, spatial s: Int, size: Int, alpha: Float, beta: Float, bias: Float,
        input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>, parallel: Bool = true
    ) {
        let planes = n * channels
        let split = parallel && planes * s * min(size, channels) >= BatchNorm.parallelThreshold
        let a = alpha / Float(size)
        Parallel.forEachSlice(split) { slice in
            for p in Parallel.range(slice, of: planes, split: split) {
                let sample = p / channels, c = p % channels
                let yp = y + p * s, xs = x + sample * channels * s
                yp.update(repeating: 0, count: s)
                for i in window(c, size: size, channels: channels) {
                    let xi = xs + i * s
                    for j in 0..<s { yp[j] += xi[j] * xi[j] }
                }
                let xp = xs + c * s
                for j in 0..<s { yp[j] = xp[j] / powf(bias + a * yp[j], beta) }
            }
        }
    }
}
