import BNCGraph
import BNCKernels

/// ONNX Mul: c = a·b with multidirectional broadcasting (version 7 on; 13 and 14 add
/// element types). Integers (shape arithmetic, while planning) must not overflow.
struct Mul: BinaryOperator {
    static let type = "Mul"
    static let versions = [7, 13, 14]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 2...2) }
    let operation = BinaryOperation.mul
    init(_ node: NodeView) throws(ModelError) {}
    var foldRole: FoldRole { .affine(.mul) }
    func integer(_ a: Int64, _ b: Int64) -> Int64? {
        let (v, o) = a.multipliedReportingOverflow(by: b)
        return o ? nil : v
    }
}
