import BNCGraph
import BNCKernels

/// ONNX LeakyRelu: y = x < 0 ? α·x : x, α default 0.01. Version 16 adds bfloat16.
struct LeakyRelu: ActivationOperator {
    static let type = "LeakyRelu"
    static let versions = [6, 16]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1, attributes: [.float("alpha", default: 0.01)]) }
    let activation: Activation
    init(_ node: NodeView) throws(ModelError) {
        activation = .leakyRelu(alpha: try node.attributes.finiteFloat("alpha"))
    }
}
