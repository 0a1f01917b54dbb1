#if canImport(Glibc)
import Glibc
#endif

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

    /// y = a ∘ b for `op` with NumPy/ONNX multidirectional broadcasting: a and b are read
    /// with element strides `aStrides`, `bStrides` (0 along broadcast dimensions, see
    /// `Broadcast.strides`) over the output shape `shape`; y is contiguous. Scalars have
    /// shape [].
    public static func binary(
        _ op: BinaryOperation, _ a: UnsafePointer<Float>, strides aStrides: [Int], _ b: UnsafePointer<Float>,
        strides bStrides: [Int], into y: UnsafeMutablePointer<Float>, shape: [Int]
    ) {
        let rank = shape.count
        precondition(aStrides.count == rank && bStrides.count == rank, "Elementwise.binary: ranks differ")
        let total = shape.reduce(1, *)
        if total == 0 { return }
        if rank == 0 {
            op.map(count: 1, into: y, a, 0, b, 0)
            return
        }
        // An odometer over all but the last dimension; one vectorizable run along the last.
        let inner = shape[rank - 1]
        let ia = aStrides[rank - 1], ib = bStrides[rank - 1]
        var index = [Int](repeating: 0, count: rank)
        var offA = 0, offB = 0, offY = 0
        while true {
            op.map(count: inner, into: y + offY, a + offA, ia, b + offB, ib)
            offY += inner
            var d = rank - 2
            while d >= 0 {
                index[d] += 1
                offA += aStrides[d]
                offB += bStrides[d]
                if index[d] < shape[d] { break }
                offA -= aStrides[d] * shape[d]
                offB -= bStrides[d] * shape[d]
                index[d] = 0
                d -= 1
            }
            if d < 0 { return }
        }
    }
}

/// The elementwise binary operations of ONNX (`Add`, `Sub`, `Mul`, `Div`, `Max`, `Min`,
/// `PRelu`, `Pow`) on Float32, with IEEE semantics (Max/Min propagate NaN, as onnxruntime).
public enum BinaryOperation: String, Sendable, Equatable, CaseIterable {
    case add, sub, mul, div, max, min
    /// x < 0 ? slope·x : x (a is x, b is the slope).
    case prelu
    case pow

    /// x ∘ y for one pair (the same code as `map`).
    @inlinable
    public func apply(_ x: Float, _ y: Float) -> Float {
        var (a, b, out) = (x, y, Float(0))
        withUnsafePointer(to: &a) { pa in
            withUnsafePointer(to: &b) { pb in
                withUnsafeMutablePointer(to: &out) { map(count: 1, into: $0, pa, 1, pb, 1) }
            }
        }
        return out
    }

    /// y[i] = a[i·sa] ∘ b[i·sb] for i in 0..<count: one loop per operation and stride
    /// pattern, so that each vectorizes.
    @inlinable
    public func map(
        count n: Int, into y: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ sa: Int,
        _ b: UnsafePointer<Float>, _ sb: Int
    ) {
        switch self {
        case .add: Self.run(n, y, a, sa, b, sb) { $0 + $1 }
        case .sub: Self.run(n, y, a, sa, b, sb) { $0 - $1 }
        case .mul: Self.run(n, y, a, sa, b, sb) { $0 * $1 }
        case .div: Self.run(n, y, a, sa, b, sb) { $0 / $1 }
        case .max: Self.run(n, y, a, sa, b, sb) { $0.isNaN || $1.isNaN ? .nan : Swift.max($0, $1) }
        case .min: Self.run(n, y, a, sa, b, sb) { $0.isNaN || $1.isNaN ? .nan : Swift.min($0, $1) }
        case .prelu: Self.run(n, y, a, sa, b, sb) { $0 < 0 ? $1 * $0 : $0 }
        case .pow: Self.run(n, y, a, sa, b, sb) { powf($0, $1) }
        }
    }

    @inlinable @inline(__always)
    static func run(
        _ n: Int, _ y: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ sa: Int,
        _ b: UnsafePointer<Float>, _ sb: Int, _ f: (Float, Float) -> Float
    ) {
        switch (sa, sb) {
        case (1, 1): for i in 0..<n { y[i] = f(a[i], b[i]) }
        case (1, 0): let bv = b[0]; for i in 0..<n { y[i] = f(a[i], bv) }
        case (0, 1): let av = a[0]; for i in 0..<n { y[i] = f(av, b[i]) }
        default: for i in 0..<n { y[i] = f(a[i * sa], b[i * sb]) }
        }
    }
}
