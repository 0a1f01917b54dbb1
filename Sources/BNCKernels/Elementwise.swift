/// Bias additions, broadcasting and reductions over contiguous Float buffers.
///
/// Shape legend: N batch, K features, C channels, S = H·W spatial positions.
public enum Elementwise {
    /// y[n, k] += bias[k] for y (N, K) row-major, bias (K).
    @inlinable
    public static func addRowBias(_ y: UnsafeMutablePointer<Float>, rows: Int, columns: Int, bias: UnsafePointer<Float>) {
        addRowBias(y, rows: rows, columns: columns, bias: bias, activation: .identity)
    }

    /// y[n, c, s] += bias[c] for y (N, C, S), bias (C).
    @inlinable
    public static func addChannelBias(
        _ y: UnsafeMutablePointer<Float>, batch: Int, channels: Int, spatial: Int, bias: UnsafePointer<Float>
    ) {
        addChannelBias(y, batch: batch, channels: channels, spatial: spatial, bias: bias, activation: .identity)
    }

    /// sums[k] = Σ_n x[n, k] (overwrites) for x (N, K).
    @inlinable
    public static func sumRows(_ x: UnsafePointer<Float>, rows: Int, columns: Int, into sums: UnsafeMutablePointer<Float>) {
        sums.update(repeating: 0, count: columns)
        for r in 0..<rows {
            let row = x + r * columns
            for k in 0..<columns { sums[k] += row[k] }
        }
    }

    /// sums[c] = Σ_{n,s} x[n, c, s] (overwrites) for x (N, C, S).
    @inlinable
    public static func sumChannels(
        _ x: UnsafePointer<Float>, batch: Int, channels: Int, spatial: Int, into sums: UnsafeMutablePointer<Float>
    ) {
        for c in 0..<channels {
            var total: Float = 0
            for n in 0..<batch {
                total += Reduce.sum(x + (n * channels + c) * spatial, count: spatial)
            }
            sums[c] = total
        }
    }

    /// y = a + b with NumPy/ONNX multidirectional broadcasting.
    ///
    /// `aShape`, `bShape` and `outShape` have the same rank (callers left-pad with 1s);
    /// each dimension of a and b is either 1 or the output's. Row-major everywhere.
    public static func broadcastAdd(
        _ a: UnsafePointer<Float>, shape aShape: [Int], _ b: UnsafePointer<Float>, shape bShape: [Int],
        into y: UnsafeMutablePointer<Float>, shape outShape: [Int]
    ) {
        let rank = outShape.count
        precondition(aShape.count == rank && bShape.count == rank, "broadcastAdd: ranks differ")
        for d in 0..<rank {
            precondition(aShape[d] == outShape[d] || aShape[d] == 1, "broadcastAdd: a dim \(d)")
            precondition(bShape[d] == outShape[d] || bShape[d] == 1, "broadcastAdd: b dim \(d)")
        }
        let total = outShape.reduce(1, *)
        if total == 0 { return }
        if aShape == outShape && bShape == outShape {
            for i in 0..<total { y[i] = a[i] + b[i] }
            return
        }
        // Strides (0 on broadcast dimensions).
        func strides(_ shape: [Int]) -> [Int] {
            var s = [Int](repeating: 0, count: rank)
            var acc = 1
            for d in stride(from: rank - 1, through: 0, by: -1) {
                s[d] = shape[d] == 1 && outShape[d] != 1 ? 0 : acc
                acc *= shape[d]
            }
            return s
        }
        let sa = strides(aShape), sb = strides(bShape)
        if rank == 0 {
            y[0] = a[0] + b[0]
            return
        }
        // Iterate over all but the last dimension with an odometer; inner loop over the last.
        let inner = outShape[rank - 1]
        let ia = sa[rank - 1], ib = sb[rank - 1]
        var index = [Int](repeating: 0, count: rank)
        var offA = 0, offB = 0, offY = 0
        while true {
            for j in 0..<inner { y[offY + j] = a[offA + j * ia] + b[offB + j * ib] }
            offY += inner
            var d = rank - 2
            while d >= 0 {
                index[d] += 1
                offA += sa[d]
                offB += sb[d]
                if index[d] < outShape[d] { break }
                offA -= sa[d] * outShape[d]
                offB -= sb[d] * outShape[d]
                index[d] = 0
                d -= 1
            }
            if d < 0 { return }
        }
    }
}
