#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import BNCKernels

/// Double libm functions under names that cannot clash with the kernels' own.
func Foundation_exp(_ x: Double) -> Double { exp(x) }
func Foundation_tanh(_ x: Double) -> Double { tanh(x) }
func Foundation_log(_ x: Double) -> Double { log(x) }
func Foundation_pow(_ x: Double, _ y: Double) -> Double { pow(x, y) }

/// f(x) in Double for every activation: the outside reference of the kernel tests, written
/// from the ONNX definitions (not from the kernels).
func reference(_ a: Activation, _ v: Double) -> Double {
    switch a {
    case .identity: return v
    case .relu: return max(v, 0)
    case .sigmoid: return 1 / (1 + exp(-v))
    case .tanh: return tanh(v)
    case .leakyRelu(let alpha): return v < 0 ? Double(alpha) * v : v
    case .elu(let alpha): return v < 0 ? Double(alpha) * (exp(v) - 1) : v
    case .clip(let lo, let hi): return min(max(v, Double(lo)), Double(hi))
    case .hardSigmoid(let alpha, let beta): return max(0, min(1, Double(alpha) * v + Double(beta)))
    case .hardSwish: return v * max(0, min(1, v / 6 + 0.5))
    }
}
