import BNCGraph
import BNCKernels

/// ONNX HardSwish: y = x·max(0, min(1, x/6 + 1/2)) (MobileNetV3). Version 22 adds bfloat16.
struct HardSwish: ActivationOperator {
    static let type = "HardSwish"
    static let versions = [14, 22]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1) }
    let activation = Activation.hardSwish
    init(_ node: NodeView) throws(ModelError) {}
}
