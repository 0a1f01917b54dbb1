import BNCGraph

// Shape legend used in this module's comments:
//   N batch, C input channels/features, M output channels/features, K reduction length,
//   H, W input height/width, OH, OW output height/width, kh, kw kernel height/width.
// Every shape here is a full shape with the batch as dim 0 unless it says "per sample".

/// One node with its attributes resolved against concrete input shapes: what the executor
/// compiles into a kernel call and what shape inference reports. Internal to the runtime.
enum OpSpec: Sendable {
    /// Y (M, N) = alpha · op(A) · op(B) + beta · C; `bias` is C (unidirectionally
    /// broadcastable to (M, N)).
    case gemm(GemmSpec)
    /// Y (…, M, N) = A (…, M, K) · B (K, N); B must be rank 2 (or 1).
    case matMul(MatMulSpec)
    /// Y = A + B with numpy broadcasting.
    case add(BroadcastSpec)
    case conv(ConvShape)
    /// Inference BN on (N, C, …): per-channel affine over `inner` elements per channel.
    case batchNorm(channels: Int, inner: Int, epsilon: Float)
    case relu, sigmoid, tanh
    case maxPool(PoolShape)
    case softmax(outer: Int, axisLength: Int, inner: Int)
    /// Flatten, Reshape, Identity, Dropout: the output is the input's memory, new shape.
    case alias
}

/// Resolved Gemm: sizes and transposition.
struct GemmSpec: Sendable, Equatable {
    var m: Int, n: Int, k: Int
    var transA: Bool, transB: Bool
    var alpha: Float, beta: Float
    /// Shape of C, or nil when absent.
    var biasShape: [Int]?
}

/// Resolved MatMul with a rank-2 B: `rows` = product of A's leading dims.
struct MatMulSpec: Sendable, Equatable {
    var rows: Int, k: Int, n: Int
}

/// Numpy broadcasting of two operands to `outShape`; strides are 0 on broadcast dims.
struct BroadcastSpec: Sendable, Equatable {
    var outShape: [Int]
    var stridesA: [Int]
    var stridesB: [Int]
}

/// 2-D convolution geometry. X (N, C, H, W), W (M, C/group, kh, kw), Y (N, M, OH, OW).
struct ConvShape: Sendable, Equatable {
    var n: Int, c: Int, h: Int, w: Int
    var m: Int, group: Int
    var kh: Int, kw: Int
    var strideH: Int, strideW: Int
    var dilationH: Int, dilationW: Int
    var padTop: Int, padLeft: Int, padBottom: Int, padRight: Int
    var oh: Int, ow: Int
}

/// 2-D max-pool geometry. X (N, C, H, W) → Y (N, C, OH, OW); padding never wins the max.
struct PoolShape: Sendable, Equatable {
    var n: Int, c: Int, h: Int, w: Int
    var kh: Int, kw: Int
    var strideH: Int, strideW: Int
    var dilationH: Int, dilationW: Int
    var padTop: Int, padLeft: Int, padBottom: Int, padRight: Int
    var ceilMode: Bool
    var oh: Int, ow: Int
}

/// Resolves one node given the shapes of its inputs ("" inputs have no shape).
/// Throws `.unsupportedModel` naming the node for anything bnc cannot run.
struct OpResolver {
    let graph: Graph
    let node: Node
    let index: Int
    /// Shape of each of `node.inputs` (nil for omitted optional inputs).
    let inputShapes: [[Int]?]

    var place: String { node.label(index: index) }

    func fail(_ problem: String) -> ModelError {
        ModelError(.unsupportedModel, place: place, problem: problem)
    }

    func shape(_ i: Int) throws(ModelError) -> [Int] {
        guard i < inputShapes.count, let s = inputShapes[i] else {
            throw fail("input \(i) is missing")
        }
        return s
    }

    /// The resolved op and the shape of its (first) output.
    func resolve() throws(ModelError) -> (OpSpec, [Int]) {
        switch node.opType {
        case "Gemm": return try gemm()
        case "MatMul": return try matMul()
        case "Add": return try add()
        case "Conv": return try conv()
        case "BatchNormalization": return try batchNorm()
        case "Relu": return (.relu, try shape(0))
        case "Sigmoid": return (.sigmoid, try shape(0))
        case "Tanh": return (.tanh, try shape(0))
        case "Identity": return (.alias, try shape(0))
        case "Dropout": return try dropout()
        case "MaxPool": return try maxPool()
        case "Flatten": return try flatten()
        case "Reshape": return try reshape()
        case "Softmax": return try softmax()
        default:
            throw ModelError(.unsupportedOperator, place: place, problem: "operator '\(node.opType)' is not supported by the executor")
        }
    }

    private func shapeText(_ s: [Int]) -> String { "(" + s.map(String.init).joined(separator: ", ") + ")" }

    private func gemm() throws(ModelError) -> (OpSpec, [Int]) {
        let a = try shape(0), b = try shape(1)
        guard a.count == 2, b.count == 2 else {
            throw fail("Gemm needs rank-2 A and B, got A \(shapeText(a)) and B \(shapeText(b))")
        }
        let transA = try node.int("transA", default: 0) != 0
        let transB = try node.int("transB", default: 0) != 0
        let alpha = try node.float("alpha", default: 1)
        let beta = try node.float("beta", default: 1)
        let m = transA ? a[1] : a[0], k = transA ? a[0] : a[1]
        let kb = transB ? b[1] : b[0], n = transB ? b[0] : b[1]
        guard k == kb else {
            throw fail("A \(shapeText(a))\(transA ? "ᵀ" : "") and B \(shapeText(b))\(transB ? "ᵀ" : "") do not share the reduction length (\(k) vs \(kb))")
        }
        var biasShape: [Int]? = nil
        if inputShapes.count > 2, let c = inputShapes[2] {
            guard Self.unidirectional(c, to: [m, n]) else {
                throw fail("bias C \(shapeText(c)) does not broadcast to the output (\(m), \(n))")
            }
            biasShape = c
        }
        return (.gemm(GemmSpec(m: m, n: n, k: k, transA: transA, transB: transB, alpha: alpha, beta: beta, biasShape: biasShape)), [m, n])
    }

    private func matMul() throws(ModelError) -> (OpSpec, [Int]) {
        let a = try shape(0), b = try shape(1)
        guard !a.isEmpty, b.count == 2 || b.count == 1 else {
            throw fail("MatMul is supported for a rank-1 or rank-2 B (weights), got A \(shapeText(a)) and B \(shapeText(b))")
        }
        let k = a[a.count - 1]
        guard b[0] == k else {
            throw fail("A \(shapeText(a)) and B \(shapeText(b)) do not share the reduction length (\(k) vs \(b[0]))")
        }
        let n = b.count == 2 ? b[1] : 1
        let rows = a.dropLast().reduce(1, *)
        var out = Array(a.dropLast())
        if b.count == 2 { out.append(n) }
        return (.matMul(MatMulSpec(rows: rows, k: k, n: n)), out)
    }

    private func add() throws(ModelError) -> (OpSpec, [Int]) {
        let a = try shape(0), b = try shape(1)
        guard let spec = Self.broadcast(a, b) else {
            throw fail("shapes \(shapeText(a)) and \(shapeText(b)) do not broadcast")
        }
        return (.add(spec), spec.outShape)
    }

    private func batchNorm() throws(ModelError) -> (OpSpec, [Int]) {
        let x = try shape(0)
        guard x.count >= 2 else {
            throw fail("BatchNormalization input has shape \(shapeText(x)); bnc needs (N, C, …)")
        }
        let c = x[1]
        for i in 1...4 {
            let p = try shape(i)
            guard p.reduce(1, *) == c, p.count <= 1 else {
                throw fail("parameter '\(node.inputs[i])' has shape \(shapeText(p)), expected (\(c)) for \(c) channels")
            }
        }
        if try node.int("training_mode", default: 0) != 0 {
            throw fail("training_mode is 1; bnc runs BatchNormalization with the moving statistics only")
        }
        let eps = try node.float("epsilon", default: 1e-5)
        guard eps.isFinite, eps >= 0 else { throw fail("epsilon \(eps) is not a finite non-negative number") }
        let inner = x.dropFirst(2).reduce(1, *)
        return (.batchNorm(channels: c, inner: inner, epsilon: eps), x)
    }

    private func dropout() throws(ModelError) -> (OpSpec, [Int]) {
        // Inference: identity. A training_mode input must be a constant false.
        if node.inputs.count > 2, !node.inputs[2].isEmpty {
            let name = node.inputs[2]
            guard let t = graph.initializer(named: name) else {
                throw fail("training_mode input '\(name)' is not a constant; bnc runs Dropout in inference mode only")
            }
            let on: Bool
            switch t.storage {
            case .float(let v): on = v.contains { $0 != 0 }
            case .int64(let v): on = v.contains { $0 != 0 }
            case .int32(let v): on = v.contains { $0 != 0 }
            case .bool(let v): on = v.contains(true)
            }
            if on { throw fail("training_mode input '\(name)' is true; bnc runs Dropout in inference mode only") }
        }
        if node.outputs.count > 1, !node.outputs[1].isEmpty {
            let mask = node.outputs[1]
            if !graph.consumers(of: mask).isEmpty || graph.isGraphOutput(mask) {
                throw fail("the mask output '\(mask)' is used; bnc does not produce Dropout masks")
            }
        }
        return (.alias, try shape(0))
    }

    private func flatten() throws(ModelError) -> (OpSpec, [Int]) {
        let x = try shape(0)
        var axis = Int(try node.int("axis", default: 1))
        if axis < 0 { axis += x.count }
        guard axis >= 0, axis <= x.count else {
            throw fail("axis \(try node.int("axis", default: 1)) is out of range for rank \(x.count)")
        }
        return (.alias, [x[..<axis].reduce(1, *), x[axis...].reduce(1, *)])
    }

    private func reshape() throws(ModelError) -> (OpSpec, [Int]) {
        let x = try shape(0)
        let name = node.inputs[1]
        guard let t = graph.initializer(named: name) else {
            throw fail("shape input '\(name)' is not a constant initializer; bnc needs a fixed target shape")
        }
        guard let target = t.int64s, t.dims.count == 1 else {
            throw fail("shape input '\(name)' must be a 1-D INT64 tensor")
        }
        let allowZero = try node.int("allowzero", default: 0) != 0
        let total = x.reduce(1, *)
        var out: [Int] = []
        var inferAt: Int? = nil
        for (i, d) in target.enumerated() {
            if d == -1 {
                guard inferAt == nil else { throw fail("shape \(target) has more than one -1") }
                inferAt = i
                out.append(1)
            } else if d == 0 && !allowZero {
                guard i < x.count else { throw fail("shape \(target) copies dim \(i) (0) but the input has rank \(x.count)") }
                out.append(x[i])
            } else if d <= 0 {
                throw fail("shape \(target) has dim \(d); bnc does not run empty or negative shapes")
            } else {
                guard let di = Int(exactly: d), di <= total else {
                    throw fail("shape \(target) does not fit the input's \(total) elements")
                }
                out.append(di)
            }
        }
        let known = out.reduce(1, *)
        if let at = inferAt {
            guard known > 0, total % known == 0 else {
                throw fail("shape \(target) cannot hold the input's \(total) elements")
            }
            out[at] = total / known
        }
        guard out.reduce(1, *) == total else {
            throw fail("shape \(target) holds \(out.reduce(1, *)) elements, the input \(shapeText(x)) has \(total)")
        }
        return (.alias, out)
    }

    private func softmax() throws(ModelError) -> (OpSpec, [Int]) {
        let x = try shape(0)
        var axis = Int(try node.int("axis", default: -1))
        if axis < 0 { axis += x.count }
        guard axis >= 0, axis < x.count else {
            throw fail("axis \(try node.int("axis", default: -1)) is out of range for rank \(x.count)")
        }
        return (.softmax(outer: x[..<axis].reduce(1, *), axisLength: x[axis], inner: x[(axis + 1)...].reduce(1, *)), x)
    }

    /// Kernel sizes, strides, dilations and pads of a 2-D window op, with auto_pad applied.
    private func window(
        input x: [Int], kernel: (Int, Int)
    ) throws(ModelError) -> (stride: (Int, Int), dilation: (Int, Int), pads: (Int, Int, Int, Int), out: (Int, Int)) {
        func pair(_ name: String, default d: Int) throws(ModelError) -> (Int, Int) {
            guard let v = try node.ints(name) else { return (d, d) }
            guard v.count == 2, let a = Int(exactly: v[0]), let b = Int(exactly: v[1]), a >= 1, b >= 1, a <= 1 << 20, b <= 1 << 20 else {
                throw fail("\(name) \(v) must be two positive numbers (2-D)")
            }
            return (a, b)
        }
        let stride = try pair("strides", default: 1)
        let dilation = try pair("dilations", default: 1)
        let dk = ((kernel.0 - 1) * dilation.0 + 1, (kernel.1 - 1) * dilation.1 + 1)
        let (h, w) = (x[2], x[3])
        let autoPad = try node.string("auto_pad") ?? "NOTSET"
        var pads = (0, 0, 0, 0)  // top, left, bottom, right
        let ceilMode = try node.int("ceil_mode", default: 0) != 0
        switch autoPad {
        case "NOTSET":
            if let p = try node.ints("pads") {
                guard p.count == 4, p.allSatisfy({ $0 >= 0 && $0 <= 1 << 20 }) else {
                    throw fail("pads \(p) must be four non-negative numbers (2-D: top, left, bottom, right)")
                }
                pads = (Int(p[0]), Int(p[1]), Int(p[2]), Int(p[3]))
            }
            func outSize(_ i: Int, _ pb: Int, _ pe: Int, _ d: Int, _ s: Int) -> Int {
                let span = i + pb + pe - d
                if span < 0 { return 0 }
                if !ceilMode { return span / s + 1 }
                var o = (span + s - 1) / s + 1
                // The last window must start inside the input or the leading pad.
                if (o - 1) * s >= i + pb { o -= 1 }
                return o
            }
            let oh = outSize(h, pads.0, pads.2, dk.0, stride.0)
            let ow = outSize(w, pads.1, pads.3, dk.1, stride.1)
            guard oh >= 1, ow >= 1 else {
                throw fail("the \(kernel.0)×\(kernel.1) window (dilated \(dk.0)×\(dk.1)) does not fit the \(h)×\(w) input with pads \(pads)")
            }
            return (stride, dilation, pads, (oh, ow))
        case "VALID":
            guard h >= dk.0, w >= dk.1 else {
                throw fail("the \(dk.0)×\(dk.1) window does not fit the \(h)×\(w) input (auto_pad VALID)")
            }
            return (stride, dilation, pads, ((h - dk.0) / stride.0 + 1, (w - dk.1) / stride.1 + 1))
        case "SAME_UPPER", "SAME_LOWER":
            let oh = (h + stride.0 - 1) / stride.0, ow = (w + stride.1 - 1) / stride.1
            let th = max(0, (oh - 1) * stride.0 + dk.0 - h), tw = max(0, (ow - 1) * stride.1 + dk.1 - w)
            if autoPad == "SAME_UPPER" {
                pads = (th / 2, tw / 2, th - th / 2, tw - tw / 2)
            } else {
                pads = (th - th / 2, tw - tw / 2, th / 2, tw / 2)
            }
            return (stride, dilation, pads, (oh, ow))
        default:
            throw fail("auto_pad '\(autoPad)' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER")
        }
    }

    private func conv() throws(ModelError) -> (OpSpec, [Int]) {
        let x = try shape(0), wt = try shape(1)
        guard x.count == 4, wt.count == 4 else {
            throw fail("bnc runs 2-D convolutions: X must be (N, C, H, W) and W (M, C/group, kh, kw), got X \(shapeText(x)) and W \(shapeText(wt))")
        }
        let group = Int(try node.int("group", default: 1))
        guard group >= 1, x[1] % group == 0, wt[0] % group == 0 else {
            throw fail("group \(group) must divide the \(x[1]) input and \(wt[0]) output channels")
        }
        guard wt[1] * group == x[1] else {
            throw fail("W \(shapeText(wt)) expects \(wt[1]) channels per group × \(group) groups, the input has \(x[1])")
        }
        if let ks = try node.ints("kernel_shape"), ks != [Int64(wt[2]), Int64(wt[3])] {
            throw fail("kernel_shape \(ks) does not match W \(shapeText(wt))")
        }
        if inputShapes.count > 2, let b = inputShapes[2] {
            guard b.count == 1, b[0] == wt[0] else {
                throw fail("bias \(shapeText(b)) must be (\(wt[0])) for \(wt[0]) output channels")
            }
        }
        let g = try window(input: x, kernel: (wt[2], wt[3]))
        let geo = ConvShape(
            n: x[0], c: x[1], h: x[2], w: x[3], m: wt[0], group: group, kh: wt[2], kw: wt[3],
            strideH: g.stride.0, strideW: g.stride.1, dilationH: g.dilation.0, dilationW: g.dilation.1,
            padTop: g.pads.0, padLeft: g.pads.1, padBottom: g.pads.2, padRight: g.pads.3, oh: g.out.0, ow: g.out.1)
        return (.conv(geo), [x[0], wt[0], g.out.0, g.out.1])
    }

    private func maxPool() throws(ModelError) -> (OpSpec, [Int]) {
        let x = try shape(0)
        guard x.count == 4 else { throw fail("bnc runs 2-D max pooling on (N, C, H, W), got \(shapeText(x))") }
        guard let ks = try node.ints("kernel_shape"), ks.count == 2, ks.allSatisfy({ $0 >= 1 && $0 <= 1 << 20 }) else {
            throw fail("kernel_shape must be two positive numbers (2-D)")
        }
        let g = try window(input: x, kernel: (Int(ks[0]), Int(ks[1])))
        let autoPad = try node.string("auto_pad") ?? "NOTSET"
        let ceilMode = try node.int("ceil_mode", default: 0) != 0 && autoPad == "NOTSET"
        let geo = PoolShape(
            n: x[0], c: x[1], h: x[2], w: x[3], kh: Int(ks[0]), kw: Int(ks[1]),
            strideH: g.stride.0, strideW: g.stride.1, dilationH: g.dilation.0, dilationW: g.dilation.1,
            padTop: g.pads.0, padLeft: g.pads.1, padBottom: g.pads.2, padRight: g.pads.3,
            ceilMode: ceilMode,
            oh: g.out.0, ow: g.out.1)
        return (.maxPool(geo), [x[0], x[1], g.out.0, g.out.1])
    }

    /// Whether `small` broadcasts to `target` without changing `target` (ONNX unidirectional).
    static func unidirectional(_ small: [Int], to target: [Int]) -> Bool {
        guard small.count <= target.count else { return false }
        for (i, d) in small.reversed().enumerated() {
            let t = target[target.count - 1 - i]
            if d != t && d != 1 { return false }
        }
        return true
    }

    /// Numpy multidirectional broadcasting, or nil when the shapes are incompatible.
    static func broadcast(_ a: [Int], _ b: [Int]) -> BroadcastSpec? {
        let r = max(a.count, b.count)
        let pa = Array(repeating: 1, count: r - a.count) + a
        let pb = Array(repeating: 1, count: r - b.count) + b
        var out = [Int](repeating: 1, count: r)
        for i in 0..<r {
            if pa[i] == pb[i] || pb[i] == 1 { out[i] = pa[i] } else if pa[i] == 1 { out[i] = pb[i] } else { return nil }
        }
        func strides(_ p: [Int]) -> [Int] {
            var s = [Int](repeating: 0, count: r)
            var acc = 1
            for i in stride(from: r - 1, through: 0, by: -1) {
                s[i] = p[i] == 1 && out[i] != 1 ? 0 : acc
                acc *= p[i]
            }
            return s
        }
        return BroadcastSpec(outShape: out, stridesA: strides(pa), stridesB: strides(pb))
    }
}
