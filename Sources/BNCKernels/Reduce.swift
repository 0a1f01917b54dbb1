/// Vectorized reductions over contiguous Float runs. Several SIMD accumulators break the
/// add dependency chain; the summation order is fixed by the count alone, so results are
/// deterministic (they differ from a sequential sum in the last bits).
public enum Reduce {
    /// Σ p[i].
    @inlinable
    public static func sum(_ p: UnsafePointer<Float>, count n: Int) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i &+ 16 <= n {
            acc0 += raw.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            acc1 += raw.loadUnaligned(fromByteOffset: (i &+ 8) &* 4, as: SIMD8<Float>.self)
            i &+= 16
        }
        var total = (acc0 + acc1).sum()
        while i < n {
            total += p[i]
            i &+= 1
        }
        return total
    }

    /// Σ (p[i] − mean)².
    @inlinable
    public static func sumOfSquaredDeviations(_ p: UnsafePointer<Float>, count n: Int, mean: Float) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        let m = SIMD8<Float>(repeating: mean)
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i &+ 16 <= n {
            let a = raw.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self) - m
            let b = raw.loadUnaligned(fromByteOffset: (i &+ 8) &* 4, as: SIMD8<Float>.self) - m
            acc0 += a * a
            acc1 += b * b
            i &+= 16
        }
        var total = (acc0 + acc1).sum()
        while i < n {
            let d = p[i] - mean
            total += d * d
            i &+= 1
        }
        return total
    }

    /// (Σ (p[i] − mean), Σ (p[i] − mean)²): the corrected two-pass sums, whose first term
    /// (≈ 0) refines a rounded mean.
    @inlinable
    public static func sumsOfDeviations(_ p: UnsafePointer<Float>, count n: Int, mean: Float) -> (Float, Float) {
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), q0 = SIMD8<Float>(), q1 = SIMD8<Float>()
        let m = SIMD8<Float>(repeating: mean)
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i &+ 16 <= n {
            let a = raw.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self) - m
            let b = raw.loadUnaligned(fromByteOffset: (i &+ 8) &* 4, as: SIMD8<Float>.self) - m
            s0 += a
            s1 += b
            q0 += a * a
            q1 += b * b
            i &+= 16
        }
        var sum = (s0 + s1).sum(), squares = (q0 + q1).sum()
        while i < n {
            let d = p[i] - mean
            sum += d
            squares += d * d
            i &+= 1
        }
        return (sum, squares)
    }

    /// (Σ a[i], Σ a[i]·b[i]).
    @inlinable
    public static func sumAndDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count n: Int) -> (Float, Float) {
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), d0 = SIMD8<Float>(), d1 = SIMD8<Float>()
        var i = 0
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        while i &+ 16 <= n {
            let a0 = ra.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            let a1 = ra.loadUnaligned(fromByteOffset: (i &+ 8) &* 4, as: SIMD8<Float>.self)
            let b0 = rb.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            let b1 = rb.loadUnaligned(fromByteOffset: (i &+ 8) &* 4, as: SIMD8<Float>.self)
            s0 += a0
            s1 += a1
            d0 += a0 * b0
            d1 += a1 * b1
            i &+= 16
        }
        var sum = (s0 + s1).sum(), dot = (d0 + d1).sum()
        while i < n {
            sum += a[i]
            dot += a[i] * b[i]
            i &+= 1
        }
        return (sum, dot)
    }

    /// ReLU backward fused with the reduction: dz[i] = y[i] > 0 ? dy[i] : 0 (written; dz may
    /// alias dy), returns (Σ dz[i], Σ dz[i]·h[i]) summed in exactly the order of `sumAndDot`
    /// over the written dz, so results are bit-identical to the two separate passes.
    @inlinable
    public static func reluMaskSumAndDot(
        _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ h: UnsafePointer<Float>,
        into dz: UnsafeMutablePointer<Float>, count n: Int
    ) -> (Float, Float) {
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), d0 = SIMD8<Float>(), d1 = SIMD8<Float>()
        let zero = SIMD8<Float>()
        var i = 0
        let ry = UnsafeRawPointer(y), rdy = UnsafeRawPointer(dy), rh = UnsafeRawPointer(h)
        let rdz = UnsafeMutableRawPointer(dz)
        while i &+ 16 <= n {
            let o0 = i &* 4, o1 = (i &+ 8) &* 4
            let y0 = ry.loadUnaligned(fromByteOffset: o0, as: SIMD8<Float>.self)
            let y1 = ry.loadUnaligned(fromByteOffset: o1, as: SIMD8<Float>.self)
            let a0 = zero.replacing(with: rdy.loadUnaligned(fromByteOffset: o0, as: SIMD8<Float>.self), where: y0 .> zero)
            let a1 = zero.replacing(with: rdy.loadUnaligned(fromByteOffset: o1, as: SIMD8<Float>.self), where: y1 .> zero)
            rdz.storeBytes(of: a0, toByteOffset: o0, as: SIMD8<Float>.self)
            rdz.storeBytes(of: a1, toByteOffset: o1, as: SIMD8<Float>.self)
            let b0 = rh.loadUnaligned(fromByteOffset: o0, as: SIMD8<Float>.self)
            let b1 = rh.loadUnaligned(fromByteOffset: o1, as: SIMD8<Float>.self)
            s0 += a0
            s1 += a1
            d0 += a0 * b0
            d1 += a1 * b1
            i &+= 16
        }
        var sum = (s0 + s1).sum(), dot = (d0 + d1).sum()
        while i < n {
            let a: Float = y[i] > 0 ? dy[i] : 0
            dz[i] = a
            sum += a
            dot += a * h[i]
            i &+= 1
        }
        return (sum, dot)
    }
}
