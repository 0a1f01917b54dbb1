import BNCGraph
import BNCKernels

/// ONNX Slice: along each listed axis, elements start, start + step, … before end (NumPy's
/// rule): negative starts and ends count from the end, and both are clamped to the axis
/// (0…dim for positive steps, −1…dim−1 for negative ones). Version 1 takes `starts`, `ends`
/// and `axes` as attributes (step 1); from 10 they are inputs, with `axes` and `steps`
/// optional (known while planning); negative axes count from the end from version 11.
struct Slice: Operator {
    static let type = "Slice"
    static let versions = [1, 10, 11, 13]
    static func schema(_ version: Int) -> Schema {
        version >= 10
            ? Schema(inputs: 3...5)
            : Schema(inputs: 1...1, attributes: [.ints("starts", required: true), .ints("ends", required: true), .ints("axes")])
    }
    let attributes: (starts: [Int64], ends: [Int64], axes: [Int64]?)?
    let negativeAxes: Bool

    init(_ node: NodeView) throws(ModelError) {
        if node.version < 10 {
            let a = node.attributes
            attributes = (try a.ints("starts") ?? [], try a.ints("ends") ?? [], try a.ints("axes"))
        } else {
            attributes = nil
        }
        negativeAxes = node.version >= 11
    }

    /// Per axis of the input: first index, count and step.
    func ranges(_ inputs: Inputs) throws(ModelError) -> [(start: Int, count: Int, step: Int)] {
        let x = try inputs.value(0)
        let r = x.rank
        let starts: [Int64], ends: [Int64], axesGiven: [Int64]?, steps: [Int64]?
        if let attributes {
            (starts, ends, axesGiven, steps) = (attributes.starts, attributes.ends, attributes.axes, nil)
        } else {
            starts = try inputs.constantInts(1, role: "starts")
            ends = try inputs.constantInts(2, role: "ends")
            axesGiven = inputs.has(3) ? try inputs.constantInts(3, role: "axes") : nil
            steps = inputs.has(4) ? try inputs.constantInts(4, role: "steps") : nil
        }
        let n = starts.count
        guard ends.count == n, axesGiven.map({ $0.count == n }) ?? true, steps.map({ $0.count == n }) ?? true else {
            throw inputs.fail("starts \(starts), ends \(ends)\(axesGiven.map { ", axes \($0)" } ?? "")\(steps.map { ", steps \($0)" } ?? "") differ in length", kind: .badValue)
        }
        guard n <= r else { throw inputs.fail("slices \(n) axes of an input of rank \(r)", kind: .badValue) }
        var out = x.shape.map { (start: 0, count: $0, step: 1) }
        var seen = Set<Int>()
        for k in 0..<n {
            let given = axesGiven?[k] ?? Int64(k)
            guard let a0 = Int(exactly: given), a0 < r, a0 >= (negativeAxes ? -r : 0) else {
                throw inputs.fail("axes has \(given), out of range for rank \(r)\(negativeAxes ? "" : " (negative axes from version 11)")", kind: .badValue)
            }
            let a = a0 < 0 ? a0 + r : a0
            guard seen.insert(a).inserted else { throw inputs.fail("axes names axis \(a) twice", kind: .badValue) }
            let step = steps?[k] ?? 1
            guard step != 0 else { throw inputs.fail("steps has 0 for axis \(a)", kind: .badValue) }
            let dim = Int64(x.shape[a])
            func clamp(_ v: Int64, _ lo: Int64, _ hi: Int64) -> Int64 {
                let w = v < 0 ? v + dim : v
                return min(max(w, lo), hi)
            }
            let s: Int64, e: Int64
            if step > 0 {
                s = clamp(starts[k], 0, dim)
                e = clamp(ends[k], 0, dim)
            } else {
                s = clamp(starts[k], 0, dim - 1)
                e = clamp(ends[k], -1, dim - 1)
            }
            // A step longer than the axis reads one element: clamp it so nothing overflows.
            let st = max(min(step, dim + 1), -(dim + 1))
            // ceil((e − s) / step), at least 0 (|e − s| ≤ dim + 1).
            let span = e - s
            let count: Int64 = st > 0 ? (span > 0 ? (span + st - 1) / st : 0) : (span < 0 ? (-span - st - 1) / -st : 0)
            out[a] = (Int(s), Int(count), Int(st))
        }
        return out
    }

    static func copy(_ x: [Int], _ ranges: [(start: Int, count: Int, step: Int)]) -> IndexedCopy {
        let s = DataMovement.strides(x)
        return IndexedCopy(axes: ranges.enumerated().map { d, r in
            .affine(count: r.count, start: r.start * s[d], stride: r.step * s[d])
        })
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let x = try inputs.value(0)
        let rs = try ranges(inputs)
        return [try DataMovement.move(x, to: rs.map(\.count), inputs) { Self.copy(x.shape, rs) }]
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        let x = l.inputs[0]!.shape
        let rs = try ranges(l.inputs)
        // Dim 0 untouched (whole and forward): unit u of the output is unit u of the input.
        let perUnit = rs.first.map { $0.start == 0 && $0.step == 1 && $0.count == x[0] } ?? true
        try DataMovement.lower(&l, copy: Self.copy(x, rs), perUnit: perUnit,
                               summary: "slice \(rs.map { "\($0.start):\($0.count):\($0.step)" }.joined(separator: ","))")
    }
}
