import BNCGraph
import BNCKernels

/// ONNX ReduceMax: the largest value over the axes (NaN if any is NaN). Axes as the attribute
/// `axes` before version 18, as input 1 from 18 (with `noop_with_empty_axes`); 11 allows negative
/// axes; 12, 13, 20 change element types only. The rules are `ReduceOperator`'s.
struct ReduceMax: ReduceOperator {
    static let type = "ReduceMax"
    static let versions = [1, 11, 12, 13, 18, 20]
    static let mode = Reduction.Mode.max
    static let axesInputVersion = 18
    let reduce: ReduceAttributes
    init(reduce: ReduceAttributes) { self.reduce = reduce }
}
