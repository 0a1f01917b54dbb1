import COpenBLAS

extension GEMM {
    /// One row: y (1, n) = alpha · x (1, k) · op(B), op(B) (k, n) — `multiply` with m = 1,
    /// through `cblas_sgemv`, which reads B once instead of packing it first (sgemm packs
    /// B on every call, which costs more than the product itself at batch 1).
    ///
    /// B is (k, n) with leading dimension n, or (n, k) with leading dimension k when
    /// `transB`. y is overwritten (beta 0).
    public static func multiplyRow(
        transB: Bool = false, n: Int, k: Int, alpha: Float = 1, x: UnsafePointer<Float>,
        b: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>
    ) {
        precondition(n >= 0 && k >= 0, "GEMV: negative size")
        if n == 0 { return }
        if k == 0 {
            y.update(repeating: 0, count: n)
            return
        }
        pinThreads()
        if transB {
            // B (n, k) row-major: y = B · x.
            cblas_sgemv(CblasRowMajor, CblasNoTrans, blasint(n), blasint(k), alpha, b, blasint(k), x, 1, 0, y, 1)
        } else {
            // B (k, n) row-major: y = Bᵀ · x.
            cblas_sgemv(CblasRowMajor, CblasTrans, blasint(k), blasint(n), alpha, b, blasint(n), x, 1, 0, y, 1)
        }
    }
}
