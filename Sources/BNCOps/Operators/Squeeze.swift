import BNCGraph

/// ONNX Squeeze: the input without the listed axes of size 1, or without every axis of size
/// 1 when none are listed; the memory is the input's. The axes are an attribute before
/// version 13 and an optional input (known while planning) from 13; negative axes count
/// from the end from version 11.
struct Squeeze: Operator {
    static let type = "Squeeze"
    static let versions = [1, 11, 13, 21, 23, 24, 25]
    static func schema(_ version: Int) -> Schema {
        version >= 13 ? Schema(inputs: 1...2) : Schema(inputs: 1...1, attributes: [.ints("axes")])
    }
    let axesAttribute: [Int64]?
    let negativeAllowed: Bool

    var foldRole: FoldRole { .reshape }
    init(_ node: NodeView) throws(ModelError) {
        axesAttribute = node.version < 13 ? try node.attributes.ints("axes") : nil
        negativeAllowed = node.version >= 11
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let x = try inputs.value(0)
        let given = inputs.has(1) ? try inputs.constantInts(1, role: "axes") : axesAttribute
        var out = x
        guard let given else {
            out.shape = x.shape.filter { $0 != 1 }
            return [out]
        }
        let axes = try Unsqueeze.normalize(given, rank: x.rank, negativeAllowed: negativeAllowed, inputs)
        for a in axes where x.shape[a] != 1 {
            throw inputs.fail("axis \(a) of the input \(shapeText(x.shape)) has size \(x.shape[a]); Squeeze removes axes of size 1", kind: .badValue)
        }
        out.shape = x.shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
        return [out]
    }

    func lower(_ l: inout Lowering) throws(ModelError) { l.alias() }
}
