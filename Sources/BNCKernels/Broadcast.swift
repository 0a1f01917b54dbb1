/// NumPy/ONNX broadcasting: the one place its shape rule and its strides are computed
/// (used by the operators' shape rules and by the elementwise kernels).
///
/// Multidirectional: shapes are right-aligned; each dimension pair must be equal or one of
/// them 1; the result takes the larger. Unidirectional (Gemm's C, PRelu's slope): the
/// second shape must broadcast to the first without changing it.
public enum Broadcast {
    /// The multidirectional result of `a` and `b`, or nil when they do not broadcast.
    public static func shape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let r = max(a.count, b.count)
        var out = [Int](repeating: 1, count: r)
        for i in 0..<r {
            let da = i < r - a.count ? 1 : a[i - (r - a.count)]
            let db = i < r - b.count ? 1 : b[i - (r - b.count)]
            if da == db || db == 1 {
                out[i] = da
            } else if da == 1 {
                out[i] = db
            } else {
                return nil
            }
        }
        return out
    }

    /// The multidirectional result of several shapes (Sum, Max, Mean, …).
    public static func shape(_ shapes: [[Int]]) -> [Int]? {
        guard var out = shapes.first else { return nil }
        for s in shapes.dropFirst() {
            guard let o = shape(out, s) else { return nil }
            out = o
        }
        return out
    }

    /// Whether `small` broadcasts to `target` without changing it (unidirectional).
    public static func fits(_ small: [Int], into target: [Int]) -> Bool {
        shape(target, small) == target
    }

    /// Element strides of a tensor of `shape` read as `out` (right-aligned, rank of `out`):
    /// 0 along broadcast dimensions.
    public static func strides(_ shape: [Int], to out: [Int]) -> [Int] {
        let r = out.count, lead = r - shape.count
        precondition(lead >= 0, "Broadcast.strides: rank \(shape.count) above \(r)")
        var s = [Int](repeating: 0, count: r)
        var acc = 1
        for d in stride(from: r - 1, through: lead, by: -1) {
            let size = shape[d - lead]
            s[d] = size == 1 && out[d] != 1 ? 0 : acc
            acc *= size
        }
        return s
    }

    /// When `shape`, broadcast to `out`, varies along one axis only (all its other
    /// dimensions 1, the axis ≥ `minimumAxis`): (outer, channels, inner) of `out` around
    /// that axis. A scalar or all-1 shape gives the last axis with its value repeated by
    /// the caller. Nil otherwise. This is the "per-channel constant" that folds into an
    /// affine step.
    public static func singleAxis(_ shape: [Int], in out: [Int], minimumAxis: Int = 0) -> (outer: Int, channels: Int, inner: Int, axis: Int)? {
        guard shape.count <= out.count, !out.isEmpty else { return nil }
        let padded = Array(repeating: 1, count: out.count - shape.count) + shape
        let varying = padded.indices.filter { padded[$0] != 1 }
        let axis: Int
        if varying.isEmpty {
            axis = out.count - 1
        } else if varying.count == 1, padded[varying[0]] == out[varying[0]] {
            axis = varying[0]
        } else {
            return nil
        }
        guard axis >= minimumAxis else { return nil }
        return (out[..<axis].reduce(1, *), out[axis], out[(axis + 1)...].reduce(1, *), axis)
    }
}
