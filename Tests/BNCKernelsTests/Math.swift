#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Double libm functions under names that cannot clash with the kernels' own.
func Foundation_exp(_ x: Double) -> Double { exp(x) }
func Foundation_tanh(_ x: Double) -> Double { tanh(x) }
func Foundation_log(_ x: Double) -> Double { log(x) }
