import COpenBLAS

extension GEMM {
    /// One row: y (1, n) = alpha · x (1, k) · op(B), op(B) (k, n) — `multiply` with m = 1,
    /// through `cblas_sgemv`, which reads B once instead of packing it first (sgemm packs
    /// B on every call, which costs more than the product itself at batch 1).
    ///
    /// B is (k, n) with leading dimension n, or (n, k) with leading dimension k when
    /// `transB`. y is overwritten (beta 0).
    ///
    /// From `rowSplitThreshold` multiply-adds on, y is computed in two halves, each from its
    /// half of B, on both cores when `parallel`. The halves depend only on n and k, so
    /// results do not depend on `parallel` or on the number of cores.
    public static func multiplyRow(
        transB: Bool = false, n: Int, k: Int, alpha: Float = 1, x: UnsafePointer<Float>,
        b: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, parallel: Bool = true
    ) {
        precondition(n >= 0 && k >= 0, "GEMV: negative size")
        if n == 0 { return }
        if k == 0 {
            y.update(repeating: 0, count: n)
            return
        }
        pinThreads()
        // Halves depend only on the sizes; `parallel` only decides whether they run at once.
        let halves = n * k >= GEMM.rowSplitThreshold && n >= 2 * Parallel.ways
        func part(_ slice: Int) {
            let outputs = Parallel.range(slice, of: n, split: halves)
            if outputs.isEmpty { return }
            let first = outputs.lowerBound, count = outputs.count
            if transB {
                // B (n, k) row-major: y = B · x; rows first..<first + count.
                cblas_sgemv(CblasRowMajor, CblasNoTrans, blasint(count), blasint(k), alpha, b + first * k, blasint(k),
                            x, 1, 0, y + first, 1)
            } else {
                // B (k, n) row-major: y = Bᵀ · x; columns first..<first + count.
                cblas_sgemv(CblasRowMajor, CblasTrans, blasint(k), blasint(count), alpha, b + first, blasint(n),
                            x, 1, 0, y + first, 1)
            }
        }
        if halves && parallel {
            Parallel.forEachSlice(part)
        } else {
            for slice in 0..<(halves ? Parallel.ways : 1) { part(slice) }
        }
    }

    /// Multiply-adds from which `multiplyRow` splits its outputs over the cores: above it,
    /// halving a one-row product (OpenBLAS's sgemv; sgemm with m = 1 is no faster) saves
    /// more than a fork/join costs. The MLP's first layer (100×784) is split, 100×100 is not
    /// (figures: docs/benchmarks.md, "Measured figures behind the code").
    public static let rowSplitThreshold = 32_768
}
