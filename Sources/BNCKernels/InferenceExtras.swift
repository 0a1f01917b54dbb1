#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Forward kernels the graph executor needs beyond the training set (added by the runtime
// work; same conventions as the rest of BNCKernels: contiguous row-major Float buffers).

extension Elementwise {
    /// y[n, k] = act(y[n, k] + bias[k]) for y (N, K) row-major, bias (K): a Gemm's bias and
    /// the activation after it in one pass. bias nil means no bias.
    @inlinable
    public static func addRowBias(
        _ y: UnsafeMutablePointer<Float>, rows: Int, columns: Int, bias: UnsafePointer<Float>?, activation: Activation
    ) {
        guard let bias else {
            activation.forwardInPlace(y, count: rows * columns)
            return
        }
        for r in 0..<rows {
            let row = y + r * columns
            activation.map(count: columns, into: row) { row[$0] + bias[$0] }
        }
    }

    /// y[n, c, s] = act(y[n, c, s] + bias[c]) for y (N, C, S), bias (C) or nil (0): a
    /// convolution's bias and activation in one pass.
    @inlinable
    public static func addChannelBias(
        _ y: UnsafeMutablePointer<Float>, batch: Int, channels: Int, spatial: Int, bias: UnsafePointer<Float>?,
        activation: Activation
    ) {
        guard let bias else {
            activation.forwardInPlace(y, count: batch * channels * spatial)
            return
        }
        for n in 0..<batch {
            for c in 0..<channels {
                let p = y + (n * channels + c) * spatial
                let b = bias[c]
                activation.map(count: spatial, into: p) { p[$0] + b }
            }
        }
    }
}

extension Softmax {
    /// Softmax along the middle axis of x (outer, length, inner) row-major: for each outer
    /// index o and inner index i, p[o, :, i] = exp(x[o, :, i] − max) / Σ exp(…). This is ONNX
    /// `Softmax(axis)` (opset ≥ 13) with outer = Π dims before axis, inner = Π dims after.
    /// inner = 1 is `forward(_:rows:columns:into:)`. In-place allowed.
    public static func forward(
        _ x: UnsafePointer<Float>, outer: Int, length: Int, inner: Int, into p: UnsafeMutablePointer<Float>
    ) {
        if inner == 1 {
            forward(x, rows: outer, columns: length, into: p)
            return
        }
        for o in 0..<outer {
            let xo = x + o * length * inner, po = p + o * length * inner
            for i in 0..<inner {
                var mx = -Float.infinity
                for j in 0..<length { mx = max(mx, xo[j * inner + i]) }
                var total: Float = 0
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
