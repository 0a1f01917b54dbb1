import BNCGraph

/// ONNX CastLike: Cast to the element type of input 1 (`target_type`, whose values are not
/// read), with Cast's rules. Version 19 adds `saturate` and 24 `round_mode` (float 8 only,
/// as for Cast).
struct CastLike: Operator {
    static let type = "CastLike"
    static let versions = [15, 19, 21, 23, 24, 25]
    static func schema(_ version: Int) -> Schema {
        var attributes: [AttributeSpec] = []
        if version >= 19 { attributes.append(.int("saturate", default: 1)) }
        if version >= 24 { attributes.append(.string("round_mode", default: "up")) }
        return Schema(inputs: 2...2, attributes: attributes)
    }
    static var contentsUnusedByLowering: Set<Int> { [1] }
    static var typeOnlyInputs: Set<Int> { [1] }

    init(_ node: NodeView) throws(ModelError) {
        try Cast.checkFloat8Attributes(node)
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        [try Cast.convert(try inputs.value(0), to: try inputs.value(1).type, inputs)]
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        guard l.inputs[0]?.type == .float, l.inputs[1]?.type == .float else {
            throw l.fail("casts run-time \(l.inputs[0]?.type.name ?? "?") data to \(l.inputs[1]?.type.name ?? "?"); bnc casts at run time only FLOAT to FLOAT")
        }
        l.alias()
    }
}
