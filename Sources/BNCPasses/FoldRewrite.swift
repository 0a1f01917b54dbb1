import BNCGraph

/// The graph edits and Double arithmetic of one fold, on a private copy of the graph.
/// Throws `SkipReason` (the copy is then discarded).
///
/// Notation: s_k = γ_k/σ_k and t_k = β_k − γ_k μ_k/σ_k (see `BNParameters`).
struct Rewrite {
    var graph: Graph
    let options: FoldOptions

    /// What a fold changed, before the BN is removed.
    struct Partial {
        /// The node reported as the fold target.
        var intoIndex: Int
        /// The node that takes over the BN's output (backward).
        var outputIndex: Int
        var opBefore: String
        var weight = "", weightShape: [Int] = []
        var bias = "", biasShape: [Int] = []
        var createdBias = false
        var cloned = false
        var note = ""
        var maxAbs = 0.0
    }

    // MARK: Backward

    /// Conv W (M, C/group, kh, kw): W'[m] = s_m W[m]; b'_m = s_m b_m + t_m.
    mutating func backwardConv(_ ci: Int, _ p: BNParameters) throws(SkipReason) -> Partial {
        let node = graph.nodes[ci], label = node.label(index: ci)
        let w = try constant(node.inputs[1], of: label)
        guard w.dims.count == 4 else {
            throw .unsupportedLayout(node: label, detail: "weight '\(w.name)' has dims \(w.dims), expected (M, C/group, kh, kw)")
        }
        let m = w.dims[0]
        guard m == p.channels else { throw .channelMismatch(node: label, bnChannels: p.channels, opChannels: m) }
        let bias = try optionalBias(node, slot: 2, label: label, count: m)
        let wv = w.floats ?? [], inner = wv.count / m
        var nw = [Double](repeating: 0, count: wv.count)
        for o in 0..<m {
            for r in 0..<inner { nw[o * inner + r] = Double(wv[o * inner + r]) * p.s[o] }
        }
        var nb = [Double](repeating: 0, count: m)
        for o in 0..<m { nb[o] = p.s[o] * (bias.map { Double($0.values[o]) } ?? 0) + p.t[o] }
        var out = Partial(intoIndex: ci, outputIndex: ci, opBefore: "Conv")
        try storeWeight(nw, dims: w.dims, name: w.name, node: ci, slot: 1, into: &out)
        try storeBias(nb, dims: bias?.dims ?? [m], name: bias?.name, node: ci, slot: 2, into: &out)
        if node.int64Attribute("group") ?? 1 > 1 { out.note = "grouped Conv (group \(node.int64Attribute("group") ?? 1)): output-channel axis 0 scaled" }
        return out
    }

    /// Gemm Y = alpha·op(A)·op(B) + beta·C, B (K, N) or (N, K) with transB:
    /// B'(k, n) = alpha·s_n·B(k, n); C'_n = s_n·beta·C_n + t_n; alpha = beta = 1 after.
    mutating func backwardGemm(_ gi: Int, _ p: BNParameters) throws(SkipReason) -> Partial {
        let node = graph.nodes[gi], label = node.label(index: gi)
        let attrs = try gemmAttributes(node, label: label)
        let b = try constant(node.inputs[1], of: label)
        guard b.dims.count == 2 else { throw .unsupportedLayout(node: label, detail: "B '\(b.name)' has dims \(b.dims), expected rank 2") }
        let (k, n) = attrs.transB ? (b.dims[1], b.dims[0]) : (b.dims[0], b.dims[1])
        guard n == p.channels else { throw .channelMismatch(node: label, bnChannels: p.channels, opChannels: n) }
        let c = try gemmBias(node, label: label, n: n)
        let bv = b.floats ?? []
        var nw = [Double](repeating: 0, count: bv.count)
        for kk in 0..<k {
            for j in 0..<n {
                let at = attrs.transB ? j * k + kk : kk * n + j
                nw[at] = attrs.alpha * p.s[j] * Double(bv[at])
            }
        }
        var nb = [Double](repeating: 0, count: n)
        for j in 0..<n { nb[j] = p.s[j] * attrs.beta * (c?.value(j) ?? 0) + p.t[j] }
        return try storeGemm(gi, weight: nw, bias: nb, b: b, c: c, n: n, attrs: attrs)
    }

    /// MatMul A (R, K) · B (K, N) → Gemm(A, B', b'): B'(k, n) = s_n·B(k, n), b'_n = t_n.
    mutating func backwardMatMul(_ mi: Int, _ p: BNParameters, aRank: Int) throws(SkipReason) -> Partial {
        let node = graph.nodes[mi], label = node.label(index: mi)
        let b = try constant(node.inputs[1], of: label)
        guard b.dims.count == 2 else { throw .unsupportedLayout(node: label, detail: "B '\(b.name)' has dims \(b.dims), expected rank 2") }
        guard aRank == 2 else {
            throw .unsupportedLayout(node: label, detail: "input '\(node.inputs[0])' has rank \(aRank): BN channels (axis 1) are not the MatMul's output features")
        }
        let (k, n) = (b.dims[0], b.dims[1])
        guard n == p.channels else { throw .channelMismatch(node: label, bnChannels: p.channels, opChannels: n) }
        let nw = scaleColumns(b.floats ?? [], rows: k, cols: n, by: p.s)
        return try storeMatMulAsGemm(mi, weight: nw, bias: p.t, b: b, n: n)
    }

    /// MatMul (R, K)·(K, N) → Add(bias) → BN, kept as MatMul + Add:
    /// B'(k, n) = s_n·B(k, n), bias'_n = s_n·bias_n + t_n.
    mutating func backwardMatMulAdd(
        _ ai: Int, _ p: BNParameters, rank: (String, String) throws(SkipReason) -> Int
    ) throws(SkipReason) -> Partial {
        let add = graph.nodes[ai], addLabel = add.label(index: ai)
        var found: (mi: Int, slot: Int)? = nil
        for j in 0..<2 {
            if let mi = graph.producer(of: add.inputs[j]), graph.nodes[mi].opType == "MatMul",
               graph.initializer(named: add.inputs[1 - j]) != nil {
                found = (mi, j)
            }
        }
        guard let (mi, slot) = found else {
            throw .noLinearProducer("input comes from \(addLabel), whose operands are not a MatMul and a constant bias")
        }
        let mm = graph.nodes[mi], label = mm.label(index: mi)
        let between = add.inputs[slot]
        if graph.isGraphOutput(between) { throw .graphOutput(between) }
        let readers = graph.consumers(of: between).count
        guard readers == 1 else { throw .sharedValue(value: between, readers: readers) }
        let b = try constant(mm.inputs[1], of: label)
        guard b.dims.count == 2 else { throw .unsupportedLayout(node: label, detail: "B '\(b.name)' has dims \(b.dims), expected rank 2") }
        let aRank = try rank(mm.inputs[0], label)
        guard aRank == 2 else {
            throw .unsupportedLayout(node: label, detail: "input '\(mm.inputs[0])' has rank \(aRank): BN channels (axis 1) are not the MatMul's output features")
        }
        let (k, n) = (b.dims[0], b.dims[1])
        guard n == p.channels else { throw .channelMismatch(node: label, bnChannels: p.channels, opChannels: n) }
        let biasName = add.inputs[1 - slot]
        let bias = try constant(biasName, of: addLabel)
        guard bias.dims.count <= 2, bias.count == 1 || bias.count == n, bias.dims.last.map({ $0 == bias.count }) ?? true else {
            throw .unsupportedLayout(node: addLabel, detail: "bias '\(biasName)' dims \(bias.dims) do not broadcast as one value per output feature (\(n))")
        }
        let bv = bias.floats ?? []
        let nw = scaleColumns(b.floats ?? [], rows: k, cols: n, by: p.s)
        var nb = [Double](repeating: 0, count: n)
        for j in 0..<n { nb[j] = p.s[j] * Double(bv.count == 1 ? bv[0] : bv[j]) + p.t[j] }
        var out = Partial(intoIndex: mi, outputIndex: ai, opBefore: "MatMul")
        try storeWeight(nw, dims: b.dims, name: b.name, node: mi, slot: 1, into: &out)
        try storeBias(nb, dims: bias.count == n ? bias.dims : [n], name: biasName, node: ai, slot: 1 - slot, into: &out)
        out.note = "\(label) + \(addLabel) kept, weight and Add bias folded"
        return out
    }

    // MARK: Forward

    /// BN → Gemm (transA 0): B'(k, n) = alpha·s_k·B(k, n); C'_n = beta·C_n + alpha·Σ_k t_k B(k, n).
    mutating func forwardGemm(_ gi: Int, _ p: BNParameters) throws(SkipReason) -> Partial {
        let node = graph.nodes[gi], label = node.label(index: gi)
        let attrs = try gemmAttributes(node, label: label)
        guard !attrs.transA else {
            throw .unsupportedLayout(node: label, detail: "transA is 1: BN channels are not the Gemm's input features")
        }
        let b = try constant(node.inputs[1], of: label)
        guard b.dims.count == 2 else { throw .unsupportedLayout(node: label, detail: "B '\(b.name)' has dims \(b.dims), expected rank 2") }
        let (k, n) = attrs.transB ? (b.dims[1], b.dims[0]) : (b.dims[0], b.dims[1])
        guard k == p.channels else { throw .channelMismatch(node: label, bnChannels: p.channels, opChannels: k) }
        let c = try gemmBias(node, label: label, n: n)
        let bv = b.floats ?? []
        var nw = [Double](repeating: 0, count: bv.count)
        var nb = [Double](repeating: 0, count: n)
        for j in 0..<n { nb[j] = attrs.beta * (c?.value(j) ?? 0) }
        for kk in 0..<k {
            for j in 0..<n {
                let at = attrs.transB ? j * k + kk : kk * n + j
                nw[at] = attrs.alpha * p.s[kk] * Double(bv[at])
                nb[j] += attrs.alpha * p.t[kk] * Double(bv[at])
            }
        }
        return try storeGemm(gi, weight: nw, bias: nb, b: b, c: c, n: n, attrs: attrs)
    }

    /// BN → MatMul (rank-2 input) → Gemm(X, B', b'): B'(k, n) = s_k·B(k, n), b'_n = Σ_k t_k B(k, n).
    mutating func forwardMatMul(_ mi: Int, _ p: BNParameters, xRank: Int) throws(SkipReason) -> Partial {
        let node = graph.nodes[mi], label = node.label(index: mi)
        guard xRank == 2 else {
            throw .unsupportedLayout(node: label, detail: "input '\(node.inputs[0])' has rank \(xRank): BN channels (axis 1) are not the MatMul's reduction axis")
        }
        let b = try constant(node.inputs[1], of: label)
        guard b.dims.count == 2 else { throw .unsupportedLayout(node: label, detail: "B '\(b.name)' has dims \(b.dims), expected rank 2") }
        let (k, n) = (b.dims[0], b.dims[1])
        guard k == p.channels else { throw .channelMismatch(node: label, bnChannels: p.channels, opChannels: k) }
        let bv = b.floats ?? []
        var nw = [Double](repeating: 0, count: bv.count)
        var nb = [Double](repeating: 0, count: n)
        for kk in 0..<k {
            for j in 0..<n {
                nw[kk * n + j] = p.s[kk] * Double(bv[kk * n + j])
                nb[j] += p.t[kk] * Double(bv[kk * n + j])
            }
        }
        return try storeMatMulAsGemm(mi, weight: nw, bias: nb, b: b, n: n)
    }

    /// BN → Conv without padding, W (M, C/group, kh, kw), input channel c = g(m)·C/group + c':
    /// W'[m, c'] = s_c W[m, c']; b'_m = b_m + Σ_{c', i, j} W[m, c', i, j] t_c.
    mutating func forwardConv(_ ci: Int, _ p: BNParameters) throws(SkipReason) -> Partial {
        let node = graph.nodes[ci], label = node.label(index: ci)
        let w = try constant(node.inputs[1], of: label)
        guard w.dims.count == 4 else {
            throw .unsupportedLayout(node: label, detail: "weight '\(w.name)' has dims \(w.dims), expected (M, C/group, kh, kw)")
        }
        let group = Int(node.int64Attribute("group") ?? 1)
        let (m, cg, kh, kw) = (w.dims[0], w.dims[1], w.dims[2], w.dims[3])
        guard group >= 1, m % group == 0, cg * group == p.channels else {
            throw .channelMismatch(node: label, bnChannels: p.channels, opChannels: cg * group)
        }
        let autoPad = node.stringAttribute("auto_pad") ?? "NOTSET"
        let pads = node.intsAttribute("pads") ?? []
        let padded: Bool
        switch autoPad {
        case "VALID": padded = false
        case "SAME_UPPER", "SAME_LOWER": padded = !(kh == 1 && kw == 1)  // SAME pads only kernels > 1
        default: padded = pads.contains { $0 != 0 }
        }
        if padded { throw .zeroPaddingWouldShift(node: label) }
        let bias = try optionalBias(node, slot: 2, label: label, count: m)
        let wv = w.floats ?? []
        let inner = kh * kw, perGroup = m / group
        var nw = [Double](repeating: 0, count: wv.count)
        var nb = [Double](repeating: 0, count: m)
        for o in 0..<m {
            var acc = bias.map { Double($0.values[o]) } ?? 0
            let g = o / perGroup
            for c in 0..<cg {
                let channel = g * cg + c
                let base = (o * cg + c) * inner
                for r in 0..<inner {
                    let x = Double(wv[base + r])
                    nw[base + r] = x * p.s[channel]
                    acc += x * p.t[channel]
                }
            }
            nb[o] = acc
        }
        var out = Partial(intoIndex: ci, outputIndex: ci, opBefore: "Conv")
        try storeWeight(nw, dims: w.dims, name: w.name, node: ci, slot: 1, into: &out)
        try storeBias(nb, dims: bias?.dims ?? [m], name: bias?.name, node: ci, slot: 2, into: &out)
        if group > 1 { out.note = "grouped Conv (group \(group)): input-channel axis 1 scaled per group" }
        return out
    }

    // MARK: Graph edits

    /// Removes the BN node, the vanished value's annotations and BN parameters nobody reads.
    mutating func removeBN(at index: Int, vanishing value: String) {
        let bn = graph.nodes.remove(at: index)
        graph.valueInfo.removeAll { $0.name == value }
        for name in bn.inputs.dropFirst() where !name.isEmpty {
            if graph.consumers(of: name).isEmpty && !graph.isGraphOutput(name)
                && !graph.inputs.contains(where: { $0.name == name }) {
                graph.initializers.removeAll { $0.name == name }
            }
        }
    }

    /// A Float initializer that is not also a graph input.
    private func constant(_ name: String, of label: String) throws(SkipReason) -> Tensor {
        guard let t = graph.initializer(named: name), t.floats != nil,
              !graph.inputs.contains(where: { $0.name == name }) else {
            throw .weightNotConstant(node: label, tensor: name)
        }
        return t
    }

    private struct Bias {
        var name: String, dims: [Int], values: [Float]
    }

    /// A Conv bias input: absent, or a constant (count) tensor.
    private func optionalBias(_ node: Node, slot: Int, label: String, count: Int) throws(SkipReason) -> Bias? {
        guard node.inputs.count > slot, !node.inputs[slot].isEmpty else { return nil }
        let t = try constant(node.inputs[slot], of: label)
        guard t.count == count else {
            throw .unsupportedLayout(node: label, detail: "bias '\(t.name)' has \(t.count) values for \(count) channels")
        }
        return Bias(name: t.name, dims: t.dims, values: t.floats ?? [])
    }

    private struct GemmAttributes {
        var transA: Bool, transB: Bool, alpha: Double, beta: Double
    }

    private func gemmAttributes(_ node: Node, label: String) throws(SkipReason) -> GemmAttributes {
        GemmAttributes(
            transA: (node.int64Attribute("transA") ?? 0) != 0, transB: (node.int64Attribute("transB") ?? 0) != 0,
            alpha: Double(node.floatAttribute("alpha") ?? 1), beta: Double(node.floatAttribute("beta") ?? 1))
    }

    /// Gemm's C when it is one value per output column (or one value for all).
    struct GemmBias {
        var name: String, dims: [Int], values: [Float]
        func value(_ j: Int) -> Double { Double(values.count == 1 ? values[0] : values[j]) }
        /// The folded bias keeps C's dims when it already had one value per column.
        func dimsFor(_ n: Int) -> [Int] { values.count == n ? dims : [n] }
    }

    private func gemmBias(_ node: Node, label: String, n: Int) throws(SkipReason) -> GemmBias? {
        guard node.inputs.count > 2, !node.inputs[2].isEmpty else { return nil }
        let c = try constant(node.inputs[2], of: label)
        let columnVector = c.count == n && (c.dims.last ?? 1) == n && c.dims.count <= 2
        guard c.count == 1 && c.dims.count <= 2 || columnVector else {
            throw .unsupportedLayout(node: label, detail: "bias C '\(c.name)' with dims \(c.dims) varies along rows; bnc folds only per-column C")
        }
        return GemmBias(name: c.name, dims: c.dims, values: c.floats ?? [])
    }

    private func scaleColumns(_ v: [Float], rows: Int, cols: Int, by s: [Double]) -> [Double] {
        var out = [Double](repeating: 0, count: v.count)
        for r in 0..<rows {
            for j in 0..<cols { out[r * cols + j] = Double(v[r * cols + j]) * s[j] }
        }
        return out
    }

    /// Writes a folded Gemm's new weight and bias; alpha and beta are folded into them.
    private mutating func storeGemm(
        _ gi: Int, weight nw: [Double], bias nb: [Double], b: Tensor, c: GemmBias?, n: Int, attrs: GemmAttributes
    ) throws(SkipReason) -> Partial {
        var out = Partial(intoIndex: gi, outputIndex: gi, opBefore: "Gemm")
        try storeWeight(nw, dims: b.dims, name: b.name, node: gi, slot: 1, into: &out)
        try storeBias(nb, dims: c?.dimsFor(n) ?? [n], name: c?.name, node: gi, slot: 2, into: &out)
        graph.nodes[gi].attributes.removeAll { $0.name == "alpha" || $0.name == "beta" }
        if attrs.alpha != 1 || attrs.beta != 1 { out.note = "alpha \(attrs.alpha) and beta \(attrs.beta) folded in" }
        return out
    }

    /// Rewrites MatMul node `mi` as Gemm(A, B', b') with the folded weight and a new bias.
    private mutating func storeMatMulAsGemm(_ mi: Int, weight nw: [Double], bias nb: [Double], b: Tensor, n: Int) throws(SkipReason) -> Partial {
        var out = Partial(intoIndex: mi, outputIndex: mi, opBefore: "MatMul")
        graph.nodes[mi].opType = "Gemm"
        graph.nodes[mi].attributes = []
        try storeWeight(nw, dims: b.dims, name: b.name, node: mi, slot: 1, into: &out)
        try storeBias(nb, dims: [n], name: nil, node: mi, slot: 2, into: &out)
        out.note = "MatMul rewritten as Gemm to carry the bias"
        return out
    }

    private mutating func storeWeight(_ values: [Double], dims: [Int], name: String, node: Int, slot: Int, into out: inout Partial) throws(SkipReason) {
        let (stored, cloned) = try store(values, dims: dims, name: name, node: node, slot: slot, base: name, into: &out)
        out.weight = stored
        out.weightShape = dims
        out.cloned = out.cloned || cloned
    }

    private mutating func storeBias(_ values: [Double], dims: [Int], name: String?, node: Int, slot: Int, into out: inout Partial) throws(SkipReason) {
        let base = name ?? (BNFolding.displayName(graph.nodes[node]) + ".bias")
        let (stored, cloned) = try store(values, dims: dims, name: name, node: node, slot: slot, base: base, into: &out)
        out.bias = stored
        out.biasShape = dims
        out.createdBias = name == nil
        out.cloned = out.cloned || cloned
    }

    /// Rounds `values` to Float once and puts them in the graph: in place when `name` is
    /// read by this node only, else as a new initializer wired into `slot` of `node`.
    private mutating func store(
        _ values: [Double], dims: [Int], name: String?, node: Int, slot: Int, base: String, into out: inout Partial
    ) throws(SkipReason) -> (String, Bool) {
        let label = graph.nodes[node].label(index: node)
        var floats = [Float](repeating: 0, count: values.count)
        for (i, v) in values.enumerated() {
            let f = Float(v)
            guard f.isFinite else { throw .foldedValueOverflow(node: label) }
            floats[i] = f
            out.maxAbs = max(out.maxAbs, abs(v))
        }
        if let name, let index = graph.initializerIndex(named: name) {
            let shared = graph.consumers(of: name).count > 1 || graph.isGraphOutput(name)
            if !shared {
                graph.initializers[index].dims = dims
                graph.initializers[index].storage = .float(floats)
                return (name, false)
            }
            if options.sharedWeights == .skip { throw .weightShared(node: label, tensor: name) }
        }
        let fresh = uniqueName(name.map { "\($0).folded" } ?? base)
        graph.initializers.append(Tensor(name: fresh, dims: dims, floats: floats))
        while graph.nodes[node].inputs.count <= slot { graph.nodes[node].inputs.append("") }
        graph.nodes[node].inputs[slot] = fresh
        return (fresh, name != nil)
    }

    private func uniqueName(_ base: String) -> String {
        var taken = Set(graph.initializers.map(\.name))
        taken.formUnion(graph.inputs.map(\.name))
        taken.formUnion(graph.outputs.map(\.name))
        for n in graph.nodes { taken.formUnion(n.outputs); taken.formUnion(n.inputs) }
        if !taken.contains(base) { return base }
        var i = 1
        while taken.contains("\(base)_\(i)") { i += 1 }
        return "\(base)_\(i)"
    }
}

extension Node {
    /// Attribute readers that tolerate a wrong type (validated graphs have none).
    func int64Attribute(_ name: String) -> Int64? {
        if case .int(let v)? = attribute(name)?.value { return v }
        return nil
    }

    func floatAttribute(_ name: String) -> Float? {
        if case .float(let v)? = attribute(name)?.value { return v }
        return nil
    }

    func intsAttribute(_ name: String) -> [Int64]? {
        if case .ints(let v)? = attribute(name)?.value { return v }
        return nil
    }

    func stringAttribute(_ name: String) -> String? {
        if case .string(let v)? = attribute(name)?.value { return String(decoding: v, as: UTF8.self) }
        return nil
    }
}
