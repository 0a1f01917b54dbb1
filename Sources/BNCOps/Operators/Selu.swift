import BNCGraph
import BNCKernels

/// ONNX Selu: y = x > 0 ? γ·x : γ·α·(eˣ − 1), with α ≈ 1.6733 and γ ≈ 1.0507 by default
/// (the Float32 values ONNX's schema gives). Version 22 adds bfloat16.
struct Selu: ActivationOperator {
    static let type = "Selu"
    static let versions = [6, 22]
    static func schema(_ version: Int) -> Schema {
        Schema(inputs: 1...1, attributes: [
            .float("alpha", default: 1.67326319217681884765625), .float("gamma", default: 1.05070102214813232421875),
        ])
    }
    let activation: Activation
    init(_ node: NodeView) throws(ModelError) {
        let a = node.attributes
        activation = .selu(alpha: try a.finiteFloat("alpha"), gamma: try a.finiteFloat("gamma"))
    }
}
