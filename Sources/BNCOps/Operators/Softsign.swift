import BNCGraph
import BNCKernels

/// ONNX Softsign: y = x/(1 + |x|). Version 22 adds bfloat16.
struct Softsign: ActivationOperator {
    static let type = "Softsign"
    static let versions = [1, 22]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1) }
    let activation = Activation.softsign
    init(_ node: NodeView) throws(ModelError) {}
}
