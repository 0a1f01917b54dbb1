import BNCGraph
import BNCKernels

/// ONNX Max: the elementwise maximum of one or more inputs (NaN if any is NaN). Version 6
/// needs inputs of one shape, 8 broadcasts multidirectionally, 12 and 13 add element types
/// (integers are computed while planning).
struct Max: VariadicOperator {
    static let type = "Max"
    static let versions = [6, 8, 12, 13]
    static func schema(_ version: Int) -> Schema { variadicSchema(version) }
    let operation = BinaryOperation.max
    var integer: ((Int64, Int64) -> Int64?)? { { Swift.max($0, $1) } }
    static let integersSince = 12
    init(_ node: NodeView) throws(ModelError) {}
}
