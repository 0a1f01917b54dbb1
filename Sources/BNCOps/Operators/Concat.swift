import BNCGraph
import BNCKernels

/// ONNX Concat: the inputs joined along `axis` (required); every other dimension must agree.
/// Negative axes count from the end from version 11; 13 adds element types. Inputs with no
/// elements contribute nothing.
struct Concat: Operator {
    static let type = "Concat"
    static let versions = [4, 11, 13]
    static func schema(_ version: Int) -> Schema {
        Schema(inputs: 1...Schema.variadic, attributes: [.int("axis", required: true)])
    }
    let axis: Int64
    let negativeAllowed: Bool

    init(_ node: NodeView) throws(ModelError) {
        axis = try node.attributes.int("axis") ?? 0
        negativeAllowed = node.version >= 11
    }

    /// The axis, the output shape and each input's (rows, columns) around the axis.
    func geometry(_ inputs: Inputs) throws(ModelError) -> (axis: Int, shape: [Int], columns: [Int], rows: Int) {
        let first = try inputs.value(0)
        let r = first.rank
        guard r >= 1 else { throw inputs.fail("input 0 '\(inputs.name(0))' is a scalar; Concat needs rank ≥ 1") }
        guard let a0 = Int(exactly: axis), a0 < r, a0 >= (negativeAllowed ? -r : 0) else {
            throw inputs.view.fail(attribute: "axis", "is \(axis); for rank \(r) it must be in \(negativeAllowed ? -r : 0)…\(r - 1)", kind: .badValue)
        }
        let a = a0 < 0 ? a0 + r : a0
        var total = 0
        var columns: [Int] = []
        let inner = first.shape[(a + 1)...].reduce(1, *)
        for i in 0..<inputs.values.count {
            let v = try inputs.value(i)
            guard v.type == first.type else {
                throw inputs.fail("input \(i) '\(inputs.name(i))' is \(v.type.name), input 0 is \(first.type.name)", kind: .unsupportedDataType)
            }
            guard v.rank == r, zip(v.shape, first.shape).enumerated().allSatisfy({ $0.offset == a || $0.element.0 == $0.element.1 }) else {
                throw inputs.fail("input \(i) '\(inputs.name(i))' has shape \(shapeText(v.shape)); it must match input 0 \(shapeText(first.shape)) except along axis \(a)")
            }
            let (t, o) = total.addingReportingOverflow(v.shape[a])
            guard !o else { throw inputs.fail("the output's dim \(a) overflows", kind: .badValue) }
            total = t
            columns.append(v.shape[a] * inner)
        }
        var shape = first.shape
        shape[a] = total
        return (a, shape, columns, first.shape[..<a].reduce(1, *))
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let g = try geometry(inputs)
        let type = try inputs.value(0).type
        guard let n = Tensor.checkedElementCount(g.shape) else { throw inputs.fail("its output \(shapeText(g.shape)) overflows", kind: .badValue) }
        let values = inputs.values.compactMap { $0 }
        if n == 0 { return [PlanValue(shape: g.shape, type: type, contents: type == .float ? .floats([]) : .ints([]))] }
        guard values.allSatisfy(\.isConstant) else { return [PlanValue(shape: g.shape, type: type)] }
        _ = try DataMovement.planningCount(g.shape, inputs)
        if type == .float {
            let out = BlockCopy.concatenate(zip(values, g.columns).map { ($0.floats!, $1) }, rows: g.rows, zero: Float(0))
            return [PlanValue(shape: g.shape, type: type, contents: .floats(out))]
        }
        let out = BlockCopy.concatenate(zip(values, g.columns).map { ($0.ints!, $1) }, rows: g.rows, zero: Int64(0))
        return [PlanValue(shape: g.shape, type: type, contents: .ints(out))]
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        let g = try geometry(l.inputs)
        var parts: [(ValueID, Int)] = []
        for (i, c) in g.columns.enumerated() where c > 0 { parts.append((try l.value(i), c)) }
        l.emit(ConcatStep(parts: parts, y: l.output(), rows: g.rows, perUnit: g.axis != 0, axis: g.axis))
    }
}

/// y = the inputs side by side: per unit, each input's (rows, columns) block into its columns
/// of y's (rows, Σ columns).
struct ConcatStep: Step {
    let parts: [(x: ValueID, columns: Int)]
    let y: ValueID
    let rows: Int
    let perUnit: Bool
    let axis: Int

    private var total: Int { parts.reduce(0) { $0 + $1.columns } }
    var reads: [ValueID] { parts.map(\.x) }
    var writes: [ValueID] { [y] }
    var traits: StepTraits {
        var t: StepTraits = perUnit ? .perUnit : []
        if rows * total >= BlockCopy.splitMinimum { t.insert(.splitsItself) }
        return t
    }
    var summary: String { "concat \(parts.count) on axis \(axis)" }

    func run(_ frame: Frame, units: Range<Int>, serial: Bool) {
        let width = total
        for u in units {
            let out = frame.pointer(y, u)
            var at = 0
            for p in parts {
                BlockCopy.copy(rows: rows, columns: p.columns, from: frame.input(p.x, u), rowStride: p.columns,
                               into: out + at, rowStride: width, parallel: !serial)
                at += p.columns
            }
        }
    }
}
