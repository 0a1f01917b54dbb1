#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Pointwise nonlinearities, forward and backward side by side.
///
/// The four of `trainable` are what training uses; the parameterized ones are the ONNX
/// activations the graph executor runs (and fuses into the product before them) with their
/// ONNX meaning: LeakyRelu(α) = x < 0 ? αx : x, Elu(α) = x < 0 ? α(eˣ − 1) : x,
/// Clip(lo, hi) = min(max(x, lo), hi) (ReLU6 is Clip(0, 6)), HardSigmoid(α, β) =
/// max(0, min(1, αx + β)), HardSwish = x·HardSigmoid(1/6, 1/2)(x).
///
/// Backward kernels take the activation's OUTPUT y (not its input): ReLU′ = [y > 0],
/// σ′ = y(1 − y), tanh′ = 1 − y², so the layer keeps one buffer instead of two.
/// All kernels accept in-place use (`y == x`, `dx == dy`).
public enum Activation: Equatable, Hashable, Sendable {
    case identity
    case relu
    case sigmoid
    case tanh
    case leakyRelu(alpha: Float)
    case elu(alpha: Float)
    case clip(min: Float, max: Float)
    case hardSigmoid(alpha: Float, beta: Float)
    case hardSwish

    /// The activations training layers use (and `--activation` offers).
    public static let trainable: [Activation] = [.identity, .relu, .sigmoid, .tanh]

    /// Its name: "relu", "sigmoid", …; parameterized ones carry their parameters
    /// ("leakyrelu(0.01)", "clip(0, 6)").
    public var name: String {
        switch self {
        case .identity: return "identity"
        case .relu: return "relu"
        case .sigmoid: return "sigmoid"
        case .tanh: return "tanh"
        case .leakyRelu(let a): return "leakyrelu(\(a))"
        case .elu(let a): return "elu(\(a))"
        case .clip(let lo, let hi): return "clip(\(lo), \(hi))"
        case .hardSigmoid(let a, let b): return "hardsigmoid(\(a), \(b))"
        case .hardSwish: return "hardswish"
        }
    }

    /// One of `trainable` by name.
    public init?(name: String) {
        guard let a = Activation.trainable.first(where: { $0.name == name }) else { return nil }
        self = a
    }

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
        case .leakyRelu(let alpha):
            for i in 0..<count {
                let v = z(i)
                y[i] = v < 0 ? alpha * v : v
            }
        case .elu(let alpha):
            for i in 0..<count {
                let v = z(i)
                y[i] = v < 0 ? alpha * (expf(v) - 1) : v
            }
        case .clip(let lo, let hi):
            for i in 0..<count { y[i] = min(max(z(i), lo), hi) }
        case .hardSigmoid(let alpha, let beta):
            for i in 0..<count { y[i] = min(max(alpha * z(i) + beta, 0), 1) }
        case .hardSwish:
            for i in 0..<count {
                let v = z(i)
                y[i] = v * min(max(v * (1 / 6) + 0.5, 0), 1)
            }
        }
    }

    /// Whether f is non-decreasing and commutes exactly with max under rounding, so that
    /// max-pooling f(x) equals f(max-pooling x) bit for bit (identity, ReLU, Clip).
    public var commutesWithMax: Bool {
        switch self {
        case .identity, .relu, .clip: return true
        default: return false
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
        default:
            for i in 0..<count { dx[i] = dy[i] * derivative(output: y[i]) }
        }
    }

    /// f(x) for one value.
    @inlinable
    public func apply(_ x: Float) -> Float {
        var out: Float = 0
        withUnsafeMutablePointer(to: &out) { p in map(count: 1, into: p) { _ in x } }
        return out
    }

    /// f′ from the output y = f(x), for one value. HardSwish is not invertible from its
    /// output and is never trained (`trainable` does not list it).
    @inlinable
    public func derivative(output y: Float) -> Float {
        switch self {
        case .identity: return 1
        case .relu: return y > 0 ? 1 : 0
        case .sigmoid: return y * (1 - y)
        case .tanh: return 1 - y * y
        case .leakyRelu(let alpha): return y < 0 ? alpha : 1
        case .elu(let alpha): return y < 0 ? y + alpha : 1
        case .clip(let lo, let hi): return y > lo && y < hi ? 1 : 0
        case .hardSigmoid(let alpha, _): return y > 0 && y < 1 ? alpha : 0
        case .hardSwish: preconditionFailure("Activation.derivative: hardswish is not a training activation")
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
