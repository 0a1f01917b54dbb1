import BNCGraph
import BNCKernels

/// ONNX HardSigmoid: y = max(0, min(1, α·x + β)), α default 0.2, β default 0.5. Version 22
/// adds bfloat16.
struct HardSigmoid: ActivationOperator {
    static let type = "HardSigmoid"
    static let versions = [6, 22]
    static func schema(_ version: Int) -> Schema {
        Schema(inputs: 1...1, attributes: [.float("alpha", default: 0.2), .float("beta", default: 0.5)])
    }
    let activation: Activation
    init(_ node: NodeView) throws(ModelError) {
        let a = node.attributes
        activation = .hardSigmoid(alpha: try a.finiteFloat("alpha"), beta: try a.finiteFloat("beta"))
    }
}
