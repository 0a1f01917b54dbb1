import BNCGraph
import BNCOps
import BNCRuntime

/// The BN's parameters in Double, with the per-channel affine `y = s x + t`.
struct BNParameters {
    var channels: Int
    var gamma: [Float], beta: [Float], mean: [Float], variance: [Float]
    var epsilon: Float
    var momentum: Float?
    /// s_k = γ_k / √(var_k + ε), t_k = β_k − γ_k μ_k / √(var_k + ε)
    var affine: Affine
    var s: [Double] { affine.s }
    var t: [Double] { affine.t }

    /// Reads BN node `index`'s parameters; the failure is the reason it cannot fold.
    static func read(_ graph: Graph, _ index: Int, facts: FoldFacts) -> Result<BNParameters, SkipReason> {
        let bn = graph.nodes[index]
        if (try? bn.int("training_mode", default: 0)) != 0 { return .failure(.trainingMode) }
        var values: [[Float]] = []
        for name in bn.inputs.dropFirst().prefix(4) {
            if graph.initializer(named: name) != nil, graph.inputs.contains(where: { $0.name == name }) {
                return .failure(.parameterOverridable(name))
            }
            guard let t = facts.constant(name, in: graph) else { return .failure(.parameterNotConstant(name)) }
            guard let v = t.floats, t.dims.count <= 1 else {
                return .failure(.parameterShape("'\(name)' is \(DataType.name(t.dataType)) with dims \(t.dims)"))
            }
            values.append(v)
        }
        guard values.count == 4 else { return .failure(.parameterShape("\(values.count) parameters")) }
        let c = values[0].count
        guard c > 0, values.allSatisfy({ $0.count == c }) else {
            return .failure(.parameterShape("lengths \(values.map(\.count))"))
        }
        let eps = (try? bn.float("epsilon", default: 1e-5)) ?? 1e-5
        if values.joined().contains(where: { !$0.isFinite }) || !eps.isFinite { return .failure(.nonFiniteParameters) }
        let momentum = bn.attribute("momentum").flatMap { a -> Float? in
            if case .float(let f) = a.value { return f }
            return nil
        }
        var affine = Affine.identity(c)
        for k in 0..<c {
            let denom = Double(values[3][k]) + Double(eps)
            guard denom > 0 else { return .failure(.nonPositiveVariance(channel: k)) }
            let sigma = denom.squareRoot()
            affine.s[k] = Double(values[0][k]) / sigma
            affine.t[k] = Double(values[1][k]) - Double(values[0][k]) * Double(values[2][k]) / sigma
        }
        return .success(BNParameters(
            channels: c, gamma: values[0], beta: values[1], mean: values[2], variance: values[3],
            epsilon: eps, momentum: momentum, affine: affine))
    }
}

/// One try at folding the chain around one seed node (a BN, or an Add/Sub/Mul/Div that may
/// follow a linear op) in a graph; pure.
struct FoldAttempt {
    enum Outcome {
        /// The folded graph, a fold per BN in the chain, and the chain when it held no BN.
        case folded(Graph, [FoldReport.Fold], FoldReport.AffineFold?)
        case skipped(FoldReport.Skip)
    }

    let graph: Graph
    let seed: Int
    let options: FoldOptions
    let facts: FoldFacts
    let finder: ChainFinder

    /// `finder` is the graph's (built once per graph by the caller, reused across seeds).
    init(graph: Graph, seed: Int, options: FoldOptions, facts: FoldFacts, finder: ChainFinder? = nil) {
        self.graph = graph
        self.seed = seed
        self.options = options
        self.facts = facts
        self.finder = finder ?? ChainFinder(graph: graph, facts: facts)
    }

    var node: Node { graph.nodes[seed] }
    var isBN: Bool { node.opType == "BatchNormalization" }
    var name: String { BNFolding.displayName(node) }

    func run() -> Outcome {
        var skip = FoldReport.Skip(bn: name)
        var params: BNParameters? = nil
        if isBN {
            switch BNParameters.read(graph, seed, facts: facts) {
            case .success(let p): params = p
            case .failure(let reason):
                skip.general = reason
                return .skipped(skip)
            }
        }
        if options.backward {
            do throws(SkipReason) {
                return try backward()
            } catch {
                skip.backward = error
            }
        }
        if options.forward, let params {
            do throws(SkipReason) {
                let (g, f) = try forward(params)
                return .folded(g, [f], nil)
            } catch {
                skip.forward = error
            }
        }
        return .skipped(skip)
    }

    /// Warnings about a BN's statistics, and about folded magnitudes when given.
    func warnings(bn bnName: String, maxAbsFolded: Double?) -> [FoldReport.Warning] {
        var out: [FoldReport.Warning] = []
        guard let node = graph.nodes.first(where: { BNFolding.displayName($0) == bnName && $0.opType == "BatchNormalization" }) else {
            if let maxAbsFolded, maxAbsFolded > 65504 {
                out.append(.init(bn: bnName, kind: .beyondFloat16, message: "folded values reach \(maxAbsFolded), beyond the Float16 range (65504)"))
            }
            return out
        }
        let tensors = node.inputs.dropFirst().prefix(4).map { facts.constant($0, in: graph)?.floats }
        guard tensors.count == 4, let g = tensors[0], let b = tensors[1], let m = tensors[2], let v = tensors[3] else {
            return out
        }
        if (g + b + m + v).contains(where: { !$0.isFinite }) {
            out.append(.init(bn: bnName, kind: .nonFiniteParameters, message: "parameters contain NaN or Inf"))
        }
        if !m.isEmpty, m.allSatisfy({ $0 == 0 }), v.allSatisfy({ $0 == 1 }) {
            out.append(.init(bn: bnName, kind: .untrainedStatistics,
                             message: "all means are 0 and all variances 1: the moving statistics look never trained"))
        }
        if let maxAbsFolded, maxAbsFolded > 65504 {
            out.append(.init(bn: bnName, kind: .beyondFloat16,
                             message: "folded values reach \(maxAbsFolded), beyond the Float16 range (65504)"))
        }
        return out
    }

    // MARK: Backward: linear op (or Concat of them) → chain

    private func backward() throws(SkipReason) -> Outcome {
        guard let run = finder.run(around: seed) else { throw .noLinearProducer("\(node.label(index: seed)) is not an inference step") }
        let first = graph.nodes[run[0]]
        let x = first.inputs[finder.dataSlot(run[0])!]
        guard let ri = finder.producer(of: x) else {
            throw .noLinearProducer("input '\(x)' is a graph input, not the output of a Conv/ConvTranspose/Gemm/MatMul")
        }
        let root = graph.nodes[ri], rootLabel = root.label(index: ri)
        let concat = root.opType == "Concat"
        let axis: Int
        if concat {
            axis = try concatAxis(ri)
        } else {
            guard case .linear = facts.role(root) else {
                throw .noLinearProducer("input '\(x)' comes from \(rootLabel), not a Conv/ConvTranspose/Gemm/MatMul (or a Concat of them)")
            }
            axis = try outputAxis(ri)
        }
        if graph.isGraphOutput(x) { throw .graphOutput(x) }
        let readers = finder.reads(x)
        if readers != 1 { throw .sharedValue(value: x, readers: readers) }
        let (found, stop) = finder.chain(run, axis: axis, bn: { BNParameters.read(graph, $0, facts: facts) })
        guard let chain = found, chain.links.contains(where: { $0.node == seed }) else {
            throw stop ?? .noLinearProducer("no affine step between \(rootLabel) and \(node.label(index: seed))")
        }
        var rw = Rewrite(graph: graph, options: options, facts: facts)
        var partials: [(Int, Rewrite.Partial)] = []
        var kept: Int? = nil
        if concat {
            for (pi, range) in try concatShares(ri, axis: axis, channels: chain.channels) {
                partials.append((pi, try rw.backwardLinear(pi, chain.total.slice(range), chain: nil)))
            }
        } else {
            let p = try rw.backwardLinear(ri, chain.total, chain: chain)
            kept = p.keptLink
            partials.append((ri, p))
        }
        let targets = partials.map { rw.graph.nodes[$0.0] }
        let removed = chain.links.filter { $0.kind != .passThrough && $0.node != kept }
        if removed.isEmpty {
            throw .noLinearProducer("\(node.label(index: seed)) already carries the shift of \(rootLabel): nothing to fold")
        }
        rw.removeLinks(removed)
        let g = Rewrite.pruneOrphans(rw.graph, candidates: rw.orphans)
        // Report: one fold per BN of the chain; a chain without one is an affine fold.
        let members = chain.steps.map { "\(graph.nodes[$0.node].opType) '\(BNFolding.displayName(graph.nodes[$0.node]))'" }
        let into = BNFolding.displayName(concat ? root : targets[0])
        let p0 = partials[0].1
        if chain.batchNorms.isEmpty {
            return .folded(g, [], FoldReport.AffineFold(
                nodes: members, into: into, intoOpBefore: concat ? "Concat" : p0.opBefore,
                intoOpAfter: concat ? "Concat" : targets[0].opType, channels: chain.channels, note: p0.note))
        }
        var folds: [FoldReport.Fold] = []
        for bi in chain.batchNorms {
            guard case .success(let bp) = BNParameters.read(graph, bi, facts: facts) else { continue }
            let bn = graph.nodes[bi]
            let others = zip(chain.steps, members).filter { $0.0.node != bi }.map(\.1)
            let audit = FoldAudit(
                into: into, direction: .backward, epsilon: bp.epsilon, momentum: bp.momentum,
                names: Array(bn.inputs.dropFirst().prefix(4)), input: bn.inputs[0], output: bn.outputs[0],
                scale: bp.gamma, B: bp.beta, mean: bp.mean, variance: bp.variance)
            var f = FoldReport.Fold(
                bn: BNFolding.displayName(bn), direction: .backward, into: into,
                intoOpBefore: concat ? "Concat" : p0.opBefore, intoOpAfter: concat ? "Concat" : targets[0].opType,
                channels: bp.channels, weight: p0.weight, weightShape: p0.weightShape,
                bias: p0.bias, biasShape: p0.biasShape, createdBias: p0.createdBias,
                clonedWeight: partials.contains { $0.1.cloned }, note: p0.note,
                maxAbsFolded: partials.map(\.1.maxAbs).max() ?? 0, audit: audit)
            f.chain = others
            if concat {
                f.splitInto = targets.map { "\($0.opType) '\(BNFolding.displayName($0))'" }
                f.weight = ""; f.weightShape = []; f.bias = ""; f.biasShape = []
                f.note = "split across \(rootLabel) into \(partials.count) ops along their channel ranges"
            }
            folds.append(f)
        }
        return .folded(g, folds, nil)
    }

    /// Output channel axis of linear node `i`: 1 for convolutions (weight rank ≥ 3) and for
    /// matrix products with a bias input (Gemm, whose output is 2-D), the last axis for the
    /// others (MatMul, any rank).
    private func outputAxis(_ i: Int) throws(SkipReason) -> Int {
        let n = graph.nodes[i], label = n.label(index: i)
        guard case .linear(let w, _, _, let bias) = facts.role(n), w < n.inputs.count else {
            throw .noLinearProducer("\(label) is not a linear op")
        }
        guard let weight = facts.constant(n.inputs[w], in: graph) else { throw .weightNotConstant(node: label, tensor: n.inputs[w]) }
        if weight.dims.count >= 3 || bias != nil { return 1 }
        guard let shape = facts.shape(n.outputs[0]) else {
            throw .unsupportedLayout(node: label, detail: "the rank of '\(n.outputs[0])' is unknown (shape inference: \(facts.problem))")
        }
        return shape.count - 1
    }

    private func concatAxis(_ i: Int) throws(SkipReason) -> Int {
        let n = graph.nodes[i], label = n.label(index: i)
        guard let rank = facts.shape(n.outputs[0])?.count else {
            throw .unsupportedLayout(node: label, detail: "the rank of '\(n.outputs[0])' is unknown")
        }
        let a = Int(n.int64Attribute("axis") ?? 1)
        return a < 0 ? a + rank : a
    }

    /// Each Concat input's producer and its channel range: every input must come from a
    /// linear op read only by the Concat, with its channels on the Concat's axis.
    private func concatShares(_ ci: Int, axis: Int, channels: Int) throws(SkipReason) -> [(Int, Range<Int>)] {
        let concat = graph.nodes[ci], label = concat.label(index: ci)
        var out: [(Int, Range<Int>)] = []
        var start = 0
        for v in concat.inputs {
            guard let pi = finder.producer(of: v), case .linear = facts.role(graph.nodes[pi]) else {
                throw .noLinearProducer("\(label) joins '\(v)', which is not the output of a Conv/ConvTranspose/Gemm/MatMul")
            }
            if graph.isGraphOutput(v) { throw .graphOutput(v) }
            let readers = finder.reads(v)
            guard readers == 1 else {
                throw .noLinearProducer("\(label) joins '\(v)', which has \(readers) readers (the split needs the Concat to be its only one)")
            }
            guard try outputAxis(pi) == axis, let shape = facts.shape(v), axis >= 0, axis < shape.count else {
                throw .unsupportedLayout(node: label, detail: "the channels of '\(v)' are not on the Concat's axis \(axis)")
            }
            let c = shape[axis]
            out.append((pi, start..<(start + c)))
            start += c
        }
        guard start == channels else { throw .channelMismatch(node: label, bnChannels: channels, opChannels: start) }
        return out
    }

    // MARK: Forward: BN → op

    private func forward(_ p: BNParameters) throws(SkipReason) -> (Graph, FoldReport.Fold) {
        let bn = node
        let y = bn.outputs[0]
        if graph.isGraphOutput(y) { throw .graphOutput(y) }
        let readers = graph.consumers(of: y)
        guard readers.count == 1, let li = readers.first else {
            if readers.isEmpty { throw .noLinearConsumer("output '\(y)' has no consumers") }
            throw .sharedValue(value: y, readers: readers.count)
        }
        let consumer = graph.nodes[li]
        switch consumer.opType {
        case "Conv", "Gemm", "MatMul": break
        default:
            throw .noLinearConsumer("output '\(y)' feeds \(consumer.label(index: li)), not a Gemm/MatMul/Conv")
        }
        guard consumer.inputs[0] == y, !consumer.inputs.dropFirst().contains(y) else {
            throw .unsupportedLayout(node: consumer.label(index: li), detail: "reads the BN output as a weight or bias, not as its data input")
        }
        var rw = Rewrite(graph: graph, options: options, facts: facts)
        let partial: Rewrite.Partial
        switch consumer.opType {
        case "Conv": partial = try rw.forwardConv(li, p)
        case "Gemm": partial = try rw.forwardGemm(li, p)
        default:
            guard let r = facts.shape(y)?.count else {
                throw .unsupportedLayout(node: consumer.label(index: li), detail: "the rank of '\(y)' is unknown (shape inference: \(facts.problem))")
            }
            partial = try rw.forwardMatMul(li, p, xRank: r)
        }
        // The op now reads the BN's input; the BN's output disappears.
        rw.graph.nodes[partial.intoIndex].inputs[0] = bn.inputs[0]
        let target = rw.graph.nodes[partial.intoIndex]
        let removed = rw.graph.nodes.remove(at: seed)
        rw.graph.valueInfo.removeAll { $0.name == y }
        rw.graph = Rewrite.pruneOrphans(rw.graph, candidates: rw.orphans + removed.inputs.dropFirst())
        let audit = FoldAudit(
            into: BNFolding.displayName(target), direction: .forward, epsilon: p.epsilon, momentum: p.momentum,
            names: Array(bn.inputs.dropFirst().prefix(4)), input: bn.inputs[0], output: bn.outputs[0],
            scale: p.gamma, B: p.beta, mean: p.mean, variance: p.variance)
        let fold = FoldReport.Fold(
            bn: name, direction: .forward, into: BNFolding.displayName(target), intoOpBefore: partial.opBefore,
            intoOpAfter: target.opType, channels: p.channels, weight: partial.weight, weightShape: partial.weightShape,
            bias: partial.bias, biasShape: partial.biasShape, createdBias: partial.createdBias,
            clonedWeight: partial.cloned, note: partial.note, maxAbsFolded: partial.maxAbs, audit: audit)
        return (rw.graph, fold)
    }

    // MARK: Collapse: chain → one BN

    /// The graph with the chain around this BN collapsed into it, and the names of the
    /// nodes merged; nil when the chain has fewer than two steps or leaves axis 1.
    func collapse() -> (Graph, [String])? {
        guard isBN, let run = finder.run(around: seed) else { return nil }
        let (found, _) = finder.chain(run, axis: 1, bn: { BNParameters.read(graph, $0, facts: facts) })
        guard let chain = found, chain.steps.count >= 2, chain.links.contains(where: { $0.node == seed }),
              chain.links.allSatisfy({ $0.axis == 1 && facts.role(graph.nodes[$0.node]) != .reshape }),
              case .success(let p) = BNParameters.read(graph, seed, facts: facts) else { return nil }
        var rw = Rewrite(graph: graph, options: options, facts: facts)
        // γ' = S·√(var + ε), β' = T, μ' = 0: γ'(x − 0)/√(var + ε) + β' = S x + T.
        var gamma = [Double](repeating: 0, count: p.channels)
        for k in 0..<p.channels { gamma[k] = chain.total.s[k] * (Double(p.variance[k]) + Double(p.epsilon)).squareRoot() }
        do throws(SkipReason) {
            try rw.setParameter(seed, slot: 1, gamma)
            try rw.setParameter(seed, slot: 2, chain.total.t)
            try rw.setParameter(seed, slot: 3, [Double](repeating: 0, count: p.channels))
        } catch {
            return nil
        }
        let others = chain.links.filter { $0.node != seed }
        let merged = others.filter { $0.kind != .passThrough }.map { "\(graph.nodes[$0.node].opType) '\(BNFolding.displayName(graph.nodes[$0.node]))'" }
        // The BN reads the chain's input and writes its output; the other links go.
        let oldOutput = rw.graph.nodes[seed].outputs[0]
        rw.graph.nodes[seed].inputs[0] = chain.input
        rw.graph.nodes[seed].outputs[0] = chain.output
        var drop = others.map(\.node)
        // Values that vanish: every link's output but the chain's last, and the BN's old output.
        let vanished = Set(chain.links.map(\.output).dropLast() + [oldOutput]).subtracting([chain.output])
        rw.graph.valueInfo.removeAll { vanished.contains($0.name) }
        drop.sort(by: >)
        var orphans: [String] = []
        for i in drop {
            let n = rw.graph.nodes.remove(at: i)
            orphans += n.inputs.filter { !$0.isEmpty && !vanished.contains($0) && $0 != chain.input }
        }
        rw.graph = Rewrite.pruneOrphans(rw.graph, candidates: orphans + rw.orphans)
        return (rw.graph, merged)
    }
}
