import COpenBLAS

/// Which OpenBLAS kernel family runs bnc's matrix products.
///
/// Debian's OpenBLAS is built for every x86-64 family and picks one when it loads: the best
/// for the CPU, unless the environment variable `OPENBLAS_CORETYPE` names one. That choice
/// matters: on the 2-core AMD EPYC this project is measured on, OpenBLAS picks its AVX-512
/// "Cooperlake" kernels, which run the MLP's products about 1.9× faster than the AVX2
/// "Haswell" ones that `OPENBLAS_CORETYPE=Haswell` (set in that machine's environment) forces.
/// bnc respects the setting; benchmarks report the family in use.
public enum BLASKernels {
    /// The environment variable OpenBLAS reads when it loads.
    public static let environmentVariable = "OPENBLAS_CORETYPE"

    /// The kernel family OpenBLAS loaded, e.g. "Haswell", "SkylakeX", "Cooperlake".
    public static var loaded: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }
}
