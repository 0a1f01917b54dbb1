import BNCGraph

/// The graph edits and Double arithmetic of one fold, on a private copy of the graph.
/// Throws `SkipReason` (the copy is then discarded).
///
/// Notation: s_k = γ_k/σ_k and t_k = β_k − γ_k μ_k/σ_k (see `BNParameters`).
struct Rewrite {
    var graph: Graph
    let options: FoldOptions
    let facts: FoldFacts
    /// Values whose readers the rewrite replaced: pruned with what computed only them.
    var orphans: [String] = []

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
        /// A chain link the fold keeps (an Add that carries a MatMul's shift).
        var keptLink: Int? = nil
    }

    // MARK: Backward

    /// Folds `y = S ⊙ op(x) + T` into linear node `li` along its output channels. `chain` (the
    /// chain being folded, nil for a Concat share) may lend an Add for a MatMul's shift:
    /// `Partial.keptLink` names it, and it is not removed.
    mutating func backwardLinear(_ li: Int, _ p: Affine, chain: AffineChain?) throws(SkipReason) -> Partial {
        let node = graph.nodes[li], label = node.label(index: li)
        guard case .linear(let wSlot, let axis, let groups, let biasSlot) = facts.role(node) else {
            throw .noLinearProducer("\(label) is not a linear op")
        }
        if node.opType == "Gemm" { return try backwardGemm(li, p) }
        let w = try constant(node.inputs[wSlot], of: label)
        guard axis < w.dims.count, groups >= 1 else {
            throw .unsupportedLayout(node: label, detail: "weight '\(w.name)' has dims \(w.dims), no axis \(axis)")
        }
        if biasSlot == nil {
            guard w.dims.count == 2 else {
                throw .unsupportedLayout(node: label, detail: "B '\(w.name)' has dims \(w.dims), expected rank 2")
            }
            return try backwardMatMul(li, p, chain: chain)
        }
        guard w.dims.count >= 3 else {
            throw .unsupportedLayout(node: label, detail: "weight '\(w.name)' has dims \(w.dims): expected (M, C/group, k…) or a 2-D matrix")
        }
        let (nw, m) = try scaleWeight(w, axis: axis, groups: groups, by: p.s, label: label)
        var out = Partial(intoIndex: li, outputIndex: li, opBefore: node.opType)
        guard let biasSlot else { throw .unsupportedLayout(node: label, detail: "has no bias input to carry the shift") }
        let bias = try optionalBias(node, slot: biasSlot, label: label, count: m)
        var nb = [Double](repeating: 0, count: m)
        for o in 0..<m { nb[o] = p.s[o] * (bias.map { Double($0.values[o]) } ?? 0) + p.t[o] }
        try storeWeight(nw, dims: w.dims, name: w.name, node: li, slot: wSlot, into: &out)
        try storeBias(nb, dims: bias?.dims ?? [m], name: bias?.name, node: li, slot: biasSlot, into: &out)
        if groups > 1 {
            out.note = "\(node.opType) group \(groups): weight axis \(axis) scaled per group"
        } else if let g = node.int64Attribute("group"), g > 1 {
            out.note = "grouped \(node.opType) (group \(g)): output-channel axis \(axis) scaled"
        }
        return out
    }

    /// W' = W with the slice of output channel c along `axis` scaled by s_c; along axis a of
    /// dims d (outer = d₀…d_{a−1}, within `groups` groups of the outer index), element
    /// (o, j, r) belongs to channel (o / (outer/groups))·d_a + j.
    private func scaleWeight(_ w: Tensor, axis: Int, groups: Int, by s: [Double], label: String) throws(SkipReason) -> ([Double], Int) {
        let outer = w.dims[..<axis].reduce(1, *), a = w.dims[axis], inner = w.dims[(axis + 1)...].reduce(1, *)
        guard outer % groups == 0 else {
            throw .unsupportedLayout(node: label, detail: "weight '\(w.name)' dims \(w.dims) do not split into \(groups) groups")
        }
        let m = groups * a
        guard m == s.count else { throw .channelMismatch(node: label, bnChannels: s.count, opChannels: m) }
        let wv = w.floats ?? [], perGroup = outer / groups
        var nw = [Double](repeating: 0, count: wv.count)
        for o in 0..<outer {
            let base = (o / perGroup) * a
            for j in 0..<a {
                let scale = s[base + j], start = (o * a + j) * inner
                for r in 0..<inner { nw[start + r] = Double(wv[start + r]) * scale }
            }
        }
        return (nw, m)
    }

    /// MatMul A (…, K) · B (K, N), channels on the last axis: B'(k, n) = S_n·B(k, n). The shift
    /// T goes into the chain's first Add/Sub (kept as Add(x, T)), else a rank-2 MatMul becomes
    /// Gemm(A, B', T), else an Add(·, T) is inserted after the MatMul.
    private mutating func backwardMatMul(_ mi: Int, _ p: Affine, chain: AffineChain?) throws(SkipReason) -> Partial {
        let node = graph.nodes[mi], label = node.label(index: mi)
        let b = try constant(node.inputs[1], of: label)
        let (k, n) = (b.dims[0], b.dims[1])
        guard n == p.channels else { throw .channelMismatch(node: label, bnChannels: p.channels, opChannels: n) }
        let nw = scaleColumns(b.floats ?? [], rows: k, cols: n, by: p.s)
        if p.shiftFree {
            var out = Partial(intoIndex: mi, outputIndex: mi, opBefore: "MatMul")
            try storeWeight(nw, dims: b.dims, name: b.name, node: mi, slot: 1, into: &out)
            out.note = "scale only: no bias needed"
            return out
        }
        if let add = chain?.steps.first(where: { $0.kind == .arithmetic(.add) || $0.kind == .arithmetic(.sub) }), let rank = add.rank {
            // The Add stays, with the composed shift on its own channel axis.
            let ai = add.node, addLabel = graph.nodes[ai].label(index: ai)
            var out = Partial(intoIndex: mi, outputIndex: mi, opBefore: "MatMul")
            try storeWeight(nw, dims: b.dims, name: b.name, node: mi, slot: 1, into: &out)
            let old = graph.nodes[ai].inputs[1 - add.slot]
            graph.nodes[ai].opType = "Add"
            let dims = [n] + [Int](repeating: 1, count: rank - 1 - add.axis)
            try storeBias(p.t, dims: dims, name: graph.initializer(named: old) != nil ? old : nil, node: ai, slot: 1 - add.slot, into: &out)
            out.createdBias = false
            out.keptLink = ai
            out.note = "\(label) + \(addLabel) kept, weight and Add bias folded"
            return out
        }
        guard let rank = facts.shape(node.inputs[0])?.count else {
            throw .unsupportedLayout(node: label, detail: "the rank of '\(node.inputs[0])' is unknown (shape inference: \(facts.problem))")
        }
        if rank == 2 { return try storeMatMulAsGemm(mi, weight: nw, bias: p.t, b: b, n: n) }
        // Insert Add(MatMul', T) writing the MatMul's old output.
        var out = Partial(intoIndex: mi, outputIndex: mi, opBefore: "MatMul")
        try storeWeight(nw, dims: b.dims, name: b.name, node: mi, slot: 1, into: &out)
        let y = node.outputs[0], inner = uniqueName(y + ".unbiased")
        graph.nodes[mi].outputs[0] = inner
        graph.nodes.insert(Node(name: uniqueName(BNFolding.displayName(node) + ".bias_add"), opType: "Add", inputs: [inner, ""], outputs: [y]), at: mi + 1)
        try storeBias(p.t, dims: [n], name: nil, node: mi + 1, slot: 1, into: &out)
        out.note = "\(label) kept, an Add carries the shift"
        return out
    }

    /// Gemm Y = alpha·op(A)·op(B) + beta·C, B (K, N) or (N, K) with transB:
    /// B'(k, n) = alpha·s_n·B(k, n); C'_n = s_n·beta·C_n + t_n; alpha = beta = 1 after.
    mutating func backwardGemm(_ gi: Int, _ p: Affine) throws(SkipReason) -> Partial {
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

    /// BN → Conv without padding, W (M, C/group, k…) of any rank ≥ 3, input channel
    /// c = g(m)·C/group + c': W'[m, c'] = s_c W[m, c']; b'_m = b_m + Σ_{c', r} W[m, c', r] t_c.
    mutating func forwardConv(_ ci: Int, _ p: BNParameters) throws(SkipReason) -> Partial {
        let node = graph.nodes[ci], label = node.label(index: ci)
        let w = try constant(node.inputs[1], of: label)
        guard w.dims.count >= 3 else {
            throw .unsupportedLayout(node: label, detail: "weight '\(w.name)' has dims \(w.dims), expected (M, C/group, k…)")
        }
        let group = Int(node.int64Attribute("group") ?? 1)
        let (m, cg) = (w.dims[0], w.dims[1])
        let inner = w.dims.dropFirst(2).reduce(1, *)
        guard group >= 1, m % group == 0, cg * group == p.channels else {
            throw .channelMismatch(node: label, bnChannels: p.channels, opChannels: cg * group)
        }
        let autoPad = node.stringAttribute("auto_pad") ?? "NOTSET"
        let pads = node.intsAttribute("pads") ?? []
        let padded: Bool
        switch autoPad {
        case "VALID": padded = false
        case "SAME_UPPER", "SAME_LOWER": padded = inner != 1  // SAME pads only kernels > 1
        default: padded = pads.contains { $0 != 0 }
        }
        if padded { throw .zeroPaddingWouldShift(node: label) }
        let bias = try optionalBias(node, slot: 2, label: label, count: m)
        let wv = w.floats ?? []
        let perGroup = m / group
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

    /// Removes the chain links (not pass-through ones): the node writing a link's input now
    /// writes its output, so every name a reader or the graph outputs use survives. The
    /// links' constants become orphans.
    mutating func removeLinks(_ links: [AffineChain.Link]) {
        // Last link first, so node indices stay valid; a removed link's input takes the name
        // of its output, which an earlier link then writes.
        var renamed: [String: String] = [:]
        for link in links.sorted(by: { $0.node > $1.node }) {
            let node = graph.nodes.remove(at: link.node)
            var output = link.output
            while let r = renamed[output] { output = r }
            renamed[link.input] = output
            if let p = graph.producer(of: link.input) {
                for k in graph.nodes[p].outputs.indices where graph.nodes[p].outputs[k] == link.input {
                    graph.nodes[p].outputs[k] = output
                }
            }
            graph.valueInfo.removeAll { $0.name == link.input }
            orphans += node.inputs.filter { !$0.isEmpty && $0 != link.input }
        }
    }

    /// Sets input `slot` of node `index` (a BN parameter) to `values` in its dims.
    mutating func setParameter(_ index: Int, slot: Int, _ values: [Double]) throws(SkipReason) {
        let name = graph.nodes[index].inputs[slot]
        let dims = graph.initializer(named: name)?.dims ?? facts.constant(name, in: graph)?.dims ?? [values.count]
        var out = Partial(intoIndex: index, outputIndex: index, opBefore: graph.nodes[index].opType)
        _ = try store(values, dims: dims, name: name, node: index, slot: slot, base: name, into: &out)
    }

    /// `graph` without the values in `candidates` that nothing reads any more (not graph
    /// inputs or outputs) and without what computed only them: initializers, and nodes all of
    /// whose outputs are unread (transitively: dynamo's Shape → Expand → CastLike bias).
    static func pruneOrphans(_ graph: Graph, candidates: [String]) -> Graph {
        var g = graph
        var work = candidates
        let inputs = Set(g.inputs.map(\.name))
        while let v = work.popLast() {
            guard !v.isEmpty, !inputs.contains(v), !g.isGraphOutput(v), !g.nodes.contains(where: { $0.inputs.contains(v) }) else { continue }
            if let i = g.initializerIndex(named: v) {
                g.initializers.remove(at: i)
                continue
            }
            guard let p = g.producer(of: v) else { continue }
            let outs = g.nodes[p].outputs.filter { !$0.isEmpty }
            guard outs.allSatisfy({ o in !g.isGraphOutput(o) && !g.nodes.contains(where: { $0.inputs.contains(o) }) }) else { continue }
            let n = g.nodes.remove(at: p)
            g.valueInfo.removeAll { outs.contains($0.name) }
            work += n.inputs
        }
        return g
    }

    /// A Float constant (an initializer that is not also a graph input, or a value computed
    /// from constants only).
    private func constant(_ name: String, of label: String) throws(SkipReason) -> Tensor {
        guard let t = facts.constant(name, in: graph), t.floats != nil else {
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
        var cloned = false
        if let name, let index = graph.initializerIndex(named: name) {
            let reads = graph.nodes.reduce(0) { $0 + $1.inputs.filter { $0 == name }.count }
            let shared = reads > 1 || graph.isGraphOutput(name)
            if !shared {
                graph.initializers[index].dims = dims
                graph.initializers[index].storage = .float(floats)
                return (name, false)
            }
            if options.sharedWeights == .skip { throw .weightShared(node: label, tensor: name) }
            cloned = true
        }
        // A computed constant (or a shared initializer) is replaced by a new initializer; what
        // computed it is pruned when nothing else reads it.
        let fresh = uniqueName(name.map { "\($0).folded" } ?? base)
        graph.initializers.append(Tensor(name: fresh, dims: dims, floats: floats))
        while graph.nodes[node].inputs.count <= slot { graph.nodes[node].inputs.append("") }
        if let name { orphans.append(name) }
        graph.nodes[node].inputs[slot] = fresh
        return (fresh, cloned)
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
