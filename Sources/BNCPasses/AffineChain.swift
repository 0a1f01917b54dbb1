import BNCGraph
import BNCOps
import BNCRuntime

/// A per-channel affine map `y_c = s_c x_c + t_c`, in Double.
struct Affine: Equatable {
    var s: [Double]
    var t: [Double]
    var channels: Int { s.count }

    static func identity(_ c: Int) -> Affine {
        Affine(s: [Double](repeating: 1, count: c), t: [Double](repeating: 0, count: c))
    }

    /// `self` applied after `first`: s·(s₁x + t₁) + t = (s·s₁) x + (s·t₁ + t).
    func after(_ first: Affine) -> Affine {
        var out = first
        for k in 0..<channels {
            out.s[k] = s[k] * first.s[k]
            out.t[k] = s[k] * first.t[k] + t[k]
        }
        return out
    }

    /// Channels `r` only (a Concat input's share).
    func slice(_ r: Range<Int>) -> Affine { Affine(s: Array(s[r]), t: Array(t[r])) }

    /// Whether every shift t_c is 0 (a pure scale needs no bias).
    var shiftFree: Bool { t.allSatisfy { $0 == 0 } }
}

/// A run of nodes, each reading the value the one before wrote (that value read by nothing
/// else and not a graph output), which together compute one per-channel affine of the run's
/// input along one channel axis:
/// - BatchNormalization at inference with constant parameters (channel axis 1);
/// - Add/Sub/Mul/Div (`FoldRole.affine`) of the value and a constant that is 1 along every
///   axis but the channel axis (or a scalar), broadcast without enlarging the value —
///   `x + c`, `c + x`, `x − c` (t = −c), `c − x` (s = −1, t = c), `x·c`, `c·x`, `x / c`
///   (s = 1/c; `c / x` is not affine);
/// - pass-through nodes: `FoldRole.transparent` (Identity; Dropout whose mask nobody reads)
///   and `FoldRole.reshape` when the channel axis survives: the product of the dims before
///   the channel axis and the channel count are the same before and after (then every element
///   keeps its channel), checked at two values of the symbolic dims so that it holds for any
///   batch. Pass-through nodes stay in the graph; they carry values unchanged.
/// `total` composes the steps in Double on the run input's channel axis.
struct AffineChain {
    struct Link {
        enum Kind: Equatable {
            case batchNorm
            case arithmetic(AffineOperation)
            case passThrough
        }
        var node: Int
        var kind: Kind
        /// The step on the link's channel axis (nil for pass-through links).
        var step: Affine?
        /// The value the link reads and the one it writes.
        var input: String
        var output: String
        /// The slot of `input` among the node's inputs; the other slot holds the constant.
        var slot: Int
        /// Channel axis and rank of `input` (and of `output`, but for a reshape).
        var axis: Int
        var rank: Int?
    }

    var links: [Link]
    /// Channel axis of the first link's input.
    var axis: Int
    var total: Affine
    var input: String { links[0].input }
    var output: String { links[links.count - 1].output }
    var channels: Int { total.channels }
    var steps: [Link] { links.filter { $0.kind != .passThrough } }
    var batchNorms: [Int] { links.filter { $0.kind == .batchNorm }.map(\.node) }
}

/// Finds affine chains in a graph; pure.
struct ChainFinder {
    let graph: Graph
    let facts: FoldFacts
    /// Input slots reading each value, and the node writing it (computed once per graph).
    private let readCounts: [String: Int]
    private let producers: [String: Int]

    init(graph: Graph, facts: FoldFacts) {
        self.graph = graph
        self.facts = facts
        var counts: [String: Int] = [:], producers: [String: Int] = [:]
        for (i, node) in graph.nodes.enumerated() {
            for v in node.inputs where !v.isEmpty { counts[v, default: 0] += 1 }
            for v in node.outputs where !v.isEmpty && producers[v] == nil { producers[v] = i }
        }
        readCounts = counts
        self.producers = producers
    }

    /// How many input slots read `value` (a node reading it twice counts twice).
    func reads(_ value: String) -> Int { readCounts[value] ?? 0 }

    /// The node writing `value`.
    func producer(of value: String) -> Int? { producers[value] }

    /// Whether `value` flows only into one input slot and is not a graph output.
    func singleRead(_ value: String) -> Bool { reads(value) == 1 && !graph.isGraphOutput(value) }

    /// The slot of the data operand of a candidate link (nil: the node is no link).
    func dataSlot(_ index: Int) -> Int? {
        let node = graph.nodes[index]
        if node.opType == "BatchNormalization" {
            return (try? node.int("training_mode", default: 0)) == 0 && node.outputs.dropFirst().allSatisfy({ $0.isEmpty }) ? 0 : nil
        }
        switch facts.role(graph.nodes[index]) {
        case .affine(let op):
            guard node.inputs.count == 2 else { return nil }
            let constant = node.inputs.map { facts.constant($0, in: graph) != nil }
            if constant[1] && !constant[0] { return 0 }
            if constant[0] && !constant[1] && op != .div { return 1 }
            return nil
        case .transparent:
            // Dropout's mask output must be unused: only output 0 passes values through.
            let extra = node.outputs.dropFirst().filter { !$0.isEmpty }
            guard extra.allSatisfy({ reads($0) == 0 && !graph.isGraphOutput($0) }) else { return nil }
            return 0
        case .reshape:
            return 0
        default:
            return nil
        }
    }

    /// The chain that contains node `seed` (a candidate link): extended backward while the
    /// value read comes from a candidate link that nothing else reads, and forward likewise.
    /// Nil when `seed` is no link.
    func run(around seed: Int) -> [Int]? {
        guard let seedSlot = dataSlot(seed) else { return nil }
        var head = seed, headSlot = seedSlot
        var seen: Set<Int> = [seed]
        while true {
            let x = graph.nodes[head].inputs[headSlot]
            guard singleRead(x), let p = producer(of: x), !seen.contains(p), let s = dataSlot(p),
                  graph.nodes[p].outputs.first == x else { break }
            head = p; headSlot = s; seen.insert(p)
        }
        var run = [head]
        var cur = head
        while true {
            guard let y = graph.nodes[cur].outputs.first, singleRead(y),
                  let next = graph.consumers(of: y).first, !run.contains(next),
                  let s = dataSlot(next), graph.nodes[next].inputs[s] == y else { break }
            run.append(next)
            cur = next
        }
        return run
    }

    /// Builds the chain over `run` (from `run(around:)`) starting on channel axis `axis` of the
    /// first input; stops before the first link that does not fit that axis (its reason in
    /// `stop`). Trailing pass-through links are dropped; nil when no step is left.
    func chain(_ run: [Int], axis startAxis: Int, bn: (Int) -> Result<BNParameters, SkipReason>)
        -> (chain: AffineChain?, stop: SkipReason?)
    {
        var links: [AffineChain.Link] = []
        var axis = startAxis
        var channels: Int? = nil
        var total: Affine? = nil
        var stop: SkipReason? = nil
        if let shape = facts.shape(graph.nodes[run[0]].inputs[dataSlot(run[0])!]) {
            guard axis >= 0, axis < shape.count else {
                return (nil, .unsupportedLayout(node: graph.nodes[run[0]].label(index: run[0]),
                                                detail: "channel axis \(axis) is outside the input's rank \(shape.count)"))
            }
            channels = shape[axis]
        }
        loop: for index in run {
            let node = graph.nodes[index], label = node.label(index: index)
            let slot = dataSlot(index)!
            let x = node.inputs[slot], y = node.outputs[0]
            let rank = facts.shape(x)?.count
            var link = AffineChain.Link(node: index, kind: .passThrough, step: nil, input: x, output: y, slot: slot, axis: axis, rank: rank)
            if node.opType == "BatchNormalization" {
                guard axis == 1 else {
                    stop = .unsupportedLayout(node: label, detail: "normalizes axis 1; the channel axis here is \(axis)" + (rank.map { " of a rank \($0) value" } ?? ""))
                    break loop
                }
                switch bn(index) {
                case .failure(let reason):
                    stop = reason
                    break loop
                case .success(let p):
                    if let c = channels, c != p.channels {
                        stop = .channelMismatch(node: label, bnChannels: p.channels, opChannels: c)
                        break loop
                    }
                    channels = p.channels
                    link.kind = .batchNorm
                    link.step = p.affine
                }
            } else {
                switch facts.role(graph.nodes[index]) {
                case .affine(let op):
                    do throws(SkipReason) {
                        link.step = try arithmeticStep(index, op: op, slot: slot, axis: axis, channels: channels)
                    } catch {
                        stop = error
                        break loop
                    }
                    link.kind = .arithmetic(op)
                    channels = link.step!.channels
                case .reshape:
                    guard let c = channels, let next = facts.reshapedAxis(from: x, axis: axis, to: y, channels: c) else {
                        stop = .unsupportedLayout(node: label, detail: "the channel axis does not survive the reshape (or the shapes are unknown)")
                        break loop
                    }
                    axis = next
                default:
                    break
                }
            }
            if let step = link.step { total = total.map { step.after($0) } ?? step }
            links.append(link)
        }
        while let last = links.last, last.kind == .passThrough { links.removeLast() }
        guard let total, !links.isEmpty else { return (nil, stop) }
        return (AffineChain(links: links, axis: startAxis, total: total), stop)
    }

    /// The step of Add/Sub/Mul/Div with a constant on the channel axis `axis` of the data.
    private func arithmeticStep(_ index: Int, op: AffineOperation, slot: Int, axis: Int, channels: Int?) throws(SkipReason) -> Affine {
        let node = graph.nodes[index], label = node.label(index: index)
        let x = node.inputs[slot]
        guard let c = facts.constant(node.inputs[1 - slot], in: graph), let values = c.floats else {
            throw .weightNotConstant(node: label, tensor: node.inputs[1 - slot])
        }
        guard let shape = facts.shape(x), facts.type(x) == .float, facts.shape(node.outputs[0]) == shape else {
            throw .unsupportedLayout(node: label, detail: "the constant '\(c.name)' broadcasts '\(x)' to another shape (or the shapes are unknown)")
        }
        guard axis >= 0, axis < shape.count else {
            throw .unsupportedLayout(node: label, detail: "channel axis \(axis) is outside the rank \(shape.count) of '\(x)'")
        }
        guard c.dims.count <= shape.count else {
            throw .unsupportedLayout(node: label, detail: "the constant '\(c.name)' has a higher rank than '\(x)'")
        }
        // Right-aligned broadcast: constant dim j sits on value axis j + offset.
        let offset = shape.count - c.dims.count
        for (j, d) in c.dims.enumerated() where d != 1 && j + offset != axis {
            throw .unsupportedLayout(node: label, detail: "the constant '\(c.name)' \(c.dims) varies along axis \(j + offset), not the channel axis \(axis)")
        }
        let n = channels ?? shape[axis]
        guard values.count == 1 || values.count == n else {
            throw .channelMismatch(node: label, bnChannels: values.count, opChannels: n)
        }
        let v: [Double] = values.count == 1 ? [Double](repeating: Double(values[0]), count: n) : values.map(Double.init)
        var step = Affine.identity(n)
        switch (op, slot) {
        case (.add, _): step.t = v
        case (.sub, 0): step.t = v.map { -$0 }
        case (.sub, _):
            step.s = [Double](repeating: -1, count: n)
            step.t = v
        case (.mul, _): step.s = v
        case (.div, _):
            guard v.allSatisfy({ $0 != 0 }) else { throw .unsupportedLayout(node: label, detail: "divides by a constant that is 0 somewhere") }
            step.s = v.map { 1 / $0 }
        }
        return step
    }
}

/// Shapes, element types, computed constants and fold roles of the graph being folded
/// (`GraphFacts` at symbolic dims 1 and, when the inputs have symbolic dims, 2), or only
/// what the graph itself says when planning fails (`problem`).
struct FoldFacts {
    var facts: GraphFacts?
    var other: GraphFacts?
    var problem: String
    let opset: Int

    init(_ graph: Graph, opset: Int) {
        self.opset = opset
        do {
            facts = try GraphFacts(graph, opset: opset, dim: 1)
            problem = ""
            let symbolic = graph.runtimeInputs.contains { v in
                (v.shape ?? []).contains { d in if case .value = d { return false } else { return true } }
            }
            if symbolic { other = try? GraphFacts(graph, opset: opset, dim: 2) }
        } catch {
            facts = nil
            problem = error.description
        }
    }

    func shape(_ value: String) -> [Int]? { facts?.shapes[value] }
    func type(_ value: String) -> ElementType? { facts?.types[value] }

    /// The node's fold role (`Operator.foldRole`, read with the model's opset); barrier for
    /// a node bnc cannot read.
    func role(_ node: Node) -> FoldRole {
        guard let (type, view) = try? Registry.resolve(node, index: 0, opset: opset),
              let op = try? type.init(view) else { return .barrier }
        return op.foldRole
    }

    /// A constant: an initializer that is not a graph input, or a computed constant.
    func constant(_ name: String, in graph: Graph) -> Tensor? {
        if let t = graph.initializer(named: name) {
            return graph.inputs.contains(where: { $0.name == name }) ? nil : t
        }
        return facts?.computed[name]
    }

    /// The channel axis of `y` = reshape(`x`) when channel axis `axis` of `x` survives, at
    /// both symbolic-dim readings.
    func reshapedAxis(from x: String, axis: Int, to y: String, channels: Int) -> Int? {
        func find(_ f: GraphFacts) -> Int? {
            guard let a = f.shapes[x], let b = f.shapes[y], axis < a.count else { return nil }
            let before = a[..<axis].reduce(1, *)
            var prefix = 1
            for (j, d) in b.enumerated() {
                if prefix == before && d == channels && a[axis] == channels { return j }
                prefix *= d
                if prefix > before { return nil }
            }
            return nil
        }
        guard let facts, let j = find(facts) else { return nil }
        if let other, find(other) != j { return nil }
        return j
    }
}
