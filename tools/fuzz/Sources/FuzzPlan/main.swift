import BNCGraph
import BNCModelFile
import BNCOps
import BNCRuntime
import CFuzzerDriver
import Foundation

/// Bytes → load → plan → run, the path of `bnc infer` for any model. Properties:
/// - loading either throws a `ModelError` with a problem, or gives a validated model;
/// - planning every operator (shape rules, version adapters, constant evaluation, lowering,
///   fusion, memory layout) either throws a `ModelError` naming a place, or gives a plan;
/// - a plan runs on inputs of the declared shapes (symbolic dims 2, sizes capped) and gives
///   one output tensor per graph output with as many values as its shape says.
/// Memory is bounded by the runner's limit, so a file declaring huge tensors must be
/// refused, not allocated.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPlan(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let model: Model
    do {
        model = try ModelFile.decode(bytes, path: "fuzz.pb")
    } catch {
        precondition(!error.problem.isEmpty, "error without a problem: \(error)")
        return 0
    }
    let runner: GraphRunner
    do {
        runner = try GraphRunner(model: model)
    } catch {
        precondition(!error.problem.isEmpty, "error without a problem: \(error)")
        return 0
    }
    runner.memoryLimit = 64 << 20
    runner.memoryBudget = 1 << 20
    runner.maxBatch = 4
    var feeds: [String: Tensor] = [:]
    for v in runner.inputs {
        guard let shape = v.shape else { return 0 }
        let dims = shape.map { d -> Int in
            if case .value(let x) = d { return Int(clamping: x) }
            return 2
        }
        guard dims.allSatisfy({ $0 >= 1 && $0 <= 1 << 16 }), let n = Tensor.checkedElementCount(dims), n <= 1 << 16 else { return 0 }
        switch ElementType(dataType: v.elemType) {
        case .float?: feeds[v.name] = Tensor(name: v.name, dims: dims, floats: (0..<n).map { Float($0 % 7) - 3 })
        case .int64?: feeds[v.name] = Tensor(name: v.name, dims: dims, int64s: (0..<n).map { Int64($0 % 3) })
        case .int32?: feeds[v.name] = Tensor(name: v.name, dims: dims, int32s: (0..<n).map { Int32($0 % 3) })
        case .bool?: feeds[v.name] = Tensor(name: v.name, dims: dims, bools: (0..<n).map { $0 % 2 == 0 })
        case nil: return 0
        }
    }
    do {
        let outputs = try runner.run(feeds)
        precondition(outputs.count == model.graph.outputs.count, "\(outputs.count) outputs for \(model.graph.outputs.count)")
        for o in outputs {
            precondition(o.count == Tensor.elementCount(o.dims), "output '\(o.name)': \(o.count) values for dims \(o.dims)")
        }
    } catch {
        precondition(!error.place.isEmpty || !error.problem.isEmpty, "error without a place or problem: \(error)")
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzPlan(data, size) })
