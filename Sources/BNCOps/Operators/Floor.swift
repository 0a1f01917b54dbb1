import BNCGraph
import BNCKernels

/// ONNX Floor: y = ⌊x⌋. Version 13 adds bfloat16.
struct Floor: ActivationOperator {
    static let type = "Floor"
    static let versions = [6, 13]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1) }
    let activation = Activation.floor
    init(_ node: NodeView) throws(ModelError) {}
}
