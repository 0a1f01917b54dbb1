import BNCGraph
import BNCKernels

/// ONNX Relu: y = max(x, 0).
struct Relu: ActivationOperator {
    static let type = "Relu"
    static let versions = [6, 13, 14]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1) }
    let activation = Activation.relu
    init(_ node: NodeView) throws(ModelError) {}
}
