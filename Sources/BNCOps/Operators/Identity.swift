import BNCGraph

/// ONNX Identity: the output is the input (any type; the executor aliases its memory).
struct Identity: Operator {
    static let type = "Identity"
    static let versions = [1, 13, 14, 16, 19, 21, 23, 24, 25]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1) }
    var foldRole: FoldRole { .transparent }
    init(_ node: NodeView) throws(ModelError) {}

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] { [try inputs.value(0)] }

    func lower(_ l: inout Lowering) throws(ModelError) { l.alias() }
}
