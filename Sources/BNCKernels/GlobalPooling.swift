/// Global pooling (ONNX `GlobalAveragePool`, `GlobalMaxPool`): one value per (N·C) plane of
/// any number of spatial dimensions. Shapes: x (planes, S), y (planes).
public enum GlobalPooling {
    /// y[p] = Σ x[p, ·] / S (`Reduce.sum`, then one division). Many planes split over the
    /// cores unless `parallel` is false; each plane is summed by one core, so results do not
    /// depend on the split.
    public static func average(
        planes: Int, spatial s: Int, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>,
        parallel: Bool = true
    ) {
        let split = parallel && planes * s >= BatchNorm.parallelThreshold
        let count = Float(s)
        Parallel.forEachSlice(split) { slice in
            for p in Parallel.range(slice, of: planes, split: split) {
                y[p] = Reduce.sum(x + p * s, count: s) / count
            }
        }
    }

    /// y[p] = max x[p, ·]; a NaN in the plane gives NaN (as `MaxPooling`).
    public static func maximum(
        planes: Int, spatial s: Int, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>,
        parallel: Bool = true
    ) {
        let split = parallel && planes * s >= BatchNorm.parallelThreshold
        Parallel.forEachSlice(split) { slice in
            for p in Parallel.range(slice, of: planes, split: split) {
                let xp = x + p * s
                var best = xp[0]
                for i in 1..<max(1, s) {
                    let v = xp[i]
                    if v > best || (v.isNaN && !best.isNaN) { best = v }
                }
                y[p] = best
            }
        }
    }
}
