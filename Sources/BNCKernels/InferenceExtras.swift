#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Forward kernels the graph executor needs beyond the training set (added by the runtime
// work; same conventions as the rest of BNCKernels: contiguous row-major Float buffers).

extension Elementwise {
    /// y[n, k] = act(y[n, k]·scale[k] + bias[k]) for y (N, K) row-major, scale and bias (K):
    /// a product's epilogue (its bias, an unfolded BN after it, the activation) in one pass.
    /// scale nil means 1, bias nil means 0.
    @inlinable
    public static func addRowBias(
        _ y: UnsafeMutablePointer<Float>, rows: Int, columns: Int, scale: UnsafePointer<Float>? = nil,
        bias: UnsafePointer<Float>?, activation: Activation
    ) {
        switch (scale, bias) {
        case (nil, nil):
            activation.forwardInPlace(y, count: rows * columns)
        case (nil, let b?):
            for r in 0..<rows {
                let row = y + r * columns
                activation.map(count: columns, into: row) { row[$0] + b[$0] }
            }
        case (let s?, nil):
            for r in 0..<rows {
                let row = y + r * columns
                activation.map(count: columns, into: row) { row[$0] * s[$0] }
            }
        case (let s?, let b?):
            // Two passes over each row while it is in L1: with three pointers (the row, s, b)
            // the fused loop stayed scalar (LLVM gave up on its overlap checks; measured 3.4×
            // slower on the sigmoid MLP), and each of these loops vectorizes.
            for r in 0..<rows {
                let row = y + r * columns
                for i in 0..<columns { row[i] = row[i] * s[i] + b[i] }
                activation.forwardInPlace(row, count: columns)
            }
        }
    }

    /// y[n, c, s] = act(y[n, c, s]·scale[c] + bias[c]) for y (N, C, S), scale and bias (C)
    /// or nil (1 and 0): a convolution's epilogue in one pass.
    @inlinable
    public static func addChannelBias(
        _ y: UnsafeMutablePointer<Float>, batch: Int, channels: Int, spatial: Int, scale: UnsafePointer<Float>? = nil,
        bias: UnsafePointer<Float>?, activation: Activation
    ) {
        if scale == nil && bias == nil {
            activation.forwardInPlace(y, count: batch * channels * spatial)
            return
        }
        for n in 0..<batch {
            for c in 0..<channels {
                let p = y + (n * channels + c) * spatial
                let b = bias?[c] ?? 0
                if let scale {
                    let a = scale[c]
                    activation.map(count: spatial, into: p) { p[$0] * a + b }
                } else {
                    activation.map(count: spatial, into: p) { p[$0] + b }
                }
            }
        }
    }
}

extension Softmax {
    /// Softmax along the middle axis of x (outer, length, inner) row-major: for each outer
    /// index o and inner index i, p[o, :, i] = exp(x[o, :, i] − max) / Σ exp(…), or with
    /// `log` its logarithm, computed as x − max − log Σ exp(x − max). This is ONNX
    /// `Softmax`/`LogSoftmax(axis)` with outer = Π dims before axis, inner = Π dims after.
    /// In-place allowed.
    public static func forward(
        _ x: UnsafePointer<Float>, outer: Int, length: Int, inner: Int, into p: UnsafeMutablePointer<Float>,
        log: Bool = false
    ) {
        if inner == 1 && !log {
            forward(x, rows: outer, columns: length, into: p)
            return
        }
        for o in 0..<outer {
            let xo = x + o * length * inner, po = p + o * length * inner
            for i in 0..<inner {
                var mx = -Float.infinity
                for j in 0..<length { mx = max(mx, xo[j * inner + i]) }
                var total: Float = 0
                if log {
                    for j in 0..<length { total += expf(xo[j * inner + i] - mx) }
                    let shift = mx + logf(total)
                    for j in 0..<length { po[j * inner + i] = xo[j * inner + i] - shift }
                    continue
                }
                for j in 0..<length {
                    let e = expf(xo[j * inner + i] - mx)
                    po[j * inner + i] = e
                    total += e
                }
                let inv = 1 / total
                for j in 0..<length { po[j * inner + i] *= inv }
            }
        }
    }
}
