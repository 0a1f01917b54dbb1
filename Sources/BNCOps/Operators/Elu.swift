import BNCGraph
import BNCKernels

/// ONNX Elu: y = x < 0 ? α·(eˣ − 1) : x, α default 1. Version 22 adds bfloat16.
struct Elu: ActivationOperator {
    static let type = "Elu"
    static let versions = [6, 22]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1, attributes: [.float("alpha", default: 1)]) }
    let activation: Activation
    init(_ node: NodeView) throws(ModelError) {
        activation = .elu(alpha: try node.attributes.finiteFloat("alpha"))
    }
}
