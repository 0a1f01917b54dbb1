import BNCGraph
import BNCKernels

/// ONNX Pad: each axis grows by pads[begin] before and pads[end] after (negative values crop).
/// Modes: `constant` (the value, default 0), `reflect` (mirrored about the first and last
/// element, repeating as NumPy does when the pad is longer than the axis), `edge` (the
/// first or last element), and from version 19 `wrap` (periodic). Version 2 takes `pads`
/// and `value` as attributes; from 11 `pads` and `constant_value` are inputs, known while
/// planning; 18 adds the optional `axes` input (the axes `pads` applies to, negative from
/// the end).
struct Pad: Operator {
    static let type = "Pad"
    static let versions = [2, 11, 13, 18, 19, 21, 23, 24, 25]
    static func schema(_ version: Int) -> Schema {
        if version < 11 {
            return Schema(inputs: 1...1, attributes: [.string("mode", default: "constant"), .ints("pads", required: true), .float("value", default: 0)])
        }
        return Schema(inputs: version >= 18 ? 2...4 : 2...3, attributes: [.string("mode", default: "constant")])
    }

    enum Mode: String { case constant, reflect, edge, wrap }
    let mode: Mode
    let padsAttribute: [Int64]?
    let valueAttribute: Float

    init(_ node: NodeView) throws(ModelError) {
        let modes = node.version >= 19 ? ["constant", "reflect", "edge", "wrap"] : ["constant", "reflect", "edge"]
        mode = Mode(rawValue: try node.attributes.choice("mode", modes))!
        if node.version < 11 {
            padsAttribute = try node.attributes.ints("pads")
            valueAttribute = try node.attributes.float("value") ?? 0
        } else {
            padsAttribute = nil
            valueAttribute = 0
        }
    }

    /// Per input axis: (begin, end) padding; and the output shape.
    func geometry(_ inputs: Inputs) throws(ModelError) -> (pads: [(begin: Int, end: Int)], shape: [Int]) {
        let x = try inputs.value(0)
        let r = x.rank
        let given: [Int64]
        if let padsAttribute { given = padsAttribute } else { given = try inputs.constantInts(1, role: "pads") }
        var axes = Array(0..<r)
        if inputs.has(3) {
            let a = try inputs.constantInts(3, role: "axes")
            axes = []
            for v in a {
                let i = try inputs.axis(v, rank: r, what: "axes value")
                guard !axes.contains(i) else { throw inputs.fail("axes \(a) names axis \(i) twice", kind: .badValue) }
                axes.append(i)
            }
        }
        guard given.count == 2 * axes.count else {
            throw inputs.fail("pads \(given) has \(given.count) values; it needs 2 × \(axes.count) (begins, then ends)", kind: .badValue)
        }
        var pads = [(begin: Int, end: Int)](repeating: (0, 0), count: r)
        var shape = x.shape
        for (k, a) in axes.enumerated() {
            guard let b = Int(exactly: given[k]), let e = Int(exactly: given[k + axes.count]) else {
                throw inputs.fail("pads \(given) overflows", kind: .badValue)
            }
            let (s1, o1) = x.shape[a].addingReportingOverflow(b)
            let (s2, o2) = s1.addingReportingOverflow(e)
            guard !o1, !o2 else { throw inputs.fail("pads \(given) overflows axis \(a)", kind: .badValue) }
            guard s2 >= 0 else {
                throw inputs.fail("pads \(given) crop axis \(a) of length \(x.shape[a]) below zero", kind: .badValue)
            }
            if mode != .constant, x.shape[a] == 0, s2 > 0 {
                throw inputs.fail("\(mode.rawValue) padding of the empty axis \(a) has nothing to repeat", kind: .badValue)
            }
            pads[a] = (b, e)
            shape[a] = s2
        }
        guard Tensor.checkedElementCount(shape) != nil else {
            throw inputs.fail("pads \(given) make the output \(shapeText(shape)) overflow", kind: .badValue)
        }
        return (pads, shape)
    }

    /// The value of constant padding: the attribute before version 11, input 2 after (for
    /// FLOAT data it may be a run-time value: `runtime`).
    func fill(_ inputs: Inputs) throws(ModelError) -> (float: Float, int: Int64, runtime: Bool) {
        guard padsAttribute == nil, inputs.has(2) else { return (valueAttribute, 0, false) }
        let x = try inputs.value(0), v = try inputs.value(2)
        guard v.type == x.type else {
            throw inputs.fail("constant_value input '\(inputs.name(2))' is \(v.type.name), the data is \(x.type.name)", kind: .unsupportedDataType)
        }
        guard v.count == 1 else {
            throw inputs.fail("constant_value input '\(inputs.name(2))' has shape \(shapeText(v.shape)); it must be one value", kind: .badValue)
        }
        if x.type != .float { return (0, try inputs.constantInts(2, role: "constant_value")[0], false) }
        guard let f = v.floats else { return (0, 0, true) }
        return (f[0], 0, false)
    }

    func copy(_ x: [Int], _ pads: [(begin: Int, end: Int)], _ out: [Int]) -> IndexedCopy {
        let s = DataMovement.strides(x)
        var axes: [IndexedCopy.Axis] = []
        for d in x.indices {
            let n = x[d], b = pads[d].begin
            if pads[d].begin <= 0 && pads[d].end <= 0 {
                axes.append(.affine(count: out[d], start: -b * s[d], stride: s[d]))
                continue
            }
            var table = [Int](repeating: -1, count: out[d])
            for j in 0..<out[d] {
                let i = j - b
                var source: Int
                if i >= 0 && i < n {
                    source = i
                } else {
                    switch mode {
                    case .constant: continue
                    case .edge: source = i < 0 ? 0 : n - 1
                    case .wrap: source = ((i % n) + n) % n
                    case .reflect:
                        let period = 2 * (n - 1)
                        if period == 0 {
                            source = 0
                        } else {
                            let m = ((i % period) + period) % period
                            source = m < n ? m : period - m
                        }
                    }
                }
                table[j] = source * s[d]
            }
            axes.append(.table(table))
        }
        return IndexedCopy(axes: axes)
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let x = try inputs.value(0)
        let (pads, shape) = try geometry(inputs)
        let f = try fill(inputs)
        var data = x
        if f.runtime { data.contents = nil }  // the output waits for the run-time value
        return [try DataMovement.move(data, to: shape, inputs, fill: f.float, fillInt: f.int) { copy(x.shape, pads, shape) }]
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        let x = l.inputs[0]!.shape
        let (pads, shape) = try geometry(l.inputs)
        let f = try fill(l.inputs)
        // A run-time fill value is no unit's: the plan then runs whole tensors.
        let perUnit = !f.runtime && (pads.first.map { $0.begin == 0 && $0.end == 0 } ?? true)
        try DataMovement.lower(&l, copy: copy(x, pads, shape), fill: f.float,
                               fillValue: f.runtime ? try l.value(2) : nil, perUnit: perUnit,
                               summary: "pad \(mode.rawValue) \(pads.map { "\($0.begin),\($0.end)" }.joined(separator: " "))")
    }
}
