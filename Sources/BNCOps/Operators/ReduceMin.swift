import BNCGraph
import BNCKernels

/// ONNX ReduceMin: the smallest value over the axes (NaN if any is NaN). Axes as the attribute
/// `axes` before version 18, as input 1 from 18 (with `noop_with_empty_axes`); 11 allows negative
/// axes; 12, 13, 20 change element types only. The rules are `ReduceOperator`'s.
struct ReduceMin: ReduceOperator {
    static let type = "ReduceMin"
    static let versions = [1, 11, 12, 13, 18, 20]
    static let mode = Reduction.Mode.min
    static let axesInputVersion = 18
    let reduce: ReduceAttributes
    init(reduce: ReduceAttributes) { self.reduce = reduce }
}
