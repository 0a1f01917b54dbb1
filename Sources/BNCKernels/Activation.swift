#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Pointwise nonlinearities, forward and backward side by side.
///
/// Backward kernels take the activation's OUTPUT y (not its input): ReLU′ = [y > 0],
/// σ′ = y(1 − y), tanh′ = 1 − y², so the layer keeps one buffer instead of two.
/// All kernels accept in-place use (`y == x`, `dx == dy`).
public enum Activation: String, Sendable, CaseIterable {
    case identity
    case relu
    case sigmoid
    case tanh

    /// y = f(x) over `count` contiguous values.
    @inlinable
    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        if UnsafePointer(y) == x {
            forwardInPlace(y, count: count)
        } else {
            map(count: count, into: y) { x[$0] }
        }
    }

    /// y = f(y). The loop reads and writes through the same pointer: with two equal
    /// pointers the vectorized loop's overlap check fails and the scalar fallback runs.
    @inlinable
    public func forwardInPlace(_ y: UnsafeMutablePointer<Float>, count: Int) {
        if self == .identity { return }
        map(count: count, into: y) { y[$0] }
    }

    /// y[i] = f(z(i)) for i in 0..<count, where `z` computes the pre-activation (a bias add,
    /// a BN affine, …) from contiguous inputs: the one place the activations are applied to
    /// runs, so every fused kernel gets the same values. One loop per case, so each loop
    /// vectorizes with `z` inlined into it (a switch inside the loop kept the sigmoid
    /// scalar).
    /// In place, `z` must read `y` itself (same pointer, same index), not an equal copy.
    @inlinable @inline(__always)
    public func map(count: Int, into y: UnsafeMutablePointer<Float>, _ z: (Int) -> Float) {
        switch self {
        case .identity:
            for i in 0..<count { y[i] = z(i) }
        case .relu:
            for i in 0..<count { y[i] = max(z(i), 0) }
        case .sigmoid:
            for i in 0..<count { y[i] = Activation.sigmoid(z(i)) }
        case .tanh:
            for i in 0..<count { y[i] = tanhf(z(i)) }
        }
    }

    /// dx = dy · f′, with f′ computed from the forward output `y`, over `count` values.
    @inlinable
    public func backward(
        output y: UnsafePointer<Float>, gradient dy: UnsafePointer<Float>,
        into dx: UnsafeMutablePointer<Float>, count: Int
    ) {
        switch self {
        case .identity:
            if UnsafePointer(dx) != dy { dx.update(from: dy, count: count) }
        case .relu:
            for i in 0..<count { dx[i] = y[i] > 0 ? dy[i] : 0 }
        case .sigmoid:
            for i in 0..<count { dx[i] = dy[i] * y[i] * (1 - y[i]) }
        case .tanh:
            for i in 0..<count { dx[i] = dy[i] * (1 - y[i] * y[i]) }
        }
    }

    /// f(x) for one value.
    @inlinable
    public func apply(_ x: Float) -> Float {
        switch self {
        case .identity: return x
        case .relu: return max(x, 0)
        case .sigmoid: return Activation.sigmoid(x)
        case .tanh: return tanhf(x)
        }
    }

    /// f′ from the output y = f(x), for one value.
    @inlinable
    public func derivative(output y: Float) -> Float {
        switch self {
        case .identity: return 1
        case .relu: return y > 0 ? 1 : 0
        case .sigmoid: return y * (1 - y)
        case .tanh: return 1 - y * y
        }
    }

    /// Logistic function σ(x) = 1/(1 + e^−x), within 2e-7 relative of the exact value
    /// (≈ 3 ulp; checked against Double in the kernel tests) and never NaN for finite x.
    ///
    /// Branch-free and call-free so that loops over it vectorize (a call to `expf` keeps
    /// them scalar): e = e^−x by Cephes' expf polynomial on r = t − n·ln 2 with n = round(t·log₂e)
    /// (the 1.5·2²³ rounding trick, whose low mantissa bits give 2ⁿ directly), x clamped to
    /// ±87 so 2ⁿ stays a normal Float; then σ = 1/(1 + e). For x < 0, e is large and its
    /// relative error carries over to σ unchanged, so no second formula (and no select
    /// between two) is needed.
    /// The clamp makes σ(x) for x < −87 about 1.6e-38 instead of a smaller subnormal.
    @inlinable
    public static func sigmoid(_ x: Float) -> Float {
        let t = -min(max(x, -87), 87)
        let shifted = t * 1.44269504088896341 + 12582912.0
        let n = shifted - 12582912.0
        var r = t - n * 0.693359375
        r = r - n * -2.12194440e-4
        var p: Float = 1.9875691500e-4
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        p = p * r * r + r + 1
        let e = p * Float(bitPattern: (shifted.bitPattern &- 0x4B40_0000 &+ 127) &<< 23)
        return 1 / (1 + e)
    }
}
