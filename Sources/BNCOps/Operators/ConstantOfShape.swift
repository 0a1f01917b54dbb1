import BNCGraph

/// ONNX ConstantOfShape: a tensor of the shape given by input 0 (1-D INT64, known while
/// planning; empty gives a scalar, a 0 an empty tensor) filled with the one element of the
/// `value` attribute (default a FLOAT 0), whose element type the output takes. Versions 20
/// to 25 only add element types.
struct ConstantOfShape: Operator {
    static let type = "ConstantOfShape"
    static let versions = [9, 20, 21, 23, 24, 25]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1, attributes: [.tensor("value")]) }
    let fill: PlanValue

    init(_ node: NodeView) throws(ModelError) {
        guard let t = try node.attributes.tensor("value") else {
            fill = PlanValue(shape: [1], floats: [0])
            return
        }
        guard t.count == 1, let v = PlanValue(t) else {
            throw node.fail(attribute: "value", "has \(t.count) elements of \(DataType.name(t.dataType)); ConstantOfShape takes one FLOAT, INT64, INT32 or BOOL", kind: .badValue)
        }
        fill = v
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let s = try inputs.value(0)
        guard s.rank == 1 else {
            throw inputs.fail("shape input '\(inputs.name(0))' has shape \(shapeText(s.shape)); it must be 1-D")
        }
        let dims = try inputs.constantInts(0, role: "shape")
        var shape: [Int] = []
        for d in dims {
            guard let v = Int(exactly: d), v >= 0 else {
                throw inputs.fail("shape \(dims) has dim \(d); dims must be ≥ 0", kind: .badValue)
            }
            shape.append(v)
        }
        let n = try DataMovement.planningCount(shape, inputs)
        switch fill.contents {
        case .floats(let f)?: return [PlanValue(shape: shape, type: fill.type, contents: .floats(Array(repeating: f[0], count: n)))]
        case .ints(let i)?: return [PlanValue(shape: shape, type: fill.type, contents: .ints(Array(repeating: i[0], count: n)))]
        case nil: throw inputs.fail("has no value")
        }
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        throw l.fail("a ConstantOfShape has no run-time step")
    }
}
