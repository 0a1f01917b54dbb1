import BNCGraph
import BNCKernels

/// ONNX LogSoftmax: y = x − max − ln Σ e^(x − max) along the softmax axis, the logarithm of
/// Softmax computed without forming it. Axis rules as Softmax: from version 13 one `axis`
/// (default −1); versions 1 and 11 coerce the input to 2-D at `axis` (default 1). The
/// shape rule and the step are Softmax's.
struct LogSoftmax: Operator {
    static let type = "LogSoftmax"
    static let versions = Softmax.versions
    static func schema(_ version: Int) -> Schema { Softmax.schema(version) }
    let softmax: Softmax

    init(_ node: NodeView) throws(ModelError) { softmax = try Softmax(node) }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] { try softmax.outputs(inputs) }

    func lower(_ l: inout Lowering) throws(ModelError) {
        let (outer, length, inner, a) = try softmax.layout(l.inputs[0]!.shape, l.inputs)
        l.emit(SoftmaxStep(x: try l.value(0), y: l.output(), outer: outer, length: length, inner: inner,
                           perUnit: a >= 1, log: true))
    }
}
