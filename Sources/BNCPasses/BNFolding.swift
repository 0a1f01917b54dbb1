import BNCGraph
import BNCRuntime

/// Folds inference-mode BatchNormalization nodes, and the per-channel affine chains they
/// sit in, into neighbouring linear ops.
///
/// BN in inference computes, per channel k (axis 1 of its input),
/// `y = γ_k (x − μ_k) / σ_k + β_k` with `σ_k = √(var_k + ε)`, i.e. `y = s_k x + t_k` with
/// `s_k = γ_k/σ_k`, `t_k = β_k − γ_k μ_k/σ_k`. Add/Sub/Mul/Div by per-channel constants are
/// affine steps too; a run of them (with BNs, and through Identity, inference Dropout and
/// reshapes that keep the channel axis) composes into one (S, T) in Double (`AffineChain`).
///
/// **Backward** (linear op → chain), output channel k of the op, along `FoldRole.linear`'s
/// weight axis and groups: `W'_k = S_k W_k`, `b'_k = S_k b_k + T_k`.
///   - Conv 1-D/2-D/3-D: W (M, C/group, k…), axis 0 (grouped and depthwise alike).
///   - ConvTranspose: W (C, M/group, k…), axis 1 per group: output channel g·(M/group) + j.
///   - Gemm: B (K, N) or (N, K) with transB = 1, scale the N axis; alpha and beta are
///     folded in too (alpha·S into B, beta·S into C), so the result has alpha = beta = 1.
///   - MatMul A (…, K) · B (K, N), channels on the last axis: B' = B·S; the shift goes into
///     an Add of the chain that is kept (MatMul → Add(bias) → BN stays MatMul + Add), else a
///     rank-2 MatMul becomes Gemm(A, B', T), else an Add is inserted; no shift, no bias.
///   - Concat of linear ops, each read only by the Concat, on the channel axis: (S, T) is
///     split along the Concat's channel ranges and each slice folds into its op.
///   A linear op's output channels are axis 1 for convolutions (weight rank ≥ 3) and the
///   last axis for matrix products (2-D weight).
///
/// **Forward** (BN → linear op), input channel k of the op:
///   `op(s ⊙ x + t) = op'(x)` with `W'[·, k] = W[·, k] s_k` and `b' = b + W·t`. Exact for
///   Gemm (transA = 0) and MatMul (rank-2 input, rewritten to Gemm). For Conv only when no
///   padding is applied: a padded zero would otherwise become `t_k` after the fold.
///
/// **Collapse**: a chain holding a BN that nothing absorbs becomes that one BN
/// (γ' = S·√(var + ε), β' = T, μ' = 0, var kept), when the chain has two steps or more.
///
/// A chain is folded only when every value inside it and the value between it and the op
/// have one reader and are not graph outputs, the parameters and constants are constants
/// (initializers that are not graph inputs a caller could override, or values computed from
/// them only, e.g. dynamo's Conv bias), training_mode is 0, and the op's weight is constant;
/// a weight read by other nodes too is cloned (or the BN skipped, per `FoldOptions`). Every
/// BN not folded is reported with its reasons. Chains are folded one at a time until none
/// can be. Backward is tried before forward.
///
/// Arithmetic is in Double (S, T and every folded value), rounded once to Float.
public enum BNFolding {
    /// Folds a model's graph and records each fold's original BN parameters in the
    /// metadata (`FoldAudit`, key `bnc.fold.<bn>`). The stored tensor digest
    /// (`bnc.integrity.sha256`) no longer matches folded tensors and is removed; the
    /// writer computes a fresh one. In an IR < 4 model the initializers listed among the
    /// graph inputs are constants (`InitializerInputs`): they fold, and the result lists
    /// every initializer among its inputs again, so the file keeps its layout.
    public static func fold(_ model: Model, options: FoldOptions = FoldOptions()) -> (Model, FoldReport) {
        let opset = model.defaultOpset.flatMap { Int(exactly: $0) } ?? Int(Model.opsetWritten)
        var out = model
        let report: FoldReport
        if InitializerInputs.listed(irVersion: model.irVersion) {
            let (graph, r) = fold(InitializerInputs.split(model.graph), opset: opset, options: options)
            out.graph = InitializerInputs.restore(graph, originalInputs: model.graph.inputs)
            report = r
        } else {
            (out.graph, report) = fold(model.graph, opset: opset, options: options)
        }
        for f in report.folded { out[metadata: f.auditKey] = f.audit.json }
        if out.graph != model.graph { out[metadata: MetadataKey.integritySHA256] = nil }
        return (out, report)
    }

    /// Folds every BN (and every affine chain after a linear op) it can. Never throws:
    /// what cannot be folded is reported. Expects a graph that passed `ModelValidator`.
    public static func fold(
        _ graph: Graph, opset: Int = Int(Model.opsetWritten), options: FoldOptions = FoldOptions()
    ) -> (Graph, FoldReport) {
        let facts = FoldFacts(graph, opset: opset)
        var report = FoldReport()
        var current = graph
        // Fold one chain at a time; a fold can make another one foldable. What is left: a
        // chain holding a BN collapses into that BN, which may then fold forward (BN → Mul →
        // Add → Gemm), so folding runs again after every collapse.
        var merged: [String: [String]] = [:]
        while true {
            progress: while true {
                let finder = ChainFinder(graph: current, facts: facts)
                for index in current.nodes.indices where finder.dataSlot(index) != nil {
                    // Seeds: every BN, and every Add/Sub/Mul/Div (a chain after a linear op).
                    if current.nodes[index].opType != "BatchNormalization" {
                        guard case .affine = facts.role(current.nodes[index]) else { continue }
                    }
                    let work = FoldAttempt(graph: current, seed: index, options: options, facts: facts, finder: finder)
                    if case .folded(let g, var folds, let affine) = work.run() {
                        current = g
                        // A BN that had steps merged into it folds with them.
                        for k in folds.indices { folds[k].chain = (merged[folds[k].bn] ?? []) + folds[k].chain }
                        report.folded += folds
                        if let affine { report.affineFolds.append(affine) }
                        for f in folds { report.warnings += work.warnings(bn: f.bn, maxAbsFolded: f.maxAbsFolded) }
                        continue progress
                    }
                }
                break
            }
            var collapsed = false
            collapsing: while true {
                let finder = ChainFinder(graph: current, facts: facts)
                for index in current.nodes.indices where current.nodes[index].opType == "BatchNormalization" {
                    let work = FoldAttempt(graph: current, seed: index, options: options, facts: facts, finder: finder)
                    if case .skipped(let skip) = work.run(), skip.general == nil, let (g, names) = work.collapse() {
                        current = g
                        merged[skip.bn, default: []] += names
                        collapsed = true
                        continue collapsing
                    }
                }
                break
            }
            if !collapsed { break }
        }
        let finder = ChainFinder(graph: current, facts: facts)
        for index in current.nodes.indices where current.nodes[index].opType == "BatchNormalization" {
            let work = FoldAttempt(graph: current, seed: index, options: options, facts: facts, finder: finder)
            if case .skipped(var skip) = work.run() {
                skip.merged = merged[skip.bn] ?? []
                report.skipped.append(skip)
                report.warnings += work.warnings(bn: skip.bn, maxAbsFolded: nil)
            }
        }
        return (current, report)
    }

    /// The name a report uses for a node: its name, or its first output's when unnamed.
    static func displayName(_ node: Node) -> String {
        node.name.isEmpty ? (node.outputs.first ?? "") : node.name
    }
}

