import BNCGraph
import BNCKernels

/// ONNX Softmax. From version 13: along one `axis` (default −1). Versions 1 and 11: the
/// input is coerced to 2-D at `axis` (default 1) — (Π dims before axis, Π dims from axis) —
/// and softmax runs over the second dimension.
struct Softmax: Operator {
    static let type = "Softmax"
    static let versions = [1, 11, 13]
    static func schema(_ version: Int) -> Schema {
        Schema(inputs: 1...1, attributes: [.int("axis", default: version >= 13 ? -1 : 1)])
    }
    let axis: Int64
    let coerced2D: Bool

    init(_ node: NodeView) throws(ModelError) {
        axis = try node.attributes.int("axis") ?? -1
        coerced2D = node.version < 13
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let x = try inputs.float(0)
        _ = try layout(x.shape, inputs)
        return [PlanValue(shape: x.shape)]
    }

    /// (outer, length, inner) of the input around the axis.
    func layout(_ shape: [Int], _ inputs: Inputs) throws(ModelError) -> (outer: Int, length: Int, inner: Int, axis: Int) {
        let r = shape.count
        // Coerced versions accept axis = rank (everything in the outer part is then empty).
        let a: Int
        if coerced2D {
            guard let v = Int(exactly: axis), v >= -r, v <= r else {
                throw inputs.view.fail(attribute: "axis", "is \(axis), out of range for rank \(r)", kind: .badValue)
            }
            a = v < 0 ? v + r : v
            return (shape[..<a].reduce(1, *), shape[a...].reduce(1, *), 1, a)
        }
        a = try inputs.axis(axis, rank: r)
        return (shape[..<a].reduce(1, *), shape[a], shape[(a + 1)...].reduce(1, *), a)
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        let (outer, length, inner, a) = try layout(l.inputs[0]!.shape, l.inputs)
        l.emit(SoftmaxStep(x: try l.value(0), y: l.output(), outer: outer, length: length, inner: inner,
                           perUnit: a >= 1, log: false))
    }
}

/// Softmax (or log-softmax) along the middle axis of x seen per unit as (outer, length, inner).
struct SoftmaxStep: Step {
    let x: ValueID, y: ValueID
    let outer: Int, length: Int, inner: Int
    /// False when the axis includes dim 0 (the batch): the plan then runs whole tensors.
    let perUnit: Bool
    let log: Bool

    var reads: [ValueID] { [x] }
    var writes: [ValueID] { [y] }
    var traits: StepTraits { perUnit ? .perUnit : [] }
    var inPlace: Int? { 0 }
    var summary: String { log ? "logsoftmax \(length)" : "softmax \(length)" }

    func run(_ frame: Frame, units: Range<Int>, serial: Bool) {
        let f = units.lowerBound
        BNCKernels.Softmax.forward(frame.input(x, f), outer: units.count * outer, length: length, inner: inner,
                        into: frame.pointer(y, f), log: log)
    }
}
