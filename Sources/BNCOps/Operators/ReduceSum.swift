import BNCGraph
import BNCKernels

/// ONNX ReduceSum: the sum over the axes. Axes as the attribute `axes` before version 13, as input
/// 1 from 13 (with `noop_with_empty_axes`); 11 allows negative axes. The rules are
/// `ReduceOperator`'s.
struct ReduceSum: ReduceOperator {
    static let type = "ReduceSum"
    static let versions = [1, 11, 13]
    static let mode = Reduction.Mode.sum
    static let axesInputVersion = 13
    let reduce: ReduceAttributes
    init(reduce: ReduceAttributes) { self.reduce = reduce }
}
