import BNCGraph
import BNCKernels

/// ONNX Tanh: y = tanh(x).
struct Tanh: ActivationOperator {
    static let type = "Tanh"
    static let versions = [6, 13]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1) }
    let activation = Activation.tanh
    init(_ node: NodeView) throws(ModelError) {}
}
