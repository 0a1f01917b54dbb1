import BNCGraph

/// ONNX Reshape: the input's memory with the shape given by input 1 (known while planning):
/// −1 infers one dimension; 0 copies the input's dimension, or (version 14 on, `allowzero`
/// 1) means a dimension of size 0, which bnc does not run.
struct Reshape: Operator {
    static let type = "Reshape"
    static let versions = [5, 13, 14, 19, 21, 23, 24, 25]
    static func schema(_ version: Int) -> Schema {
        Schema(inputs: 2...2, attributes: version >= 14 ? [.int("allowzero", default: 0)] : [])
    }
    let allowZero: Bool
    static var contentsUnusedByLowering: Set<Int> { [1] }

    var foldRole: FoldRole { .reshape }
    init(_ node: NodeView) throws(ModelError) {
        allowZero = node.schema.attribute("allowzero") != nil ? try node.attributes.flag("allowzero") : false
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let x = try inputs.value(0)
        let shapeInput = try inputs.value(1)
        guard shapeInput.rank == 1 else {
            throw inputs.fail("shape input '\(inputs.name(1))' has shape \(shapeText(shapeInput.shape)); it must be 1-D")
        }
        let target = try inputs.constantInts(1, role: "shape")
        var out = x
        out.shape = try Self.resolve(target, input: x.shape, allowZero: allowZero, inputs)
        return [out]
    }

    /// The output shape for `target` (ONNX Reshape's rules), or an error naming the problem.
    static func resolve(_ target: [Int64], input: [Int], allowZero: Bool, _ inputs: Inputs) throws(ModelError) -> [Int] {
        let total = Tensor.elementCount(input)
        var out: [Int] = []
        var inferAt: Int? = nil
        for (i, d) in target.enumerated() {
            if d == -1 {
                guard inferAt == nil else { throw inputs.fail("shape \(target) has more than one -1", kind: .badValue) }
                inferAt = i
                out.append(1)
            } else if d == 0 && !allowZero {
                guard i < input.count else {
                    throw inputs.fail("shape \(target) copies dim \(i) (0) but the input has rank \(input.count)", kind: .badValue)
                }
                out.append(input[i])
            } else if d <= 0 {
                throw inputs.fail("shape \(target) has dim \(d); bnc does not run empty or negative shapes", kind: .badValue)
            } else {
                guard let di = Int(exactly: d), di <= total else {
                    throw inputs.fail("shape \(target) does not fit the input's \(total) elements", kind: .badValue)
                }
                out.append(di)
            }
        }
        guard let known = Tensor.checkedElementCount(out) else {
            throw inputs.fail("shape \(target) overflows", kind: .badValue)
        }
        if let at = inferAt {
            guard known > 0, total % known == 0 else {
                throw inputs.fail("shape \(target) cannot hold the input's \(total) elements", kind: .badValue)
            }
            out[at] = total / known
        }
        guard Tensor.elementCount(out) == total else {
            throw inputs.fail("shape \(target) holds \(Tensor.elementCount(out)) elements, the input \(shapeText(input)) has \(total)", kind: .badValue)
        }
        return out
    }

    func lower(_ l: inout Lowering) throws(ModelError) { l.alias() }
}
