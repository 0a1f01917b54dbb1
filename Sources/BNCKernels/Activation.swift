#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Pointwise nonlinearities, forward and backward side by side.
///
/// The four of `trainable` are what training uses; the others are the ONNX unary operators
/// the graph executor runs (and fuses into the product before them) with their ONNX meaning:
/// LeakyRelu(α) = x < 0 ? αx : x, Elu(α) = x < 0 ? α(eˣ − 1) : x, Clip(lo, hi) =
/// min(max(x, lo), hi) (ReLU6 is Clip(0, 6); lo > hi gives hi everywhere, as ONNX says),
/// HardSigmoid(α, β) = max(0, min(1, αx + β)), HardSwish = x·HardSigmoid(1/6, 1/2)(x),
/// Swish(α) = x·σ(αx) (SiLU for α = 1: also the fused x·Sigmoid(x) of EfficientNet exports),
/// Selu(α, γ) = x > 0 ? γx : γα(eˣ − 1), Celu(α) = max(0, x) + min(0, α(e^(x/α) − 1)),
/// ThresholdedRelu(α) = x > α ? x : 0, Softplus = ln(eˣ + 1), Softsign = x/(1 + |x|),
/// Mish = x·tanh(softplus(x)), Gelu = x·Φ(x) = x/2·(1 + erf(x/√2)) or its tanh
/// approximation x/2·(1 + tanh(√(2/π)(x + 0.044715x³))), and Neg, Abs, Sqrt, Exp, Log,
/// Reciprocal, Floor, Ceil, Erf, Sign elementwise. eˣ − 1 is computed by expm1 (no
/// cancellation near 0) and softplus as max(x, 0) + ln(1 + e^−|x|) (no overflow for large x).
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
    case swish(alpha: Float)
    case selu(alpha: Float, gamma: Float)
    case celu(alpha: Float)
    case thresholdedRelu(alpha: Float)
    case softplus
    case softsign
    case mish
    /// Gelu; `tanh`: the tanh approximation (ONNX `approximate = "tanh"`).
    case gelu(tanh: Bool)
    case neg
    case abs
    case sqrt
    case exp
    case log
    case reciprocal
    case floor
    case ceil
    /// Rounding to the nearest integer, halves to even (ONNX Round).
    case round
    case erf
    case sign

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
        case .swish(let a): return a == 1 ? "swish" : "swish(\(a))"
        case .selu(let a, let g): return "selu(\(a), \(g))"
        case .celu(let a): return "celu(\(a))"
        case .thresholdedRelu(let a): return "thresholdedrelu(\(a))"
        case .softplus: return "softplus"
        case .softsign: return "softsign"
        case .mish: return "mish"
        case .gelu(let t): return t ? "gelu(tanh)" : "gelu"
        case .neg: return "neg"
        case .abs: return "abs"
        case .sqrt: return "sqrt"
        case .exp: return "exp"
        case .log: return "log"
        case .reciprocal: return "reciprocal"
        case .floor: return "floor"
        case .ceil: return "ceil"
        case .round: return "round"
        case .erf: return "erf"
        case .sign: return "sign"
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
                y[i] = v < 0 ? alpha * expm1f(v) : v
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
        case .swish(let alpha):
            for i in 0..<count {
                let v = z(i)
                y[i] = v * Activation.sigmoid(alpha * v)
            }
        case .selu(let alpha, let gamma):
            for i in 0..<count {
                let v = z(i)
                y[i] = v > 0 ? gamma * v : gamma * (alpha * expm1f(v))
            }
        case .celu(let alpha):
            for i in 0..<count {
                let v = z(i)
                y[i] = max(v, 0) + min(alpha * expm1f(v / alpha), 0)
            }
        case .thresholdedRelu(let alpha):
            for i in 0..<count {
                let v = z(i)
                y[i] = v > alpha ? v : 0
            }
        case .softplus:
            for i in 0..<count { y[i] = Activation.softplus(z(i)) }
        case .softsign:
            for i in 0..<count {
                let v = z(i)
                y[i] = v / (1 + Swift.abs(v))
            }
        case .mish:
            for i in 0..<count {
                let v = z(i)
                y[i] = v * tanhf(Activation.softplus(v))
            }
        case .gelu(let approximate):
            if approximate {
                for i in 0..<count {
                    let v = z(i)
                    y[i] = 0.5 * v * (1 + tanhf(0.7978845608028654 * (v + 0.044715 * v * v * v)))
                }
            } else {
                for i in 0..<count {
                    let v = z(i)
                    y[i] = 0.5 * v * (1 + erff(v * 0.7071067811865476))
                }
            }
        case .neg:
            for i in 0..<count { y[i] = -z(i) }
        case .abs:
            for i in 0..<count { y[i] = Swift.abs(z(i)) }
        case .sqrt:
            for i in 0..<count { y[i] = z(i).squareRoot() }
        case .exp:
            for i in 0..<count { y[i] = expf(z(i)) }
        case .log:
            for i in 0..<count { y[i] = logf(z(i)) }
        case .reciprocal:
            for i in 0..<count { y[i] = 1 / z(i) }
        case .floor:
            for i in 0..<count { y[i] = z(i).rounded(.down) }
        case .ceil:
            for i in 0..<count { y[i] = z(i).rounded(.up) }
        case .round:
            for i in 0..<count { y[i] = z(i).rounded(.toNearestOrEven) }
        case .erf:
            for i in 0..<count { y[i] = erff(z(i)) }
        case .sign:
            for i in 0..<count {
                let v = z(i)
                y[i] = v > 0 ? 1 : v < 0 ? -1 : v.isNaN ? v : 0
            }
        }
    }

    /// ln(1 + eˣ) without overflow: max(x, 0) + ln(1 + e^−|x|).
    @inlinable @inline(__always)
    public static func softplus(_ x: Float) -> Float {
        max(x, 0) + log1pf(expf(-Swift.abs(x)))
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

    /// f′ from the output y = f(x), for one value, for the activations whose derivative the
    /// output determines. The others (HardSwish, Swish, Gelu, Abs, …) are not invertible from
    /// their output or have no use in training, and are never trained (`trainable` does not
    /// list them).
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
        default: preconditionFailure("Activation.derivative: \(name) is not a training activation")
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
