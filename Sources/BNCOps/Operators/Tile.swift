import BNCGraph
import BNCKernels

/// ONNX Tile: the input repeated `repeats[d]` times along each axis d (input 1, 1-D INT64
/// with one value ≥ 0 per axis, known while planning). Version 13 only adds element types.
struct Tile: Operator {
    static let type = "Tile"
    static let versions = [6, 13]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 2...2) }

    init(_ node: NodeView) throws(ModelError) {}

    func repeats(_ inputs: Inputs) throws(ModelError) -> (repeats: [Int], shape: [Int]) {
        let x = try inputs.value(0)
        let given = try inputs.constantInts(1, role: "repeats")
        guard given.count == x.rank else {
            throw inputs.fail("repeats \(given) has \(given.count) values for an input of rank \(x.rank)", kind: .badValue)
        }
        var reps: [Int] = []
        var out: [Int] = []
        for (d, g) in zip(x.shape, given) {
            guard let r = Int(exactly: g), r >= 0 else {
                throw inputs.fail("repeats \(given) has \(g); repeats must be ≥ 0", kind: .badValue)
            }
            let (p, o) = d.multipliedReportingOverflow(by: r)
            guard !o else { throw inputs.fail("repeats \(given) overflow the input \(shapeText(x.shape))", kind: .badValue) }
            reps.append(r)
            out.append(p)
        }
        guard Tensor.checkedElementCount(out) != nil else {
            throw inputs.fail("repeats \(given) overflow the input \(shapeText(x.shape))", kind: .badValue)
        }
        return (reps, out)
    }

    /// The output read as (repeats₀, dim₀, repeats₁, dim₁, …): the same row-major layout.
    static func copy(_ x: [Int], repeats: [Int]) -> IndexedCopy {
        let s = DataMovement.strides(x)
        var axes: [IndexedCopy.Axis] = []
        for d in x.indices {
            axes.append(.affine(count: repeats[d], start: 0, stride: 0))
            axes.append(.affine(count: x[d], start: 0, stride: s[d]))
        }
        return IndexedCopy(axes: axes)
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let x = try inputs.value(0)
        let (reps, out) = try repeats(inputs)
        return [try DataMovement.move(x, to: out, inputs) { Self.copy(x.shape, repeats: reps) }]
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        let x = l.inputs[0]!.shape
        let (reps, _) = try repeats(l.inputs)
        try DataMovement.lower(&l, copy: Self.copy(x, repeats: reps),
                               perUnit: reps.first.map { $0 == 1 } ?? true, summary: "tile \(shapeText(reps))")
    }
}
