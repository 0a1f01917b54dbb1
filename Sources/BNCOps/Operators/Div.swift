import BNCGraph
import BNCKernels

/// ONNX Div: c = a / b with multidirectional broadcasting (version 7 on; 13 and 14 add
/// element types). Integer division (shape arithmetic, while planning) truncates toward
/// zero, as onnxruntime and the ONNX reference do (−7 / 2 = −3); division by zero and
/// Int.min / −1 are refused.
struct Div: BinaryOperator {
    static let type = "Div"
    static let versions = [7, 13, 14]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 2...2) }
    let operation = BinaryOperation.div
    init(_ node: NodeView) throws(ModelError) {}
    var foldRole: FoldRole { .affine(.div) }
    func integer(_ a: Int64, _ b: Int64) -> Int64? {
        guard b != 0 else { return nil }
        let (v, o) = a.dividedReportingOverflow(by: b)
        return o ? nil : v
    }
}
