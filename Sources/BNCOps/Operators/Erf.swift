import BNCGraph
import BNCKernels

/// ONNX Erf: y = erf(x) (in GELU exports, x·(1 + erf(x/√2))/2). Version 13 adds bfloat16.
struct Erf: ActivationOperator {
    static let type = "Erf"
    static let versions = [9, 13]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1) }
    let activation = Activation.erf
    init(_ node: NodeView) throws(ModelError) {}
}
