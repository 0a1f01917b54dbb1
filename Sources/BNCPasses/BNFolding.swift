import BNCGraph
import BNCRuntime

/// Folds inference-mode BatchNormalization nodes into neighbouring linear ops.
///
/// BN in inference computes, per channel k (axis 1 of its input),
/// `y = γ_k (x − μ_k) / σ_k + β_k` with `σ_k = √(var_k + ε)`, i.e. `y = s_k x + t_k` with
/// `s_k = γ_k/σ_k`, `t_k = β_k − γ_k μ_k/σ_k`.
///
/// **Backward** (linear op → BN), output channel k of the op:
///   `W'_k = s_k W_k`, `b'_k = s_k b_k + t_k` (a bias is created when the op has none).
///   - Conv: W (M, C/group, kh, kw), scale axis 0 (any group count, depthwise included).
///   - Gemm: B (K, N) or (N, K) with transB = 1, scale the N axis; alpha and beta are
///     folded in too (alpha·s into B, beta·s into C), so the result has alpha = beta = 1.
///   - MatMul A (R, K) · B (K, N): rewritten to Gemm(A, B', b'), since a bias is needed.
///     Gemm requires a rank-2 A, and only then are BN channels (axis 1) the N features;
///     other ranks are skipped with that reason.
///   - MatMul → Add(bias) → BN: kept as MatMul + Add, with B' and the Add's bias folded.
///
/// **Forward** (BN → linear op), input channel k of the op:
///   `op(s ⊙ x + t) = op'(x)` with `W'[·, k] = W[·, k] s_k` and `b' = b + W·t`. Exact for
///   Gemm (transA = 0) and MatMul (rank-2 input, rewritten to Gemm). For Conv only when no
///   padding is applied: a padded zero would otherwise become `t_k` after the fold.
///
/// A BN is folded only when the value between it and the op has one reader and is not a
/// graph output, its parameters are initializers (and not graph inputs a caller could
/// override), training_mode is 0, and the op's weight is a constant initializer; a weight
/// read by other nodes too is cloned (or the BN skipped, per `FoldOptions`). Every BN not
/// folded is reported with its reasons. BNs are folded one at a time until none can be,
/// so chains (Conv → BN → BN) fold completely. Backward is tried before forward.
///
/// Arithmetic is in Double (s, t and every folded value), rounded once to Float.
public enum BNFolding {
    /// Folds a model's graph and records each fold's original BN parameters in the
    /// metadata (`FoldAudit`, key `bnc.fold.<bn>`). The stored tensor digest
    /// (`bnc.integrity.sha256`) no longer matches folded tensors and is removed; the
    /// writer computes a fresh one.
    public static func fold(_ model: Model, options: FoldOptions = FoldOptions()) -> (Model, FoldReport) {
        let opset = model.defaultOpset.flatMap { Int(exactly: $0) } ?? Int(Model.opsetWritten)
        let (graph, report) = fold(model.graph, opset: opset, options: options)
        var out = model
        out.graph = graph
        for f in report.folded { out[metadata: f.auditKey] = f.audit.json }
        if !report.folded.isEmpty { out[metadata: MetadataKey.integritySHA256] = nil }
        return (out, report)
    }

    /// Folds every BN it can. Never throws: what cannot be folded is reported.
    /// Expects a graph that passed `ModelValidator`.
    public static func fold(
        _ graph: Graph, opset: Int = Int(Model.opsetWritten), options: FoldOptions = FoldOptions()
    ) -> (Graph, FoldReport) {
        var shapes: [String: [Int]]? = nil
        var shapeProblem = ""
        do {
            shapes = try ShapeInference.infer(graph, batch: 1, opset: opset)
        } catch {
            shapeProblem = error.description
        }
        var report = FoldReport()
        var current = graph
        // Fold one BN at a time; a fold can make another BN foldable (chains).
        progress: while true {
            for index in current.nodes.indices where current.nodes[index].opType == "BatchNormalization" {
                let work = FoldAttempt(graph: current, bnIndex: index, options: options, shapes: shapes, shapeProblem: shapeProblem)
                if case .folded(let g, let fold) = work.run() {
                    current = g
                    report.folded.append(fold)
                    report.warnings += work.warnings(maxAbsFolded: fold.maxAbsFolded)
                    continue progress
                }
            }
            break
        }
        for index in current.nodes.indices where current.nodes[index].opType == "BatchNormalization" {
            let work = FoldAttempt(graph: current, bnIndex: index, options: options, shapes: shapes, shapeProblem: shapeProblem)
            if case .skipped(let skip) = work.run() { report.skipped.append(skip) }
            report.warnings += work.warnings(maxAbsFolded: nil)
        }
        return (current, report)
    }

    /// The name a report uses for a node: its name, or its first output's when unnamed.
    static func displayName(_ node: Node) -> String {
        node.name.isEmpty ? (node.outputs.first ?? "") : node.name
    }
}

/// The BN's parameters in Double, with the per-channel affine `y = s x + t`.
struct BNParameters {
    var channels: Int
    var gamma: [Float], beta: [Float], mean: [Float], variance: [Float]
    var epsilon: Float
    var momentum: Float?
    /// s_k = γ_k / √(var_k + ε)
    var s: [Double]
    /// t_k = β_k − γ_k μ_k / √(var_k + ε)
    var t: [Double]
}

/// One try at folding one BN in a graph; pure.
struct FoldAttempt {
    enum Outcome {
        case folded(Graph, FoldReport.Fold)
        case skipped(FoldReport.Skip)
    }

    let graph: Graph
    let bnIndex: Int
    let options: FoldOptions
    let shapes: [String: [Int]]?
    let shapeProblem: String

    var bn: Node { graph.nodes[bnIndex] }
    var bnName: String { BNFolding.displayName(bn) }

    /// The folded graph and the fold, or the skip with its reasons.
    func run() -> Outcome {
        var skip = FoldReport.Skip(bn: bnName)
        let params: BNParameters
        switch parameters() {
        case .success(let p): params = p
        case .failure(let reason):
            skip.general = reason
            return .skipped(skip)
        }
        if options.backward {
            do throws(SkipReason) {
                let (g, f) = try backward(params)
                return .folded(g, f)
            } catch {
                skip.backward = error
            }
        }
        if options.forward {
            do throws(SkipReason) {
                let (g, f) = try forward(params)
                return .folded(g, f)
            } catch {
                skip.forward = error
            }
        }
        return .skipped(skip)
    }

    /// Warnings about this BN's statistics, and about folded magnitudes when given.
    func warnings(maxAbsFolded: Double?) -> [FoldReport.Warning] {
        var out: [FoldReport.Warning] = []
        let tensors = bn.inputs.dropFirst().prefix(4).map { graph.initializer(named: $0)?.floats }
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

    // MARK: Parameters

    private func parameters() -> Result<BNParameters, SkipReason> {
        if (try? bn.int("training_mode", default: 0)) != 0 { return .failure(.trainingMode) }
        var values: [[Float]] = []
        for name in bn.inputs.dropFirst().prefix(4) {
            guard let t = graph.initializer(named: name) else { return .failure(.parameterNotConstant(name)) }
            if graph.inputs.contains(where: { $0.name == name }) { return .failure(.parameterOverridable(name)) }
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
        var s = [Double](repeating: 0, count: c), t = [Double](repeating: 0, count: c)
        for k in 0..<c {
            let denom = Double(values[3][k]) + Double(eps)
            guard denom > 0 else { return .failure(.nonPositiveVariance(channel: k)) }
            let sigma = denom.squareRoot()
            s[k] = Double(values[0][k]) / sigma
            t[k] = Double(values[1][k]) - Double(values[0][k]) * Double(values[2][k]) / sigma
        }
        return .success(BNParameters(
            channels: c, gamma: values[0], beta: values[1], mean: values[2], variance: values[3],
            epsilon: eps, momentum: momentum, s: s, t: t))
    }

    // MARK: Backward: op → BN

    private func backward(_ p: BNParameters) throws(SkipReason) -> (Graph, FoldReport.Fold) {
        let x = bn.inputs[0]
        guard let pi = graph.producer(of: x) else {
            throw .noLinearProducer("input '\(x)' is a graph input, not the output of a Conv/Gemm/MatMul")
        }
        let producer = graph.nodes[pi]
        switch producer.opType {
        case "Conv", "Gemm", "MatMul", "Add": break
        default:
            throw .noLinearProducer("input '\(x)' comes from \(producer.label(index: pi)), not a Conv/Gemm/MatMul")
        }
        try requireSingleReader(x)
        var rw = Rewrite(graph: graph, options: options)
        let partial: Rewrite.Partial
        switch producer.opType {
        case "Conv": partial = try rw.backwardConv(pi, p)
        case "Gemm": partial = try rw.backwardGemm(pi, p)
        case "MatMul": partial = try rw.backwardMatMul(pi, p, aRank: try rank(of: producer.inputs[0], at: producer.label(index: pi)))
        default: partial = try rw.backwardMatMulAdd(pi, p, rank: { (v: String, l: String) throws(SkipReason) -> Int in try self.rank(of: v, at: l) })
        }
        // The op now produces the BN's output; the intermediate value disappears.
        rw.graph.nodes[partial.outputIndex].outputs[0] = bn.outputs[0]
        let target = rw.graph.nodes[partial.intoIndex]
        rw.removeBN(at: bnIndex, vanishing: x)
        return (rw.graph, finish(partial, p, direction: .backward, into: target))
    }

    // MARK: Forward: BN → op

    private func forward(_ p: BNParameters) throws(SkipReason) -> (Graph, FoldReport.Fold) {
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
        var rw = Rewrite(graph: graph, options: options)
        let partial: Rewrite.Partial
        switch consumer.opType {
        case "Conv": partial = try rw.forwardConv(li, p)
        case "Gemm": partial = try rw.forwardGemm(li, p)
        default: partial = try rw.forwardMatMul(li, p, xRank: try rank(of: y, at: consumer.label(index: li)))
        }
        // The op now reads the BN's input; the BN's output disappears.
        rw.graph.nodes[partial.intoIndex].inputs[0] = bn.inputs[0]
        let target = rw.graph.nodes[partial.intoIndex]
        rw.removeBN(at: bnIndex, vanishing: y)
        return (rw.graph, finish(partial, p, direction: .forward, into: target))
    }

    // MARK: Helpers

    private func requireSingleReader(_ value: String) throws(SkipReason) {
        if graph.isGraphOutput(value) { throw .graphOutput(value) }
        let n = graph.consumers(of: value).count
        if n != 1 { throw .sharedValue(value: value, readers: n) }
    }

    private func rank(of value: String, at place: String) throws(SkipReason) -> Int {
        guard let shapes else {
            throw .unsupportedLayout(node: place, detail: "the rank of '\(value)' is unknown (shape inference: \(shapeProblem))")
        }
        guard let s = shapes[value] else {
            throw .unsupportedLayout(node: place, detail: "the rank of '\(value)' is unknown")
        }
        return s.count
    }

    private func finish(_ partial: Rewrite.Partial, _ p: BNParameters, direction: FoldReport.Direction, into target: Node) -> FoldReport.Fold {
        let names = Array(bn.inputs.dropFirst().prefix(4))
        let audit = FoldAudit(
            into: BNFolding.displayName(target), direction: direction, epsilon: p.epsilon, momentum: p.momentum,
            names: names, input: bn.inputs[0], output: bn.outputs[0],
            scale: p.gamma, B: p.beta, mean: p.mean, variance: p.variance)
        return FoldReport.Fold(
            bn: bnName, direction: direction, into: BNFolding.displayName(target), intoOpBefore: partial.opBefore,
            intoOpAfter: target.opType, channels: p.channels, weight: partial.weight, weightShape: partial.weightShape,
            bias: partial.bias, biasShape: partial.biasShape, createdBias: partial.createdBias,
            clonedWeight: partial.cloned, note: partial.note, maxAbsFolded: partial.maxAbs, audit: audit)
    }
}
