import BNCGraph
import Foundation

/// A naive Double evaluator of every operator bnc runs, written straight from the ONNX
/// operator docs, independent of BNCRuntime and BNCKernels: the executor's kernels and the
/// fold pass are checked against the operator definitions, not against bnc's own code.
/// Shared by BNCRuntimeTests and BNCPassesTests (the BNCTestSupport target).
public struct RefTensor {
    public var shape: [Int]
    public var data: [Double]

    public init(shape: [Int], data: [Double]) {
        self.shape = shape
        self.data = data
    }

    public var count: Int { data.count }

    public static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= shape[i]
        }
        return s
    }
}

public enum RefError: Error, CustomStringConvertible {
    case unsupported(String)
    public var description: String {
        switch self { case .unsupported(let s): return s }
    }
}

public enum ReferenceEvaluator {
    /// Evaluates the graph's first output for one input value.
    public static func run(_ graph: Graph, input: RefTensor) throws -> RefTensor {
        var env: [String: RefTensor] = [:]
        for t in graph.initializers {
            let values = t.floats?.map(Double.init) ?? t.integers?.map(Double.init) ?? []
            env[t.name] = RefTensor(shape: t.dims, data: values)
        }
        env[graph.runtimeInputs[0].name] = input
        for node in graph.nodes {
            let ins = node.inputs.map { $0.isEmpty ? nil : env[$0] }
            env[node.outputs[0]] = try eval(node, ins)
        }
        guard let out = env[graph.outputs[0].name] else { throw RefError.unsupported("no output") }
        return out
    }

    static func eval(_ node: Node, _ ins: [RefTensor?]) throws -> RefTensor {
        func i(_ n: String, _ d: Int64) -> Int64 {
            if case .int(let v)? = node.attribute(n)?.value { return v }
            return d
        }
        func f(_ n: String, _ d: Double) -> Double {
            if case .float(let v)? = node.attribute(n)?.value { return Double(v) }
            return d
        }
        func ints(_ n: String) -> [Int]? {
            if case .ints(let v)? = node.attribute(n)?.value { return v.map { Int($0) } }
            return nil
        }
        guard let x = ins[0] else { throw RefError.unsupported("missing input") }
        switch node.opType {
        case "Identity", "Dropout": return x
        case "Relu": return RefTensor(shape: x.shape, data: x.data.map { max($0, 0) })
        case "Sigmoid": return RefTensor(shape: x.shape, data: x.data.map { 1 / (1 + exp(-$0)) })
        case "Tanh": return RefTensor(shape: x.shape, data: x.data.map { tanh($0) })
        case "Flatten":
            var axis = Int(i("axis", 1))
            if axis < 0 { axis += x.shape.count }
            return RefTensor(shape: [x.shape[..<axis].reduce(1, *), x.shape[axis...].reduce(1, *)], data: x.data)
        case "Reshape":
            let target = ins[1]!.data.map { Int($0) }
            var out = target.enumerated().map { $0.element == 0 ? x.shape[$0.offset] : $0.element }
            if let at = out.firstIndex(of: -1) {
                out[at] = 1
                out[at] = x.count / out.reduce(1, *)
            }
            return RefTensor(shape: out, data: x.data)
        case "Softmax":
            var axis = Int(i("axis", -1))
            if axis < 0 { axis += x.shape.count }
            let outer = x.shape[..<axis].reduce(1, *), len = x.shape[axis], inner = x.shape[(axis + 1)...].reduce(1, *)
            var y = x
            for o in 0..<outer {
                for ii in 0..<inner {
                    let idx = (0..<len).map { (o * len + $0) * inner + ii }
                    let mx = idx.map { x.data[$0] }.max()!
                    let total = idx.reduce(0.0) { $0 + exp(x.data[$1] - mx) }
                    for j in idx { y.data[j] = exp(x.data[j] - mx) / total }
                }
            }
            return y
        case "MaxPool":
            let k = ints("kernel_shape")!, s = ints("strides") ?? [1, 1], d = ints("dilations") ?? [1, 1]
            var p = ints("pads") ?? [0, 0, 0, 0]
            let ceil = i("ceil_mode", 0) != 0
            var autoPad = "NOTSET"
            if case .string(let v)? = node.attribute("auto_pad")?.value { autoPad = String(decoding: v, as: UTF8.self) }
            let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
            let dk = [(k[0] - 1) * d[0] + 1, (k[1] - 1) * d[1] + 1]
            var o = [0, 0]
            let ins = [h, w]
            for a in 0..<2 {
                switch autoPad {
                case "SAME_UPPER", "SAME_LOWER":
                    o[a] = (ins[a] + s[a] - 1) / s[a]
                    let t = max(0, (o[a] - 1) * s[a] + dk[a] - ins[a])
                    p[a] = autoPad == "SAME_UPPER" ? t / 2 : t - t / 2
                    p[a + 2] = t - p[a]
                case "VALID":
                    p[a] = 0; p[a + 2] = 0
                    o[a] = (ins[a] - dk[a]) / s[a] + 1
                default:
                    let span = Double(ins[a] + p[a] + p[a + 2] - dk[a]) / Double(s[a])
                    o[a] = Int(ceil ? span.rounded(.up) : span.rounded(.down)) + 1
                    if ceil && (o[a] - 1) * s[a] >= ins[a] + p[a] { o[a] -= 1 }
                }
            }
            var y = RefTensor(shape: [n, c, o[0], o[1]], data: [])
            for plane in 0..<(n * c) {
                for oy in 0..<o[0] {
                    for ox in 0..<o[1] {
                        var best = -Double.infinity
                        for ky in 0..<k[0] {
                            let iy = oy * s[0] - p[0] + ky * d[0]
                            if iy < 0 || iy >= h { continue }
                            for kx in 0..<k[1] {
                                let ix = ox * s[1] - p[1] + kx * d[1]
                                if ix < 0 || ix >= w { continue }
                                best = max(best, x.data[(plane * h + iy) * w + ix])
                            }
                        }
                        y.data.append(best)
                    }
                }
            }
            return y
        case "Add": return broadcastAdd(x, ins[1]!)
        case "Gemm":
            let b = ins[1]!
            let ta = i("transA", 0) != 0, tb = i("transB", 0) != 0
            let alpha = f("alpha", 1), beta = f("beta", 1)
            let m = ta ? x.shape[1] : x.shape[0], k = ta ? x.shape[0] : x.shape[1]
            let n = tb ? b.shape[0] : b.shape[1]
            var y = RefTensor(shape: [m, n], data: [Double](repeating: 0, count: m * n))
            for r in 0..<m {
                for c in 0..<n {
                    var acc = 0.0
                    for kk in 0..<k {
                        let a = ta ? x.data[kk * m + r] : x.data[r * k + kk]
                        let w = tb ? b.data[c * k + kk] : b.data[kk * n + c]
                        acc += a * w
                    }
                    y.data[r * n + c] = alpha * acc
                }
            }
            if ins.count > 2, let c = ins[2] {
                let cb = broadcastAdd(RefTensor(shape: [m, n], data: [Double](repeating: 0, count: m * n)), c)
                for j in 0..<(m * n) { y.data[j] += beta * cb.data[j] }
            }
            return y
        case "MatMul":
            let b = ins[1]!
            let k = b.shape[0], n = b.shape.count == 2 ? b.shape[1] : 1, rows = x.count / k
            var y = RefTensor(shape: Array(x.shape.dropLast()) + (b.shape.count == 2 ? [n] : []), data: [Double](repeating: 0, count: rows * n))
            for r in 0..<rows {
                for c in 0..<n {
                    var acc = 0.0
                    for kk in 0..<k { acc += x.data[r * k + kk] * b.data[kk * n + c] }
                    y.data[r * n + c] = acc
                }
            }
            return y
        case "BatchNormalization":
            let g = ins[1]!.data, bb = ins[2]!.data, mu = ins[3]!.data, v = ins[4]!.data
            let eps = f("epsilon", Double(Float(1e-5)))
            let c = x.shape[1], inner = x.shape.dropFirst(2).reduce(1, *)
            var y = x
            for idx in 0..<x.count {
                let ch = (idx / inner) % c
                y.data[idx] = g[ch] * (x.data[idx] - mu[ch]) / (v[ch] + eps).squareRoot() + bb[ch]
            }
            return y
        case "Conv":
            let w = ins[1]!
            let group = Int(i("group", 1))
            let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
            let (m, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
            precondition(cg * group == c)
            let s = ints("strides") ?? [1, 1], d = ints("dilations") ?? [1, 1]
            var p = ints("pads") ?? [0, 0, 0, 0]
            var autoPad = "NOTSET"
            if case .string(let v)? = node.attribute("auto_pad")?.value { autoPad = String(decoding: v, as: UTF8.self) }
            var oh: Int, ow: Int
            switch autoPad {
            case "SAME_UPPER", "SAME_LOWER":
                oh = (h + s[0] - 1) / s[0]; ow = (wd + s[1] - 1) / s[1]
                let th = max(0, (oh - 1) * s[0] + (kh - 1) * d[0] + 1 - h)
                let tw = max(0, (ow - 1) * s[1] + (kw - 1) * d[1] + 1 - wd)
                p = autoPad == "SAME_UPPER" ? [th / 2, tw / 2, th - th / 2, tw - tw / 2] : [th - th / 2, tw - tw / 2, th / 2, tw / 2]
            case "VALID":
                p = [0, 0, 0, 0]
                fallthrough
            default:
                oh = (h + p[0] + p[2] - ((kh - 1) * d[0] + 1)) / s[0] + 1
                ow = (wd + p[1] + p[3] - ((kw - 1) * d[1] + 1)) / s[1] + 1
            }
            let bias = ins.count > 2 ? ins[2] : nil
            var y = RefTensor(shape: [n, m, oh, ow], data: [Double](repeating: 0, count: n * m * oh * ow))
            let perGroup = m / group
            for b in 0..<n {
                for o in 0..<m {
                    let g = o / perGroup
                    for yy in 0..<oh {
                        for xx in 0..<ow {
                            var acc = bias?.data[o] ?? 0
                            for cc in 0..<cg {
                                let ch = g * cg + cc
                                for ky in 0..<kh {
                                    let iy = yy * s[0] - p[0] + ky * d[0]
                                    if iy < 0 || iy >= h { continue }
                                    for kx in 0..<kw {
                                        let ix = xx * s[1] - p[1] + kx * d[1]
                                        if ix < 0 || ix >= wd { continue }
                                        acc += x.data[((b * c + ch) * h + iy) * wd + ix] * w.data[((o * cg + cc) * kh + ky) * kw + kx]
                                    }
                                }
                            }
                            y.data[((b * m + o) * oh + yy) * ow + xx] = acc
                        }
                    }
                }
            }
            return y
        default:
            throw RefError.unsupported("reference evaluator has no \(node.opType)")
        }
    }

    /// Numpy broadcasting a + b.
    static func broadcastAdd(_ a: RefTensor, _ b: RefTensor) -> RefTensor {
        let r = max(a.shape.count, b.shape.count)
        let pa = Array(repeating: 1, count: r - a.shape.count) + a.shape
        let pb = Array(repeating: 1, count: r - b.shape.count) + b.shape
        let out = zip(pa, pb).map { max($0, $1) }
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
            y.data[idx] = a.data[ia] + b.data[ib]
        }
        return y
    }
}
