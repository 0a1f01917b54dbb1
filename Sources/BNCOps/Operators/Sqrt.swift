import BNCGraph
import BNCKernels

/// ONNX Sqrt: y = √x (NaN for x < 0). Version 13 adds bfloat16.
struct Sqrt: ActivationOperator {
    static let type = "Sqrt"
    static let versions = [6, 13]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1) }
    let activation = Activation.sqrt
    init(_ node: NodeView) throws(ModelError) {}
}
