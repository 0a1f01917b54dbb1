import BNCGraph
import Foundation

/// The window operators of `ReferenceEvaluator` (Conv, ConvTranspose, MaxPool, AveragePool,
/// GlobalAveragePool, GlobalMaxPool, LRN) in 1, 2 and 3 spatial dimensions, in Double,
/// written from the ONNX operator docs with plain per-position loops: nothing is shared
/// with BNCKernels' window geometry or its im2col.
extension ReferenceEvaluator {
    /// Window attributes of one node, for an input of spatial size `input`.
    struct RefWindow {
        var kernel: [Int], strides: [Int], dilations: [Int], begin: [Int], end: [Int], output: [Int]
    }

    static func attributeInts(_ node: Node, _ name: String) -> [Int]? {
        if case .ints(let v)? = node.attribute(name)?.value { return v.map { Int($0) } }
        return nil
    }

    static func attributeInt(_ node: Node, _ name: String, _ d: Int) -> Int {
        if case .int(let v)? = node.attribute(name)?.value { return Int(v) }
        return d
    }

    static func attributeFloat(_ node: Node, _ name: String, _ d: Double) -> Double {
        if case .float(let v)? = node.attribute(name)?.value { return Double(v) }
        return d
    }

    static func autoPad(_ node: Node) -> String {
        if case .string(let v)? = node.attribute("auto_pad")?.value { return String(decoding: v, as: UTF8.self) }
        return "NOTSET"
    }

    /// ONNX's output size per axis: ⌊(in + pads − d·(k − 1) − 1)/s⌋ + 1 (⌈⌉ in ceil mode,
    /// dropping a last window that starts in the end padding); SAME_*: ⌈in/s⌉ with the
    /// total padding split (odd pixel at the end for UPPER); VALID: no padding.
    static func window(_ node: Node, input: [Int], kernel: [Int]) -> RefWindow {
        let r = input.count
        let s = attributeInts(node, "strides") ?? Array(repeating: 1, count: r)
        let d = attributeInts(node, "dilations") ?? Array(repeating: 1, count: r)
        var p = attributeInts(node, "pads") ?? Array(repeating: 0, count: 2 * r)
        let ceil = attributeInt(node, "ceil_mode", 0) != 0
        let mode = autoPad(node)
        var out = [Int](repeating: 0, count: r)
        for a in 0..<r {
            let span = d[a] * (kernel[a] - 1) + 1
            switch mode {
            case "SAME_UPPER", "SAME_LOWER":
                out[a] = (input[a] + s[a] - 1) / s[a]
                let total = max(0, (out[a] - 1) * s[a] + span - input[a])
                p[a] = mode == "SAME_UPPER" ? total / 2 : total - total / 2
                p[a + r] = total - p[a]
            case "VALID":
                p[a] = 0
                p[a + r] = 0
                out[a] = (input[a] - span) / s[a] + 1
            default:
                let q = Double(input[a] + p[a] + p[a + r] - span) / Double(s[a])
                out[a] = Int(ceil ? q.rounded(.up) : q.rounded(.down)) + 1
                if ceil && (out[a] - 1) * s[a] >= input[a] + p[a] { out[a] -= 1 }
            }
        }
        return RefWindow(kernel: kernel, strides: s, dilations: d, begin: Array(p[..<r]), end: Array(p[r...]), output: out)
    }

    /// Every multi-index of `sizes`, row-major.
    static func indices(_ sizes: [Int]) -> [[Int]] {
        var all: [[Int]] = [[]]
        for s in sizes { all = all.flatMap { prefix in (0..<s).map { prefix + [$0] } } }
        return all
    }

    static func offset(_ index: [Int], _ sizes: [Int]) -> Int {
        zip(index, sizes).reduce(0) { $0 * $1.1 + $1.0 }
    }

    /// Conv: y[n, m, o] = b[m] + Σ_{c ∈ group(m), k} x[n, c, o·s + k·d − pad] · w[m, c, k].
    static func conv(_ node: Node, _ x: RefTensor, _ w: RefTensor, _ bias: RefTensor?) -> RefTensor {
        let group = attributeInt(node, "group", 1)
        let (n, c, m, cg) = (x.shape[0], x.shape[1], w.shape[0], w.shape[1])
        precondition(cg * group == c)
        let input = Array(x.shape[2...]), kernel = Array(w.shape[2...])
        let win = window(node, input: input, kernel: kernel)
        let r = input.count, outS = win.output.reduce(1, *), inS = input.reduce(1, *), kS = kernel.reduce(1, *)
        var y = RefTensor(shape: [n, m] + win.output, data: [Double](repeating: 0, count: n * m * outS))
        let perGroup = m / group
        let outs = indices(win.output), taps = indices(kernel)
        for b in 0..<n {
            for o in 0..<m {
                let g = o / perGroup
                for (oi, pos) in outs.enumerated() {
                    var acc = bias?.data[o] ?? 0
                    for cc in 0..<cg {
                        let ch = g * cg + cc
                        for (ki, k) in taps.enumerated() {
                            let at = (0..<r).map { pos[$0] * win.strides[$0] + k[$0] * win.dilations[$0] - win.begin[$0] }
                            guard zip(at, input).allSatisfy({ $0 >= 0 && $0 < $1 }) else { continue }
                            acc += x.data[(b * c + ch) * inS + offset(at, input)] * w.data[(o * cg + cc) * kS + ki]
                        }
                    }
                    y.data[(b * m + o) * outS + oi] = acc
                }
            }
        }
        return y
    }

    /// ConvTranspose (ONNX-11 form): each x[n, c, i] · w[c, m, k] lands on output position
    /// i·s + k·d − pads_begin. Output size s·(in − 1) + output_padding + d·(k − 1) + 1 −
    /// pads, or output_shape (SAME_*: in·s), whose total padding is split with the odd
    /// pixel at the beginning except for SAME_UPPER (clamped at 0 when negative).
    static func convTranspose(_ node: Node, _ x: RefTensor, _ w: RefTensor, _ bias: RefTensor?) -> RefTensor {
        let group = attributeInt(node, "group", 1)
        let (n, c, mg) = (x.shape[0], x.shape[1], w.shape[1])
        let m = mg * group, cg = c / group
        let input = Array(x.shape[2...]), kernel = Array(w.shape[2...]), r = input.count
        let s = attributeInts(node, "strides") ?? Array(repeating: 1, count: r)
        let d = attributeInts(node, "dilations") ?? Array(repeating: 1, count: r)
        let adj = attributeInts(node, "output_padding") ?? Array(repeating: 0, count: r)
        var pads = attributeInts(node, "pads") ?? Array(repeating: 0, count: 2 * r)
        let mode = autoPad(node)
        var out = [Int](repeating: 0, count: r)
        let given = attributeInts(node, "output_shape").map { Array($0.suffix(r)) }
        for a in 0..<r {
            let full = s[a] * (input[a] - 1) + adj[a] + d[a] * (kernel[a] - 1) + 1
            if given != nil || mode == "SAME_UPPER" || mode == "SAME_LOWER" {
                out[a] = given?[a] ?? input[a] * s[a]
                let total = max(0, full - out[a])
                pads[a] = mode == "SAME_UPPER" ? total / 2 : total - total / 2
            } else {
                if mode == "VALID" { pads[a] = 0; pads[a + r] = 0 }
                out[a] = full - pads[a] - pads[a + r]
            }
        }
        let inS = input.reduce(1, *), outS = out.reduce(1, *), kS = kernel.reduce(1, *)
        var y = RefTensor(shape: [n, m] + out, data: [Double](repeating: 0, count: n * m * outS))
        let ins = indices(input), taps = indices(kernel)
        for b in 0..<n {
            for ch in 0..<c {
                let g = ch / cg
                for (ii, i) in ins.enumerated() {
                    let v = x.data[(b * c + ch) * inS + ii]
                    for (ki, k) in taps.enumerated() {
                        let o = (0..<r).map { i[$0] * s[$0] + k[$0] * d[$0] - pads[$0] }
                        guard zip(o, out).allSatisfy({ $0 >= 0 && $0 < $1 }) else { continue }
                        for ml in 0..<mg {
                            y.data[(b * m + g * mg + ml) * outS + offset(o, out)] += v * w.data[(ch * mg + ml) * kS + ki]
                        }
                    }
                }
            }
        }
        if let bias {
            for i in 0..<y.count { y.data[i] += bias.data[(i / outS) % m] }
        }
        return y
    }

    /// MaxPool (padding never wins) and AveragePool (sum over the window's taps on the
    /// input, divided by their number, or with count_include_pad by the number of taps on
    /// the padded input [−pads_begin, in + pads_end)).
    static func pool(_ node: Node, _ x: RefTensor, average: Bool) -> RefTensor {
        let kernel = attributeInts(node, "kernel_shape")!
        let (n, c) = (x.shape[0], x.shape[1])
        let input = Array(x.shape[2...]), r = input.count
        let win = window(node, input: input, kernel: kernel)
        let includePad = attributeInt(node, "count_include_pad", 0) != 0
        let inS = input.reduce(1, *)
        var y = RefTensor(shape: [n, c] + win.output, data: [])
        let outs = indices(win.output), taps = indices(kernel)
        for plane in 0..<(n * c) {
            for pos in outs {
                var best = -Double.infinity, sum = 0.0, count = 0
                for k in taps {
                    let at = (0..<r).map { pos[$0] * win.strides[$0] + k[$0] * win.dilations[$0] - win.begin[$0] }
                    let inside = zip(at, input).allSatisfy { $0 >= 0 && $0 < $1 }
                    let padded = (0..<r).allSatisfy { at[$0] >= -win.begin[$0] && at[$0] < input[$0] + win.end[$0] }
                    if inside {
                        let v = x.data[plane * inS + offset(at, input)]
                        best = max(best, v)
                        sum += v
                    }
                    if includePad ? padded : inside { count += 1 }
                }
                y.data.append(average ? sum / Double(count) : best)
            }
        }
        return y
    }

    /// GlobalAveragePool and GlobalMaxPool: (N, C, spatial…) → (N, C, 1, …).
    static func globalPool(_ x: RefTensor, average: Bool) -> RefTensor {
        let planes = x.shape[0] * x.shape[1], s = x.shape[2...].reduce(1, *)
        let data = (0..<planes).map { p -> Double in
            let v = x.data[(p * s)..<((p + 1) * s)]
            return average ? v.reduce(0, +) / Double(s) : v.max()!
        }
        return RefTensor(shape: [x.shape[0], x.shape[1]] + Array(repeating: 1, count: x.shape.count - 2), data: data)
    }

    /// LRN: y = x / (bias + alpha/size · Σ x²)^beta over channels
    /// max(0, c − ⌊(size − 1)/2⌋) … min(C − 1, c + ⌈(size − 1)/2⌉).
    static func lrn(_ node: Node, _ x: RefTensor) -> RefTensor {
        let size = attributeInt(node, "size", 0)
        let alpha = attributeFloat(node, "alpha", Double(Float(1e-4))), beta = attributeFloat(node, "beta", 0.75)
        let bias = attributeFloat(node, "bias", 1)
        let c = x.shape[1], s = x.shape[2...].reduce(1, *)
        var y = x
        for i in 0..<x.count {
            let ch = (i / s) % c, base = i - ch * s
            let lo = max(0, ch - Int(floor(Double(size - 1) / 2))), hi = min(c - 1, ch + Int(ceil(Double(size - 1) / 2)))
            let sq = (lo...hi).reduce(0.0) { $0 + x.data[base + $1 * s] * x.data[base + $1 * s] }
            y.data[i] = x.data[i] / pow(bias + alpha / Double(size) * sq, beta)
        }
        return y
    }
}
