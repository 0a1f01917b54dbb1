import BNCGraph
import BNCKernels

/// ONNX Split: the input cut along `axis` (default 0) into one part per output. The part
/// lengths are the `split` attribute (versions 2 and 11) or input (13 on), known while
/// planning; without them the parts are equal (the length must divide), and from 18
/// `num_outputs` gives ceil(dim / n) per part with a smaller last one. Negative axes count
/// from the end from version 11.
struct Split: Operator {
    static let type = "Split"
    static let versions = [2, 11, 13, 18]
    static func schema(_ version: Int) -> Schema {
        var attributes: [AttributeSpec] = [.int("axis", default: 0)]
        if version < 13 { attributes.append(.ints("split")) }
        if version >= 18 { attributes.append(.int("num_outputs")) }
        return Schema(inputs: version >= 13 ? 1...2 : 1...1, outputs: 1...Schema.variadic, attributes: attributes)
    }
    let axis: Int64
    let negativeAllowed: Bool
    let splitAttribute: [Int64]?
    let numOutputs: Int64?

    init(_ node: NodeView) throws(ModelError) {
        axis = try node.attributes.int("axis") ?? 0
        negativeAllowed = node.version >= 11
        splitAttribute = node.schema.attribute("split") != nil ? try node.attributes.ints("split") : nil
        numOutputs = node.schema.attribute("num_outputs") != nil ? try node.attributes.int("num_outputs") : nil
        if let n = numOutputs, n != Int64(node.node.outputs.count) {
            throw node.fail(attribute: "num_outputs", "is \(n) but the node has \(node.node.outputs.count) outputs", kind: .badValue)
        }
    }

    /// The axis and the (start, length) of every part.
    func parts(_ inputs: Inputs) throws(ModelError) -> (axis: Int, parts: [(start: Int, length: Int)]) {
        let x = try inputs.value(0)
        let r = x.rank
        guard let a0 = Int(exactly: axis), a0 < r, a0 >= (negativeAllowed ? -r : 0) else {
            throw inputs.view.fail(attribute: "axis", "is \(axis); for rank \(r) it must be in \(negativeAllowed ? -r : 0)…\(r - 1)", kind: .badValue)
        }
        let a = a0 < 0 ? a0 + r : a0
        let dim = x.shape[a]
        let n = inputs.view.node.outputs.count
        var lengths: [Int] = []
        let given: [Int64]?
        if inputs.has(1) {
            guard numOutputs == nil else {
                throw inputs.fail("has both the split input and num_outputs; Split-\(inputs.view.version) takes one", kind: .badValue)
            }
            given = try inputs.constantInts(1, role: "split")
        } else {
            given = splitAttribute
        }
        if let given {
            guard given.count == n else {
                throw inputs.fail("split \(given) has \(given.count) lengths for \(n) outputs", kind: .badValue)
            }
            var sum = 0
            for g in given {
                guard let v = Int(exactly: g), v >= 0, v <= dim else {
                    throw inputs.fail("split \(given) has length \(g); lengths must be in 0…\(dim)", kind: .badValue)
                }
                lengths.append(v)
                sum += v
            }
            guard sum == dim else {
                throw inputs.fail("split \(given) sums to \(sum), the input's dim \(a) is \(dim)", kind: .badValue)
            }
        } else if numOutputs != nil {
            let chunk = (dim + n - 1) / n
            guard dim - chunk * (n - 1) >= 0 else {
                throw inputs.fail("dim \(a) of length \(dim) cannot be split into \(n) parts of \(chunk)", kind: .badValue)
            }
            lengths = Array(repeating: chunk, count: n - 1) + [dim - chunk * (n - 1)]
        } else {
            guard dim % n == 0 else {
                throw inputs.fail("dim \(a) of length \(dim) does not split into \(n) equal parts", kind: .badValue)
            }
            lengths = Array(repeating: dim / n, count: n)
        }
        var start = 0
        var out: [(Int, Int)] = []
        for l in lengths {
            out.append((start, l))
            start += l
        }
        return (a, out)
    }

    static func copy(_ x: [Int], axis: Int, start: Int, length: Int) -> IndexedCopy {
        let s = DataMovement.strides(x)
        var axes = DataMovement.identity(x)
        axes[axis] = .affine(count: length, start: start * s[axis], stride: s[axis])
        return IndexedCopy(axes: axes)
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let x = try inputs.value(0)
        let (a, parts) = try parts(inputs)
        var out: [PlanValue] = []
        for p in parts {
            var shape = x.shape
            shape[a] = p.length
            out.append(try DataMovement.move(x, to: shape, inputs) { Self.copy(x.shape, axis: a, start: p.start, length: p.length) })
        }
        return out
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        let x = l.inputs[0]!.shape
        let (a, parts) = try parts(l.inputs)
        for (k, p) in parts.enumerated() where l.isUsed(k) && !l.outputs[k].isConstant {
            try DataMovement.lower(&l, output: k, copy: Self.copy(x, axis: a, start: p.start, length: p.length),
                                   perUnit: a != 0, summary: "split \(p.length) at \(p.start) on axis \(a)")
        }
    }
}
