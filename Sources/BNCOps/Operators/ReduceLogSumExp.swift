import BNCGraph
import BNCKernels

/// ONNX ReduceLogSumExp: ln Σ eˣ over the axes, computed as m + ln Σ e^(x − m) with m the maximum.
/// Axes as the attribute `axes` before version 18, as input 1 from 18 (with
/// `noop_with_empty_axes`); 11 allows negative axes; 13, 28 change element types only. The rules
/// are `ReduceOperator`'s.
struct ReduceLogSumExp: ReduceOperator {
    static let type = "ReduceLogSumExp"
    static let versions = [1, 11, 13, 18, 28]
    static let mode = Reduction.Mode.logSumExp
    static let axesInputVersion = 18
    let reduce: ReduceAttributes
    init(reduce: ReduceAttributes) { self.reduce = reduce }
}
