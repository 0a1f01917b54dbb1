import BNCGraph
import BNCKernels

/// ONNX Round: y = x rounded to the nearest integer, halves to the even one (as numpy.round).
/// Version 22 adds bfloat16.
struct Round: ActivationOperator {
    static let type = "Round"
    static let versions = [11, 22]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1) }
    let activation = Activation.round
    init(_ node: NodeView) throws(ModelError) {}
}
