import BNCGraph
import BNCModelFile
import BNCOps
import BNCPasses
import BNCRuntime
import CFuzzerDriver
import Foundation

/// Bytes → load → validate → fold → proof, the path of `bnc fold`. Properties:
/// - loading either throws a `ModelError` or gives a validated model (as in FuzzModelLoader);
/// - the fold never crashes, accounts for every BatchNormalization (folded or skipped), and
///   its result is a valid model that survives a save and a load;
/// - when the original graph compiles, the folded one compiles too, with the same input
///   and output shapes, and the proof runs;
/// - for tame models (finite weights of moderate size, variances not near zero) the proof
///   passes at a loose tolerance: a fold that changes outputs is a bug, not a rounding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFold(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let model: Model
    do {
        model = try ModelFile.decode(bytes, path: "fuzz.pb")
    } catch {
        precondition(!error.problem.isEmpty, "error without a problem: \(error)")
        return 0
    }
    let (folded, report) = BNFolding.fold(model)
    let bns = model.graph.nodes.filter { $0.opType == "BatchNormalization" }.count
    let left = folded.graph.nodes.filter { $0.opType == "BatchNormalization" }.count
    precondition(report.folded.count + left == bns, "\(bns) BNs, \(report.folded.count) folded, \(left) left")
    precondition(report.skipped.count == left, "\(left) BNs left but \(report.skipped.count) skips reported")
    do {
        try ModelValidator.validate(folded)
        let encoded = ModelFile.encode(folded)
        let again = try ModelFile.decode(encoded, path: "folded.pb")
        precondition(ModelFile.encode(again) == encoded, "re-encoding the folded model is not stable")
    } catch {
        preconditionFailure("the folded model is not valid: \(error)")
    }

    // Small plans only: the harness must stay fast and inside libFuzzer's memory limit.
    let limit = 64 << 20
    let opset = (try? ModelValidator.defaultOpset(model)) ?? 15
    guard (try? Executor(graph: model.graph, opset: opset, maxBatch: 4, memoryBudget: 1 << 20, memoryLimit: limit)) != nil else { return 0 }
    let proof: FoldProof
    do {
        proof = try FoldProof.run(original: model.graph, folded: folded.graph, randomProbes: 3, memoryLimit: limit, opset: opset)
    } catch {
        preconditionFailure("the original graph compiles but the proof failed: \(error)")
    }
    if isTame(model.graph), proof.outputScale > 1e-3, proof.outputScale < 1e6 {
        precondition(proof.maxRelDiff <= 1e-3, "fold changed the outputs of a tame model: max rel diff \(proof.maxRelDiff)")
    }
    return 0
}

/// Finite weights within ±16, BN variances + epsilon ≥ 0.05, at most 8 nodes: a model whose
/// fold must be exact up to Float rounding.
func isTame(_ graph: Graph) -> Bool {
    guard graph.nodes.count <= 8 else { return false }
    for t in graph.initializers {
        if let v = t.floats, v.contains(where: { !($0.magnitude <= 16) }) { return false }
    }
    for node in graph.nodes where node.opType == "BatchNormalization" {
        let eps = (try? node.float("epsilon", default: 1e-5)) ?? 1e-5
        guard node.inputs.count >= 5, let variance = graph.initializer(named: node.inputs[4])?.floats else { return false }
        if variance.contains(where: { !($0 + eps >= 0.05) }) { return false }
    }
    return true
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzFold(data, size) })
