import BNCGraph
import BNCKernels

/// ONNX Ceil: y = ⌈x⌉. Version 13 adds bfloat16.
struct Ceil: ActivationOperator {
    static let type = "Ceil"
    static let versions = [6, 13]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1) }
    let activation = Activation.ceil
    init(_ node: NodeView) throws(ModelError) {}
}
