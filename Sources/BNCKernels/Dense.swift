/// Fully connected layer (ONNX `Gemm` with transB = 1), forward and backward.
///
/// Shapes: x (N, C) input, weight (K, C) out × in row-major, bias (K), y (N, K).
public enum Dense {
    /// y = x · weightᵀ (+ bias).
    @inlinable
    public static func forward(
        _ x: UnsafePointer<Float>, batch n: Int, inputs c: Int, weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, outputs k: Int, into y: UnsafeMutablePointer<Float>
    ) {
        GEMM.multiply(transB: true, m: n, n: k, k: c, a: x, lda: c, b: weight, ldb: c, c: y, ldc: k)
        if let bias { Elementwise.addRowBias(y, rows: n, columns: k, bias: bias) }
    }

    /// Gradients of `forward` given dy (N, K) = ∂L/∂y.
    /// - dx (N, C) = dy · weight, skipped when nil (first layer).
    /// - dweight (K, C) = dyᵀ · x, overwritten.
    /// - dbias (K) = Σ_n dy, overwritten; skipped when nil.
    @inlinable
    public static func backward(
        _ x: UnsafePointer<Float>, batch n: Int, inputs c: Int, weight: UnsafePointer<Float>,
        outputs k: Int, gradient dy: UnsafePointer<Float>,
        inputGradient dx: UnsafeMutablePointer<Float>?, weightGradient dweight: UnsafeMutablePointer<Float>,
        biasGradient dbias: UnsafeMutablePointer<Float>?
    ) {
        GEMM.multiply(transA: true, m: k, n: c, k: n, a: dy, lda: k, b: x, ldb: c, c: dweight, ldc: c)
        if let dx {
            GEMM.multiply(m: n, n: c, k: k, a: dy, lda: k, b: weight, ldb: c, c: dx, ldc: c)
        }
        if let dbias { Elementwise.sumRows(dy, rows: n, columns: k, into: dbias) }
    }
}
