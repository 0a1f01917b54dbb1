import BNCGraph

/// ONNX Cast: the input's values in the element type `to`. bnc casts between FLOAT, INT64,
/// INT32 and BOOL: integer and bool values are known while planning, and FLOAT to FLOAT at
/// run time is the input's memory. Float to integer truncates toward zero (a NaN, an
/// infinity or a value beyond the target's range is refused: ONNX leaves it undefined);
/// INT64 to INT32 keeps the low 32 bits; anything to BOOL is value ≠ 0; BOOL is 0 or 1.
/// Version 19 adds `saturate` and 24 `round_mode`, which apply to float 8 targets only (bnc
/// refuses those targets by name, like every other type).
struct Cast: Operator {
    static let type = "Cast"
    static let versions = [6, 9, 13, 19, 21, 23, 24, 25, 28]
    static func schema(_ version: Int) -> Schema {
        var attributes: [AttributeSpec] = [.int("to", required: true)]
        if version >= 19 { attributes.append(.int("saturate", default: 1)) }
        if version >= 24 { attributes.append(.string("round_mode", default: "up")) }
        return Schema(inputs: 1...1, attributes: attributes)
    }
    let to: ElementType

    init(_ node: NodeView) throws(ModelError) {
        let code = try node.attributes.int("to") ?? 0
        guard let c = Int32(exactly: code), let t = ElementType(dataType: c) else {
            throw node.fail(attribute: "to", "is \(Int32(exactly: code).map(DataType.name) ?? "code \(code)"); bnc casts to FLOAT, INT64, INT32 and BOOL", kind: .unsupportedDataType)
        }
        to = t
        try Cast.checkFloat8Attributes(node)
    }

    /// `saturate` and `round_mode` only concern float 8 targets; their values are still checked.
    static func checkFloat8Attributes(_ node: NodeView) throws(ModelError) {
        if node.schema.attribute("saturate") != nil { _ = try node.attributes.flag("saturate") }
        if node.schema.attribute("round_mode") != nil { _ = try node.attributes.choice("round_mode", ["up", "down", "nearest"]) }
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        [try Cast.convert(try inputs.value(0), to: to, inputs)]
    }

    /// `x` in element type `type`: contents converted when known; FLOAT to FLOAT otherwise.
    static func convert(_ x: PlanValue, to type: ElementType, _ inputs: Inputs) throws(ModelError) -> PlanValue {
        switch x.contents {
        case nil:
            // Run time: FLOAT → FLOAT is the memory; anything else is refused by the analysis.
            return PlanValue(shape: x.shape, type: type)
        case .floats(let v)?:
            switch type {
            case .float: return PlanValue(shape: x.shape, type: .float, contents: .floats(v))
            case .bool: return PlanValue(shape: x.shape, type: .bool, contents: .ints(v.map { $0 != 0 ? 1 : 0 }))
            case .int64, .int32:
                let limit: Float = type == .int32 ? 2_147_483_648 : 9_223_372_036_854_775_808
                var out: [Int64] = []
                out.reserveCapacity(v.count)
                for f in v {
                    guard f.isFinite, f >= -limit, f < limit else {
                        throw inputs.fail("casts \(f) to \(type.name): not a value of that type (ONNX leaves it undefined)", kind: .badValue)
                    }
                    out.append(Int64(f.rounded(.towardZero)))
                }
                return PlanValue(shape: x.shape, type: type, contents: .ints(out))
            }
        case .ints(let v)?:
            switch type {
            case .float: return PlanValue(shape: x.shape, type: .float, contents: .floats(v.map { Float($0) }))
            case .bool: return PlanValue(shape: x.shape, type: .bool, contents: .ints(v.map { $0 != 0 ? 1 : 0 }))
            case .int32: return PlanValue(shape: x.shape, type: .int32, contents: .ints(v.map { Int64(Int32(truncatingIfNeeded: $0)) }))
            case .int64: return PlanValue(shape: x.shape, type: .int64, contents: .ints(v))
            }
        }
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        guard l.inputs[0]?.type == .float, to == .float else {
            throw l.fail("casts run-time \(l.inputs[0]?.type.name ?? "?") data to \(to.name); bnc casts at run time only FLOAT to FLOAT")
        }
        l.alias()
    }
}
