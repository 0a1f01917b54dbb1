import BNCGraph
import BNCKernels

/// ONNX Mean: the elementwise sum of one or more inputs divided by their number. Version 6
/// needs inputs of one shape, 8 broadcasts multidirectionally, 13 adds bfloat16.
struct Mean: VariadicOperator {
    static let type = "Mean"
    static let versions = [6, 8, 13]
    static func schema(_ version: Int) -> Schema { variadicSchema(version) }
    let operation = BinaryOperation.add
    let isMean = true
    init(_ node: NodeView) throws(ModelError) {}
}
