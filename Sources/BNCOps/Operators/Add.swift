import BNCGraph
import BNCKernels

/// ONNX Add: c = a + b with multidirectional broadcasting (opset 7 on; versions 13 and 14
/// only add element types).
struct Add: BinaryOperator {
    static let type = "Add"
    static let versions = [7, 13, 14]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 2...2) }
    let operation = BinaryOperation.add
    init(_ node: NodeView) throws(ModelError) {}
    var foldRole: FoldRole { .affine(.add) }
    func integer(_ a: Int64, _ b: Int64) -> Int64? {
        let (v, o) = a.addingReportingOverflow(b)
        return o ? nil : v
    }
}
