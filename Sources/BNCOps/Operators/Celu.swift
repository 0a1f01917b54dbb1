import BNCGraph
import BNCKernels

/// ONNX Celu: y = max(0, x) + min(0, α·(e^(x/α) − 1)), α default 1 (α = 0 is undefined and
/// refused). Version 28 adds element types.
struct Celu: ActivationOperator {
    static let type = "Celu"
    static let versions = [12, 28]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1, attributes: [.float("alpha", default: 1)]) }
    let activation: Activation
    init(_ node: NodeView) throws(ModelError) {
        let alpha = try node.attributes.finiteFloat("alpha")
        guard alpha != 0 else { throw node.fail(attribute: "alpha", "is 0; Celu divides by it", kind: .badValue) }
        activation = .celu(alpha: alpha)
    }
}
