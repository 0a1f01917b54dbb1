import BNCGraph
import BNCKernels

/// ONNX Exp: y = eˣ. Version 13 adds bfloat16.
struct Exp: ActivationOperator {
    static let type = "Exp"
    static let versions = [6, 13]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1) }
    let activation = Activation.exp
    init(_ node: NodeView) throws(ModelError) {}
}
