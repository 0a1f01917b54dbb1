import BNCGraph

/// ONNX Constant: a value known while planning. Versions 1 and 9 take the tensor `value`;
/// 11 adds `sparse_value`; 12 adds `value_float`, `value_floats`, `value_int`, `value_ints`
/// (a scalar or 1-D FLOAT or INT64), `value_string` and `value_strings`. Exactly one is
/// given; sparse and string constants are refused by name.
struct Constant: Operator {
    static let type = "Constant"
    static let versions = [1, 9, 11, 12, 13, 19, 21, 23, 24, 25]
    static func schema(_ version: Int) -> Schema {
        var attributes: [AttributeSpec] = [.tensor("value", required: version < 11)]
        if version >= 11 { attributes.append(AttributeSpec("sparse_value", .sparseTensor)) }
        if version >= 12 {
            attributes += [
                .float("value_float"), .floats("value_floats"), AttributeSpec("value_int", .int), .ints("value_ints"),
                .string("value_string"), AttributeSpec("value_strings", .strings),
            ]
        }
        return Schema(inputs: 0...0, attributes: attributes)
    }
    let value: PlanValue

    init(_ node: NodeView) throws(ModelError) {
        let given = node.schema.attributes.map(\.name).filter { node.attributes.has($0) }
        guard given.count == 1, let name = given.first else {
            throw node.fail("has \(given.isEmpty ? "none" : given.joined(separator: ", ")) of its value attributes; Constant takes exactly one", kind: .badValue)
        }
        let a = node.attributes
        switch name {
        case "value":
            guard let t = try a.tensor("value") else { throw node.fail(attribute: name, "is missing", kind: .missingField) }
            guard let n = Tensor.checkedElementCount(t.dims), n <= PlanValue.maximumConstantElements else {
                throw node.fail(attribute: name, "has shape \(shapeText(t.dims)); bnc holds at most \(PlanValue.maximumConstantElements) elements while planning", kind: .badValue)
            }
            guard let v = PlanValue(t) else {
                throw node.fail(attribute: name, "has element type \(DataType.name(t.dataType)); bnc handles FLOAT, INT64, INT32 and BOOL", kind: .unsupportedDataType)
            }
            value = v
        case "value_float": value = PlanValue(shape: [], floats: [try a.float(name) ?? 0])
        case "value_floats":
            let f = try a.floats(name) ?? []
            value = PlanValue(shape: [f.count], floats: f)
        case "value_int": value = PlanValue(shape: [], ints: [try a.int(name) ?? 0])
        case "value_ints":
            let i = try a.ints(name) ?? []
            value = PlanValue(shape: [i.count], ints: i)
        default:
            throw node.fail(attribute: name, "is a \(name == "sparse_value" ? "sparse" : "string") constant; bnc handles dense FLOAT, INT64, INT32 and BOOL values (Constant-\(node.version))", kind: .unsupportedOperator)
        }
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] { [value] }

    func lower(_ l: inout Lowering) throws(ModelError) {
        throw l.fail("a Constant has no run-time step")
    }
}
