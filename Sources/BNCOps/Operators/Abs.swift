import BNCGraph
import BNCKernels

/// ONNX Abs: y = |x|. Version 13 adds element types (bnc computes FLOAT).
struct Abs: ActivationOperator {
    static let type = "Abs"
    static let versions = [6, 13]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1) }
    let activation = Activation.abs
    init(_ node: NodeView) throws(ModelError) {}
}
