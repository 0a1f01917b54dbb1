import BNCGraph
import BNCKernels

/// ONNX Gelu (version 20): y = x·Φ(x) = x/2·(1 + erf(x/√2)), or with `approximate = "tanh"`
/// x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³))). Older exports spell the exact form with Erf,
/// Mul, Add and Div, each of which bnc runs.
struct Gelu: ActivationOperator {
    static let type = "Gelu"
    static let versions = [20]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1, attributes: [.string("approximate", default: "none")]) }
    let activation: Activation
    init(_ node: NodeView) throws(ModelError) {
        activation = .gelu(tanh: try node.attributes.choice("approximate", ["none", "tanh"]) == "tanh")
    }
}
