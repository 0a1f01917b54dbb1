import BNCGraph
import BNCKernels

/// ONNX Sum: the elementwise sum of one or more inputs (ResNet's residual joins). Version 6
/// needs inputs of one shape, 8 broadcasts multidirectionally, 13 adds bfloat16.
struct Sum: VariadicOperator {
    static let type = "Sum"
    static let versions = [6, 8, 13]
    static func schema(_ version: Int) -> Schema { variadicSchema(version) }
    let operation = BinaryOperation.add
    init(_ node: NodeView) throws(ModelError) {}
}
