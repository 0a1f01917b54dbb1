import BNCGraph
import BNCKernels

/// ONNX Sigmoid: y = 1/(1 + e^−x).
struct Sigmoid: ActivationOperator {
    static let type = "Sigmoid"
    static let versions = [6, 13]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1) }
    let activation = Activation.sigmoid
    init(_ node: NodeView) throws(ModelError) {}
}
