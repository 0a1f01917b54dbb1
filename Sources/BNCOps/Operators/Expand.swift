import BNCGraph
import BNCKernels

/// ONNX Expand: the input broadcast with the shape given by input 1 (1-D INT64, known while
/// planning), both ways as NumPy does: a dimension of 1 on either side takes the other's,
/// and the shape may have more dimensions than the input. Version 13 only adds element
/// types.
struct Expand: Operator {
    static let type = "Expand"
    static let versions = [8, 13]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 2...2) }

    init(_ node: NodeView) throws(ModelError) {}

    func shape(_ inputs: Inputs) throws(ModelError) -> [Int] {
        let x = try inputs.value(0)
        let s = try inputs.value(1)
        guard s.rank == 1 else {
            throw inputs.fail("shape input '\(inputs.name(1))' has shape \(shapeText(s.shape)); it must be 1-D")
        }
        let dims = try inputs.constantInts(1, role: "shape")
        var target: [Int] = []
        for d in dims {
            guard let v = Int(exactly: d), v >= 0 else {
                throw inputs.fail("shape \(dims) has dim \(d); dims must be ≥ 0", kind: .badValue)
            }
            target.append(v)
        }
        guard let out = Broadcast.shape(x.shape, target) else {
            throw inputs.fail("the input \(shapeText(x.shape)) does not broadcast to shape \(dims)", kind: .badValue)
        }
        guard Tensor.checkedElementCount(out) != nil else {
            throw inputs.fail("shape \(dims) overflows", kind: .badValue)
        }
        return out
    }

    static func copy(_ x: [Int], to out: [Int]) -> IndexedCopy {
        let s = Broadcast.strides(x, to: out)
        return IndexedCopy(axes: zip(out, s).map { .affine(count: $0, start: 0, stride: $1) })
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let x = try inputs.value(0)
        let out = try shape(inputs)
        return [try DataMovement.move(x, to: out, inputs) { Self.copy(x.shape, to: out) }]
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        let x = l.inputs[0]!.shape
        let out = try shape(l.inputs)
        try DataMovement.lower(&l, copy: Self.copy(x, to: out),
                               perUnit: x.count == out.count && x.first == out.first, summary: "expand \(shapeText(out))")
    }
}
