import BNCGraph
import BNCKernels

/// ONNX Mish: y = x·tanh(softplus(x)). Version 22 adds bfloat16.
struct Mish: ActivationOperator {
    static let type = "Mish"
    static let versions = [18, 22]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1) }
    let activation = Activation.mish
    init(_ node: NodeView) throws(ModelError) {}
}
