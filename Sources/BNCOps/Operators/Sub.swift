import BNCGraph
import BNCKernels

/// ONNX Sub: c = a − b with multidirectional broadcasting (version 7 on; 13 and 14 add
/// element types). Integers (shape arithmetic, while planning) must not overflow.
struct Sub: BinaryOperator {
    static let type = "Sub"
    static let versions = [7, 13, 14]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 2...2) }
    let operation = BinaryOperation.sub
    init(_ node: NodeView) throws(ModelError) {}
    var foldRole: FoldRole { .affine(.sub) }
    func integer(_ a: Int64, _ b: Int64) -> Int64? {
        let (v, o) = a.subtractingReportingOverflow(b)
        return o ? nil : v
    }
}
