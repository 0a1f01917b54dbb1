import BNCGraph
import BNCKernels

/// ONNX ReduceSumSquare: Σ x² over the axes. Axes as the attribute `axes` before version 18, as
/// input 1 from 18 (with `noop_with_empty_axes`); 11 allows negative axes; 13 change element types
/// only. The rules are `ReduceOperator`'s.
struct ReduceSumSquare: ReduceOperator {
    static let type = "ReduceSumSquare"
    static let versions = [1, 11, 13, 18]
    static let mode = Reduction.Mode.sumSquare
    static let axesInputVersion = 18
    let reduce: ReduceAttributes
    init(reduce: ReduceAttributes) { self.reduce = reduce }
}
