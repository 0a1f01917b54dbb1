import BNCGraph

/// ONNX Unsqueeze: the input with axes of size 1 inserted at the listed positions of the
/// output; the memory is the input's. The axes are an attribute (required) before version 13
/// and an input (known while planning) from 13; negative axes count from the end of the
/// output from version 11.
struct Unsqueeze: Operator {
    static let type = "Unsqueeze"
    static let versions = [1, 11, 13, 21, 23, 24, 25]
    static func schema(_ version: Int) -> Schema {
        version >= 13 ? Schema(inputs: 2...2) : Schema(inputs: 1...1, attributes: [.ints("axes", required: true)])
    }
    let axesAttribute: [Int64]?
    let negativeAllowed: Bool

    var foldRole: FoldRole { .reshape }
    init(_ node: NodeView) throws(ModelError) {
        axesAttribute = node.version < 13 ? try node.attributes.ints("axes") : nil
        negativeAllowed = node.version >= 11
    }

    /// Axes normalized to 0..<rank, each once.
    static func normalize(_ axes: [Int64], rank: Int, negativeAllowed: Bool, _ inputs: Inputs) throws(ModelError) -> Set<Int> {
        var out = Set<Int>()
        for v in axes {
            guard let a = Int(exactly: v), a < rank, a >= (negativeAllowed ? -rank : 0) else {
                throw inputs.fail("axes \(axes) has \(v), out of range for rank \(rank)\(negativeAllowed ? "" : " (negative axes from version 11)")", kind: .badValue)
            }
            guard out.insert(a < 0 ? a + rank : a).inserted else {
                throw inputs.fail("axes \(axes) names axis \(v) twice", kind: .badValue)
            }
        }
        return out
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let x = try inputs.value(0)
        let given = inputs.has(1) ? try inputs.constantInts(1, role: "axes") : (axesAttribute ?? [])
        let rank = x.rank + given.count
        let axes = try Self.normalize(given, rank: rank, negativeAllowed: negativeAllowed, inputs)
        var out = x
        var rest = x.shape.makeIterator()
        out.shape = (0..<rank).map { axes.contains($0) ? 1 : rest.next()! }
        return [out]
    }

    func lower(_ l: inout Lowering) throws(ModelError) { l.alias() }
}
