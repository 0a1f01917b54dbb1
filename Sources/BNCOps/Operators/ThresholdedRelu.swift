import BNCGraph
import BNCKernels

/// ONNX ThresholdedRelu: y = x > α ? x : 0, α default 1. Version 22 adds bfloat16.
struct ThresholdedRelu: ActivationOperator {
    static let type = "ThresholdedRelu"
    static let versions = [10, 22]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1, attributes: [.float("alpha", default: 1)]) }
    let activation: Activation
    init(_ node: NodeView) throws(ModelError) {
        activation = .thresholdedRelu(alpha: try node.attributes.finiteFloat("alpha"))
    }
}
