import BNCGraph
import BNCKernels

/// ONNX Softplus: y = ln(eˣ + 1). Version 22 adds bfloat16.
struct Softplus: ActivationOperator {
    static let type = "Softplus"
    static let versions = [1, 22]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1) }
    let activation = Activation.softplus
    init(_ node: NodeView) throws(ModelError) {}
}
