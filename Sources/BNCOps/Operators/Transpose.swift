import BNCGraph
import BNCKernels

/// ONNX Transpose: output axis d is input axis perm[d]; `perm` defaults to the axes
/// reversed. Versions 13 to 25 only add element types.
struct Transpose: Operator {
    static let type = "Transpose"
    static let versions = [1, 13, 21, 23, 24, 25]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1, attributes: [.ints("perm")]) }
    let perm: [Int64]?

    init(_ node: NodeView) throws(ModelError) {
        perm = try node.attributes.ints("perm")
    }

    /// The permutation for an input of rank `rank`, checked.
    func permutation(rank: Int, _ inputs: Inputs) throws(ModelError) -> [Int] {
        guard let perm else { return Array((0..<rank).reversed()) }
        guard perm.count == rank else {
            throw inputs.view.fail(attribute: "perm", "has \(perm.count) values for an input of rank \(rank)", kind: .badValue)
        }
        var seen = [Bool](repeating: false, count: rank)
        var p: [Int] = []
        for v in perm {
            guard let a = Int(exactly: v), a >= 0, a < rank, !seen[a] else {
                throw inputs.view.fail(attribute: "perm", "is \(perm); it must be a permutation of 0…\(rank - 1)", kind: .badValue)
            }
            seen[a] = true
            p.append(a)
        }
        return p
    }

    func geometry(_ x: [Int], _ inputs: Inputs) throws(ModelError) -> (shape: [Int], perm: [Int]) {
        let p = try permutation(rank: x.count, inputs)
        return (p.map { x[$0] }, p)
    }

    static func copy(_ x: [Int], perm: [Int]) -> IndexedCopy {
        let s = DataMovement.strides(x)
        return IndexedCopy(axes: perm.map { .affine(count: x[$0], start: 0, stride: s[$0]) })
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let x = try inputs.value(0)
        let (shape, p) = try geometry(x.shape, inputs)
        return [try DataMovement.move(x, to: shape, inputs) { Self.copy(x.shape, perm: p) }]
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        let x = l.inputs[0]!.shape
        let (_, p) = try geometry(x, l.inputs)
        try DataMovement.lower(&l, copy: Self.copy(x, perm: p),
                               perUnit: p.first.map { $0 == 0 } ?? true, summary: "transpose \(shapeText(p))")
    }
}
