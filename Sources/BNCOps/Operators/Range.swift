import BNCGraph

/// ONNX Range: start, start + delta, … before limit (three scalars of one type, known while
/// planning): max(ceil((limit − start) / delta), 0) values, value i = start + i·delta.
/// FLOAT, INT32 and INT64. Version 27 adds `stash_type`, which concerns float16 and
/// bfloat16 only.
struct RangeOperator: Operator {  // not `Range`: that would hide Swift.Range in BNCOps
    static let type = "Range"
    static let versions = [11, 27]
    static func schema(_ version: Int) -> Schema {
        Schema(inputs: 3...3, attributes: version >= 27 ? [.int("stash_type", default: 1)] : [])
    }

    init(_ node: NodeView) throws(ModelError) {
        if node.schema.attribute("stash_type") != nil { _ = try node.attributes.int("stash_type") }
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let names = ["start", "limit", "delta"]
        let values = try (0..<3).map { i throws(ModelError) -> PlanValue in
            let v = try inputs.value(i)
            guard v.count == 1 else {
                throw inputs.fail("\(names[i]) input '\(inputs.name(i))' has shape \(shapeText(v.shape)); it must be a scalar", kind: .badValue)
            }
            return v
        }
        let type = values[0].type
        guard values.allSatisfy({ $0.type == type }), type != .bool else {
            throw inputs.fail("inputs are \(values.map(\.type.name).joined(separator: ", ")); Range takes three FLOAT, INT32 or INT64", kind: .unsupportedDataType)
        }
        if type == .float {
            let f = try (0..<3).map { i throws(ModelError) in Double(try inputs.constantFloats(i, role: names[i])[0]) }
            guard f.allSatisfy(\.isFinite), f[2] != 0 else {
                throw inputs.fail("start \(f[0]), limit \(f[1]), delta \(f[2]) do not make a range", kind: .badValue)
            }
            let n = max(((f[1] - f[0]) / f[2]).rounded(.up), 0)
            guard n <= Double(PlanValue.maximumConstantElements) else {
                throw inputs.fail("start \(f[0]), limit \(f[1]), delta \(f[2]) make \(n) values; bnc computes at most \(PlanValue.maximumConstantElements) while planning", kind: .badValue)
            }
            let start = Float(f[0]), delta = Float(f[2])
            return [PlanValue(shape: [Int(n)], floats: (0..<Int(n)).map { start + Float($0) * delta })]
        }
        let v = try (0..<3).map { i throws(ModelError) in try inputs.constantInts(i, role: names[i])[0] }
        let (start, limit, delta) = (v[0], v[1], v[2])
        guard delta != 0 else { throw inputs.fail("delta is 0", kind: .badValue) }
        // In Double the span is exact enough to bound the count; the values are exact in Int64.
        let n = max((Double(limit) - Double(start)) / Double(delta), 0).rounded(.up)
        guard n <= Double(PlanValue.maximumConstantElements) else {
            throw inputs.fail("start \(start), limit \(limit), delta \(delta) make \(n) values; bnc computes at most \(PlanValue.maximumConstantElements) while planning", kind: .badValue)
        }
        var count = 0
        var out: [Int64] = []
        var x = start
        while count < Int(n) + 1 && (delta > 0 ? x < limit : x > limit) {
            out.append(type == .int32 ? Int64(Int32(truncatingIfNeeded: x)) : x)
            count += 1
            let (next, o) = x.addingReportingOverflow(delta)
            if o { break }
            x = next
        }
        return [PlanValue(shape: [out.count], ints: out, type: type)]
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        throw l.fail("a Range has no run-time step")
    }
}
