import BNCGraph
import BNCKernels

/// ONNX Sign: y = 1, 0 or −1 by the sign of x (NaN stays NaN). Version 13 adds bfloat16.
struct Sign: ActivationOperator {
    static let type = "Sign"
    static let versions = [9, 13]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1) }
    let activation = Activation.sign
    init(_ node: NodeView) throws(ModelError) {}
}
