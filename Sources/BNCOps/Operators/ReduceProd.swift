import BNCGraph
import BNCKernels

/// ONNX ReduceProd: the product over the axes. Axes as the attribute `axes` before version 18, as
/// input 1 from 18 (with `noop_with_empty_axes`); 11 allows negative axes; 13 change element types
/// only. The rules are `ReduceOperator`'s.
struct ReduceProd: ReduceOperator {
    static let type = "ReduceProd"
    static let versions = [1, 11, 13, 18]
    static let mode = Reduction.Mode.prod
    static let axesInputVersion = 18
    let reduce: ReduceAttributes
    init(reduce: ReduceAttributes) { self.reduce = reduce }
}
