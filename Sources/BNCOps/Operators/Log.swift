import BNCGraph
import BNCKernels

/// ONNX Log: y = ln x (NaN for x < 0, −∞ at 0). Version 13 adds bfloat16.
struct Log: ActivationOperator {
    static let type = "Log"
    static let versions = [6, 13]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1) }
    let activation = Activation.log
    init(_ node: NodeView) throws(ModelError) {}
}
