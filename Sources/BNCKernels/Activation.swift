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
        switch self {
        case .identity:
            if UnsafePointer(y) != x { y.update(from: x, count: count) }
        case .relu:
            for i in 0..<count { y[i] = max(x[i], 0) }
        case .sigmoid:
            for i in 0..<count { y[i] = Activation.sigmoid(x[i]) }
        case .tanh:
            for i in 0..<count { y[i] = tanhf(x[i]) }
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

    /// Logistic function, accurate for large |x| (no overflow to NaN).
    @inlinable
    public static func sigmoid(_ x: Float) -> Float {
        if x >= 0 {
            return 1 / (1 + expf(-x))
        } else {
            let e = expf(x)
            return e / (1 + e)
        }
    }
}
