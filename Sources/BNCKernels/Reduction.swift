#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reductions of a row-major tensor over any set of its axes: ONNX `ReduceSum`,
/// `ReduceMean`, `ReduceMax`, `ReduceMin`, `ReduceProd`, `ReduceL1`, `ReduceL2`,
/// `ReduceSumSquare`, `ReduceLogSum`, `ReduceLogSumExp` (and the global pools, which are
/// a mean or max over the spatial axes).
///
/// The input is seen through a `Layout`: consecutive axes that are all reduced or all kept
/// merge into one, and size-1 axes drop out, so (N, C, H, W) over (H, W) is (N·C, H·W)
/// with the last axis reduced. The input is read once, in memory order: when the innermost
/// merged axis is reduced, each contiguous run reduces into one output (Σ by `Reduce.sum`,
/// several SIMD accumulators); when it is kept, each run combines elementwise into a run of
/// outputs. Sums accumulate in Float: the error of one output is at most about
/// (elements per output)·2⁻²⁴ relative to Σ|terms|.
///
/// Over an empty set of axes (ONNX's `noop_with_empty_axes`, or a scalar) each output is its
/// own element with the mode's map and finish applied (x², |x|, ln x, …), as onnxruntime
/// and the ONNX reference compute it.
public enum Reduction {
    public enum Mode: String, Sendable, CaseIterable {
        /// Σ x, Σ x / count, max, min, Π x, Σ |x|, √(Σ x²), Σ x², ln Σ x, ln Σ eˣ (computed as
        /// m + ln Σ e^(x − m) with m the maximum, so it does not overflow).
        case sum, mean, max, min, prod, l1, l2, sumSquare, logSum, logSumExp

        /// Whether reducing over no axes returns the input unchanged (the map is x).
        public var isIdentityOnOneElement: Bool {
            switch self {
            case .sum, .mean, .max, .min, .prod, .logSumExp: return true
            case .l1, .l2, .sumSquare, .logSum: return false
            }
        }
    }

    /// The merged view of a tensor and the axes reduced.
    public struct Layout: Sendable, Equatable {
        /// Merged dimensions, outermost first (no size-1 dimension; empty for one element).
        public let dims: [Int]
        public let reduced: [Bool]
        /// Output element strides along each merged dimension (0 along reduced ones).
        public let outputStrides: [Int]
        /// Elements of the input, of the output, and of the input per output.
        public let inputCount: Int, outputCount: Int, reducedCount: Int

        /// `shape` of the input; `axes[d]` whether dimension d is reduced.
        public init(shape: [Int], reduced axes: [Bool]) {
            precondition(shape.count == axes.count, "Reduction.Layout: \(axes.count) flags for rank \(shape.count)")
            var dims: [Int] = [], reduced: [Bool] = []
            for (n, r) in zip(shape, axes) where n != 1 {
                if let last = reduced.last, last == r {
                    dims[dims.count - 1] *= n
                } else {
                    dims.append(n)
                    reduced.append(r)
                }
            }
            var strides = [Int](repeating: 0, count: dims.count)
            var acc = 1
            for d in stride(from: dims.count - 1, through: 0, by: -1) where !reduced[d] {
                strides[d] = acc
                acc *= dims[d]
            }
            self.dims = dims
            self.reduced = reduced
            outputStrides = strides
            outputCount = acc
            inputCount = dims.reduce(1, *)
            reducedCount = inputCount / max(acc, 1)
        }
    }

    /// Floats of scratch `forward` needs (the sums of `logSumExp`).
    public static func scratchCount(_ mode: Mode, _ layout: Layout) -> Int {
        mode == .logSumExp ? layout.outputCount : 0
    }

    /// y (layout.outputCount) = the reduction of x (layout.inputCount). `scratch` holds
    /// `scratchCount` floats.
    public static func forward(
        _ mode: Mode, _ x: UnsafePointer<Float>, layout: Layout, into y: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let n = layout.outputCount
        switch mode {
        case .sum, .mean, .logSum:
            y.update(repeating: 0, count: n)
            walk(x, layout) { p, count, o in y[o] += Reduce.sum(p, count: count) } kept: { p, count, o in
                for j in 0..<count { y[o + j] += p[j] }
            }
            if mode == .mean {
                let r = Float(layout.reducedCount)
                for i in 0..<n { y[i] /= r }
            } else if mode == .logSum {
                for i in 0..<n { y[i] = logf(y[i]) }
            }
        case .sumSquare, .l2:
            y.update(repeating: 0, count: n)
            walk(x, layout) { p, count, o in
                var s: Float = 0
                for j in 0..<count { s += p[j] * p[j] }
                y[o] += s
            } kept: { p, count, o in
                for j in 0..<count { y[o + j] += p[j] * p[j] }
            }
            if mode == .l2 { for i in 0..<n { y[i] = y[i].squareRoot() } }
        case .l1:
            y.update(repeating: 0, count: n)
            walk(x, layout) { p, count, o in
                var s: Float = 0
                for j in 0..<count { s += Swift.abs(p[j]) }
                y[o] += s
            } kept: { p, count, o in
                for j in 0..<count { y[o + j] += Swift.abs(p[j]) }
            }
        case .prod:
            y.update(repeating: 1, count: n)
            walk(x, layout) { p, count, o in
                var s: Float = 1
                for j in 0..<count { s *= p[j] }
                y[o] *= s
            } kept: { p, count, o in
                for j in 0..<count { y[o + j] *= p[j] }
            }
        case .max, .logSumExp:
            y.update(repeating: -.infinity, count: n)
            walk(x, layout) { p, count, o in
                var m = y[o]
                for j in 0..<count { m = larger(m, p[j]) }
                y[o] = m
            } kept: { p, count, o in
                for j in 0..<count { y[o + j] = larger(y[o + j], p[j]) }
            }
            if mode == .logSumExp {
                // m + ln Σ e^(x − m); an infinite or NaN maximum shifts by 0 instead (all −∞
                // gives ln 0 = −∞, any +∞ gives +∞, a NaN stays NaN).
                let s = scratch
                s.update(repeating: 0, count: n)
                for i in 0..<n where !y[i].isFinite { y[i] = 0 }
                walk(x, layout) { p, count, o in
                    let m = y[o]
                    var t: Float = 0
                    for j in 0..<count { t += expf(p[j] - m) }
                    s[o] += t
                } kept: { p, count, o in
                    for j in 0..<count { s[o + j] += expf(p[j] - y[o + j]) }
                }
                for i in 0..<n { y[i] += logf(s[i]) }
            }
        case .min:
            y.update(repeating: .infinity, count: n)
            walk(x, layout) { p, count, o in
                var m = y[o]
                for j in 0..<count { m = smaller(m, p[j]) }
                y[o] = m
            } kept: { p, count, o in
                for j in 0..<count { y[o + j] = smaller(y[o + j], p[j]) }
            }
        }
    }

    /// The larger of two values; NaN wins (as the elementwise Max).
    @inlinable @inline(__always)
    static func larger(_ a: Float, _ b: Float) -> Float { b > a || b.isNaN ? b : a }

    @inlinable @inline(__always)
    static func smaller(_ a: Float, _ b: Float) -> Float { b < a || b.isNaN ? b : a }

    /// Walks x in memory order, one innermost run at a time: `reduce(run, count, o)` when the
    /// innermost merged axis is reduced (the whole run belongs to output o), `kept(run,
    /// count, o)` when it is kept (element j belongs to output o + j).
    @inline(__always)
    static func walk(
        _ x: UnsafePointer<Float>, _ layout: Layout, reduce: (UnsafePointer<Float>, Int, Int) -> Void,
        kept: (UnsafePointer<Float>, Int, Int) -> Void
    ) {
        let rank = layout.dims.count
        if rank == 0 {
            kept(x, 1, 0)
            return
        }
        // An empty input: every output keeps the reduction's identity (0 for sums, −∞ for
        // the maximum, …), the value of a reduction over an empty set.
        if layout.inputCount == 0 { return }
        let inner = layout.dims[rank - 1], innerReduced = layout.reduced[rank - 1]
        let runs = layout.inputCount / inner
        withUnsafeTemporaryAllocation(of: Int.self, capacity: rank) { index in
            index.initialize(repeating: 0)
            var o = 0
            for r in 0..<runs {
                let p = x + r * inner
                if innerReduced { reduce(p, inner, o) } else { kept(p, inner, o) }
                var d = rank - 2
                while d >= 0 {
                    index[d] += 1
                    o += layout.outputStrides[d]
                    if index[d] < layout.dims[d] { break }
                    o -= layout.outputStrides[d] * layout.dims[d]
                    index[d] = 0
                    d -= 1
                }
            }
        }
    }
}
