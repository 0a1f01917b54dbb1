import BNCGraph
import Foundation

/// The reference evaluator's elementwise, activation, variadic, LogSoftmax and reduction
/// operators, in Double, written from the ONNX operator docs (not from BNCKernels): binary
/// operators with NumPy broadcasting, the unary functions by their formulas, Clip with its
/// bounds as attributes (< 11) or inputs, LogSoftmax coerced to 2-D before 13, the
/// reductions with their axes as attribute or input.
extension ReferenceEvaluator {
    /// The node's result, or nil when it is not one of these operators.
    static func evalElementwise(_ node: Node, _ ins: [RefTensor?], opset: Int) throws -> RefTensor? {
        func f(_ n: String, _ d: Double) -> Double {
            if case .float(let v)? = node.attribute(n)?.value { return Double(v) }
            return d
        }
        func i(_ n: String, _ d: Int64) -> Int64 {
            if case .int(let v)? = node.attribute(n)?.value { return v }
            return d
        }
        func input(_ k: Int) throws -> RefTensor {
            guard k < ins.count, let t = ins[k] else { throw RefError.unsupported("\(node.opType): input \(k) missing") }
            return t
        }
        func map(_ g: (Double) -> Double) throws -> RefTensor {
            let x = try input(0)
            return RefTensor(shape: x.shape, data: x.data.map(g))
        }
        let x = try input(0)
        switch node.opType {
        case "Sub": return broadcast(x, try input(1), -)
        case "Mul": return broadcast(x, try input(1), *)
        case "Div": return broadcast(x, try input(1), /)
        case "Pow": return broadcast(x, try input(1)) { Foundation.pow($0, $1) }
        case "PRelu": return broadcast(x, try input(1)) { $0 < 0 ? $1 * $0 : $0 }
        case "Sum", "Max", "Min", "Mean":
            var acc = x
            for k in 1..<ins.count {
                let b = try input(k)
                switch node.opType {
                case "Max": acc = broadcast(acc, b) { $0.isNaN || $1.isNaN ? .nan : Swift.max($0, $1) }
                case "Min": acc = broadcast(acc, b) { $0.isNaN || $1.isNaN ? .nan : Swift.min($0, $1) }
                default: acc = broadcast(acc, b, +)
                }
            }
            if node.opType == "Mean" { acc.data = acc.data.map { $0 / Double(ins.count) } }
            return acc
        case "Neg": return try map { -$0 }
        case "Abs": return try map { Swift.abs($0) }
        case "Sqrt": return try map { $0.squareRoot() }
        case "Exp": return try map { Foundation.exp($0) }
        case "Log": return try map { Foundation.log($0) }
        case "Reciprocal": return try map { 1 / $0 }
        case "Floor": return try map { $0.rounded(.down) }
        case "Ceil": return try map { $0.rounded(.up) }
        case "Erf": return try map { Foundation.erf($0) }
        case "Sign": return try map { $0 > 0 ? 1 : $0 < 0 ? -1 : 0 }
        case "Softplus": return try map { Foundation.log(Foundation.exp($0) + 1) }
        case "Softsign": return try map { $0 / (1 + Swift.abs($0)) }
        case "Mish": return try map { $0 * Foundation.tanh(Foundation.log(Foundation.exp($0) + 1)) }
        case "HardSwish": return try map { $0 * Swift.max(0, Swift.min(1, $0 / 6 + 0.5)) }
        case "LeakyRelu":
            let a = f("alpha", Double(Float(0.01)))
            return try map { $0 < 0 ? a * $0 : $0 }
        case "Elu":
            let a = f("alpha", 1)
            return try map { $0 < 0 ? a * (Foundation.exp($0) - 1) : $0 }
        case "Selu":
            let a = f("alpha", Double(Float(1.67326319217681884765625))), g = f("gamma", Double(Float(1.05070102214813232421875)))
            return try map { $0 > 0 ? g * $0 : g * a * (Foundation.exp($0) - 1) }
        case "Celu":
            let a = f("alpha", 1)
            return try map { Swift.max(0, $0) + Swift.min(0, a * (Foundation.exp($0 / a) - 1)) }
        case "ThresholdedRelu":
            let a = f("alpha", 1)
            return try map { $0 > a ? $0 : 0 }
        case "HardSigmoid":
            let a = f("alpha", Double(Float(0.2))), b = f("beta", 0.5)
            return try map { Swift.max(0, Swift.min(1, a * $0 + b)) }
        case "Swish":
            let a = f("alpha", 1)
            return try map { $0 / (1 + Foundation.exp(-a * $0)) }
        case "Gelu":
            var tanhForm = false
            if case .string(let s)? = node.attribute("approximate")?.value { tanhForm = String(decoding: s, as: UTF8.self) == "tanh" }
            return try map { v in
                tanhForm ? 0.5 * v * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v)))
                    : 0.5 * v * (1 + Foundation.erf(v / 2.0.squareRoot()))
            }
        case "Clip":
            var lo = -Double.infinity, hi = Double.infinity
            if opset < 11 {
                lo = f("min", -Double(Float.greatestFiniteMagnitude))
                hi = f("max", Double(Float.greatestFiniteMagnitude))
            } else {
                if ins.count > 1, let t = ins[1] { lo = t.data[0] }
                if ins.count > 2, let t = ins[2] { hi = t.data[0] }
            }
            return try map { Swift.min(Swift.max($0, lo), hi) }
        case "LogSoftmax":
            let r = x.shape.count
            var axis = Int(i("axis", opset >= 13 ? -1 : 1))
            if axis < 0 { axis += r }
            // Before 13: softmax over the flattened dims from `axis` on; from 13: over `axis`.
            let outer = x.shape[..<axis].reduce(1, *)
            let length = opset >= 13 ? x.shape[axis] : x.shape[axis...].reduce(1, *)
            let inner = opset >= 13 ? x.shape[(axis + 1)...].reduce(1, *) : 1
            var y = x
            for o in 0..<outer {
                for ii in 0..<inner {
                    let idx = (0..<length).map { (o * length + $0) * inner + ii }
                    let m = idx.map { x.data[$0] }.max()!
                    let total = idx.reduce(0.0) { $0 + Foundation.exp(x.data[$1] - m) }
                    for j in idx { y.data[j] = x.data[j] - m - Foundation.log(total) }
                }
            }
            return y
        case let op where op.hasPrefix("Reduce"):
            return try reduce(node, x, ins, opset: opset)
        default:
            return nil
        }
    }

    /// ONNX Reduce*: axes from the attribute (before ReduceSum-13 / the others' 18) or input
    /// 1; absent or empty means all axes, or none with noop_with_empty_axes.
    static func reduce(_ node: Node, _ x: RefTensor, _ ins: [RefTensor?], opset: Int) throws -> RefTensor {
        let axesInput = opset >= (node.opType == "ReduceSum" ? 13 : 18)
        var axes: [Int] = []
        if axesInput {
            if ins.count > 1, let t = ins[1] { axes = t.data.map { Int($0) } }
        } else if case .ints(let v)? = node.attribute("axes")?.value {
            axes = v.map { Int($0) }
        }
        var keep = true, noop = false
        if case .int(let v)? = node.attribute("keepdims")?.value { keep = v != 0 }
        if case .int(let v)? = node.attribute("noop_with_empty_axes")?.value { noop = v != 0 }
        let r = x.shape.count
        var reduced = Set(axes.map { $0 < 0 ? $0 + r : $0 })
        if axes.isEmpty && !noop { reduced = Set(0..<r) }
        let outFull = x.shape.indices.map { reduced.contains($0) ? 1 : x.shape[$0] }
        var groups = [[Double]](repeating: [], count: outFull.reduce(1, *))
        let strides = RefTensor.strides(x.shape), outStrides = RefTensor.strides(outFull)
        for flat in 0..<x.count {
            var o = 0
            for d in 0..<r where !reduced.contains(d) { o += (flat / strides[d]) % x.shape[d] * outStrides[d] }
            groups[o].append(x.data[flat])
        }
        let data: [Double] = try groups.map { t in
            switch node.opType {
            case "ReduceSum": return t.reduce(0, +)
            case "ReduceMean": return t.reduce(0, +) / Double(t.count)
            case "ReduceMax": return t.max()!
            case "ReduceMin": return t.min()!
            case "ReduceProd": return t.reduce(1, *)
            case "ReduceL1": return t.reduce(0) { $0 + Swift.abs($1) }
            case "ReduceL2": return t.reduce(0) { $0 + $1 * $1 }.squareRoot()
            case "ReduceSumSquare": return t.reduce(0) { $0 + $1 * $1 }
            case "ReduceLogSum": return Foundation.log(t.reduce(0, +))
            case "ReduceLogSumExp": return Foundation.log(t.reduce(0) { $0 + Foundation.exp($1) })
            default: throw RefError.unsupported("reference evaluator has no \(node.opType)")
            }
        }
        let shape = keep ? outFull : x.shape.indices.filter { !reduced.contains($0) }.map { x.shape[$0] }
        return RefTensor(shape: shape, data: data)
    }

    /// f(a, b) with NumPy broadcasting.
    public static func broadcast(_ a: RefTensor, _ b: RefTensor, _ f: (Double, Double) -> Double) -> RefTensor {
        let r = Swift.max(a.shape.count, b.shape.count)
        let pa = Array(repeating: 1, count: r - a.shape.count) + a.shape
        let pb = Array(repeating: 1, count: r - b.shape.count) + b.shape
        let out = zip(pa, pb).map { Swift.max($0, $1) }
        let so = RefTensor.strides(out), sa = RefTensor.strides(pa), sb = RefTensor.strides(pb)
        let total = out.reduce(1, *)
        var y = RefTensor(shape: out, data: [Double](repeating: 0, count: total))
        for idx in 0..<total {
            var ia = 0, ib = 0, rem = idx
            for d in 0..<r {
                let coord = rem / so[d]
                rem %= so[d]
                if pa[d] != 1 { ia += coord * sa[d] }
                if pb[d] != 1 { ib += coord * sb[d] }
            }
            y.data[idx] = f(a.data[ia], b.data[ib])
        }
        return y
    }
}
