import BNCGraph
import BNCKernels

/// ONNX Neg: y = −x. Version 13 adds element types (bnc computes FLOAT).
struct Neg: ActivationOperator {
    static let type = "Neg"
    static let versions = [6, 13]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1) }
    let activation = Activation.neg
    init(_ node: NodeView) throws(ModelError) {}
}
