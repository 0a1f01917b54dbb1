import COpenBLAS

/// Matrix products through OpenBLAS `cblas_sgemm`. The only file of bnc that imports OpenBLAS.
///
/// Threading policy: OpenBLAS itself always runs single-threaded (`pinThreads()`), because its
/// own threads slow down the small products a training step is made of. Large products are
/// split by bnc into `Parallel.ways` (= 2) fixed slices of rows (or columns) computed
/// concurrently; each output element is computed by one single-threaded sgemm call over the
/// same K loop, so results do not depend on the number of cores, only on the shapes.
public enum GEMM {
    /// Products with fewer multiply-adds than this run in one slice (thread wake-up costs more).
    public static let parallelThreshold = 400_000

    /// Pins OpenBLAS to one thread. Called automatically by every product; idempotent.
    public static func pinThreads() {
        _ = pinned
    }

    private static let pinned: Bool = {
        openblas_set_num_threads(1)
        return true
    }()

    /// Row-major `C = alpha·op(A)·op(B) + beta·C`.
    ///
    /// - op(A) is (m, k): A is (m, k) with leading dimension `lda` (≥ k), or (k, m) when
    ///   `transA` (lda ≥ m).
    /// - op(B) is (k, n): B is (k, n) with `ldb` ≥ n, or (n, k) when `transB` (ldb ≥ k).
    /// - C is (m, n) with `ldc` ≥ n. With beta = 0, C need not be initialized (NaNs in it are
    ///   ignored).
    /// Splits large products over two threads (see the type's threading policy).
    @inlinable
    public static func multiply(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m * n * k >= parallelThreshold && (m >= 2 * Parallel.ways || n >= 16 * Parallel.ways) {
            multiplyParallel(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                             a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        } else {
            multiplySerial(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                           a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        }
    }

    /// `multiply` on the calling thread only, never split. Use inside code that is already
    /// running on a `Parallel` slice.
    public static func multiplySerial(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0, "GEMM: negative size")
        if m == 0 || n == 0 { return }
        precondition(ldc >= max(1, n), "GEMM: ldc \(ldc) < n \(n)")
        precondition(lda >= max(1, transA ? m : k), "GEMM: lda \(lda) too small")
        precondition(ldb >= max(1, transB ? k : n), "GEMM: ldb \(ldb) too small")
        _ = pinned
        if k == 0 {
            // C = beta·C (BLAS would do the same; spelled out so beta = 0 clears NaNs).
            for i in 0..<m {
                let row = c + i * ldc
                if beta == 0 {
                    for j in 0..<n { row[j] = 0 }
                } else {
                    for j in 0..<n { row[j] *= beta }
                }
            }
            return
        }
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c,
            blasint(ldc))
    }

    /// Splits C into `Parallel.ways` row blocks (or column blocks when m is small) and
    /// computes them concurrently with single-threaded sgemm.
    @usableFromInline
    static func multiplyParallel(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let ptrs = SendablePointers(a: a, b: b, c: c)
        let splitRows = m >= 2 * Parallel.ways && m >= n / 8
        Parallel.forEachSlice { slice in
            if splitRows {
                let r = Parallel.range(slice, of: m)
                if r.isEmpty { return }
                // Rows r of op(A): A is (m, k) → offset r.lowerBound·lda; A^T → column offset.
                let aSlice = transA ? ptrs.a + r.lowerBound : ptrs.a + r.lowerBound * lda
                GEMM.multiplySerial(transA: transA, transB: transB, m: r.count, n: n, k: k,
                                    alpha: alpha, a: aSlice, lda: lda, b: ptrs.b, ldb: ldb,
                                    beta: beta, c: ptrs.c + r.lowerBound * ldc, ldc: ldc)
            } else {
                // Align column blocks to 16 floats so each slice starts on a SIMD boundary.
                let r = Parallel.range(slice, of: n, alignment: 16)
                if r.isEmpty { return }
                let bSlice = transB ? ptrs.b + r.lowerBound * ldb : ptrs.b + r.lowerBound
                GEMM.multiplySerial(transA: transA, transB: transB, m: m, n: r.count, k: k,
                                    alpha: alpha, a: ptrs.a, lda: lda, b: bSlice, ldb: ldb,
                                    beta: beta, c: ptrs.c + r.lowerBound, ldc: ldc)
            }
        }
    }

    @usableFromInline
    struct SendablePointers: @unchecked Sendable {
        let a: UnsafePointer<Float>
        let b: UnsafePointer<Float>
        let c: UnsafeMutablePointer<Float>
        @usableFromInline init(a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>) {
            self.a = a
            self.b = b
            self.c = c
        }
    }
}
