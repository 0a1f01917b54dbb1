import BNCGraph
import BNCKernels

/// ONNX Swish (version 24): y = x·σ(α·x), α default 1 (SiLU). Older exports spell it
/// Mul(x, Sigmoid(x)), which the planner fuses into the same one pass.
struct Swish: ActivationOperator {
    static let type = "Swish"
    static let versions = [24]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1, attributes: [.float("alpha", default: 1)]) }
    let activation: Activation
    init(_ node: NodeView) throws(ModelError) {
        activation = .swish(alpha: try node.attributes.finiteFloat("alpha"))
    }
}
