import BNCGraph
import BNCKernels

/// ONNX Reciprocal: y = 1/x. Version 13 adds bfloat16.
struct Reciprocal: ActivationOperator {
    static let type = "Reciprocal"
    static let versions = [6, 13]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1) }
    let activation = Activation.reciprocal
    init(_ node: NodeView) throws(ModelError) {}
}
