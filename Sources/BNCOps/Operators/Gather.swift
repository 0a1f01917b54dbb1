import BNCGraph
import BNCKernels

/// ONNX Gather: entries of `data` along `axis` (default 0) picked by `indices` (INT32 or
/// INT64 of any rank, known while planning): output shape data[..<axis] + indices +
/// data[(axis+1)...]. Indices must lie in 0..<dim, and from version 11 may count from the
/// end (−dim..<0); 13 only adds element types. FLOAT data runs at run time; integer data
/// (shape arithmetic) while planning.
struct Gather: Operator {
    static let type = "Gather"
    static let versions = [1, 11, 13]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 2...2, attributes: [.int("axis", default: 0)]) }
    let axis: Int64
    let negativeIndices: Bool

    init(_ node: NodeView) throws(ModelError) {
        axis = try node.attributes.int("axis") ?? 0
        negativeIndices = node.version >= 11
    }

    /// The axis, the indices normalized to 0..<dim, and the output shape.
    func geometry(_ inputs: Inputs) throws(ModelError) -> (axis: Int, indices: [Int], shape: [Int]) {
        let x = try inputs.value(0)
        guard x.rank >= 1 else { throw inputs.fail("data input '\(inputs.name(0))' is a scalar; Gather needs rank ≥ 1") }
        let a = try inputs.axis(axis, rank: x.rank)
        let given = try inputs.constantInts(1, role: "indices")
        let dim = x.shape[a]
        var indices: [Int] = []
        indices.reserveCapacity(given.count)
        for g in given {
            guard let i = Int(exactly: g), i < dim, i >= (negativeIndices ? -dim : 0) else {
                throw inputs.fail("index \(g) of indices '\(inputs.name(1))' is out of range for dim \(a) of length \(dim)\(negativeIndices || g >= 0 ? "" : " (negative indices from version 11)")", kind: .badValue)
            }
            indices.append(i < 0 ? i + dim : i)
        }
        let shape = Array(x.shape[..<a]) + (try inputs.shape(1)) + Array(x.shape[(a + 1)...])
        return (a, indices, shape)
    }

    static func copy(_ x: [Int], axis: Int, indices: [Int]) -> IndexedCopy {
        let s = DataMovement.strides(x)
        var axes = DataMovement.identity(x)
        axes[axis] = .table(indices.map { $0 * s[axis] })
        return IndexedCopy(axes: axes)
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let x = try inputs.value(0)
        let g = try geometry(inputs)
        return [try DataMovement.move(x, to: g.shape, inputs) { Self.copy(x.shape, axis: g.axis, indices: g.indices) }]
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        let x = l.inputs[0]!.shape
        let g = try geometry(l.inputs)
        try DataMovement.lower(&l, copy: Self.copy(x, axis: g.axis, indices: g.indices),
                               perUnit: g.axis != 0, summary: "gather \(g.indices.count) on axis \(g.axis)")
    }
}
