import COpenBLAS

/// Which OpenBLAS kernel family runs bnc's matrix products.
///
/// Debian's OpenBLAS is built for every x86-64 family and picks one when it loads: the best
/// for the CPU, unless the environment variable `OPENBLAS_CORETYPE` names one. That choice
/// matters: on a CPU with AVX-512, OpenBLAS picks AVX-512 kernels (e.g. "Cooperlake"), and
/// `OPENBLAS_CORETYPE=Haswell` forces the slower AVX2 ones (figures: docs/benchmarks.md,
/// "OpenBLAS kernels"). bnc respects the setting; benchmarks report the family in use.
public enum BLASKernels {
    /// The environment variable OpenBLAS reads when it loads.
    public static let environmentVariable = "OPENBLAS_CORETYPE"

    /// The kernel family OpenBLAS loaded, e.g. "Haswell", "SkylakeX", "Cooperlake".
    public static var loaded: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }
}
