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
    case .swish(let alpha): return v / (1 + exp(-Double(alpha) * v))
    case .selu(let alpha, let gamma): return v > 0 ? Double(gamma) * v : Double(gamma) * Double(alpha) * (exp(v) - 1)
    case .celu(let alpha): return v.isNaN ? v : max(0, v) + min(0, Double(alpha) * (exp(v / Double(alpha)) - 1))
    case .thresholdedRelu(let alpha): return v > Double(alpha) ? v : 0
    case .softplus: return log(exp(v) + 1)
    case .softsign: return v / (1 + abs(v))
    case .mish: return v * tanh(log(exp(v) + 1))
    case .gelu(let approximate):
        return approximate
            ? 0.5 * v * (1 + tanh((2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v)))
            : 0.5 * v * (1 + erf(v / 2.0.squareRoot()))
    case .neg: return -v
    case .abs: return abs(v)
    case .sqrt: return v.squareRoot()
    case .exp: return exp(v)
    case .log: return log(v)
    case .reciprocal: return 1 / v
    case .floor: return v.rounded(.down)
    case .ceil: return v.rounded(.up)
    case .round:
        // Halves to the even neighbour, written out (not the kernel's rounding rule).
        let f = v.rounded(.down), d = v - f
        if d != 0.5 { return d < 0.5 ? f : f + 1 }
        return f.truncatingRemainder(dividingBy: 2) == 0 ? f : f + 1
    case .erf: return erf(v)
    case .sign: return v.isNaN ? v : v > 0 ? 1 : v < 0 ? -1 : 0
    }
}
