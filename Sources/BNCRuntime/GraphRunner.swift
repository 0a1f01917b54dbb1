import BNCGraph
import BNCKernels
import BNCOps

/// Runs a graph on named input tensors of any shape the graph accepts, with any number of
/// inputs and outputs: what `bnc infer --input NAME=FILE` and the conformance tests use.
///
/// How a feed runs:
/// - FLOAT inputs are the data. When every float input's dim 0 is the same n and the graph
///   is batch-polymorphic there (`Compilation`), the plan runs n samples in chunks.
/// - Otherwise the plan is compiled for the exact shapes fed — except that a model whose
///   inputs declare a fixed dim 0 of 1, fed n > 1, runs sample by sample (the only sensible
///   reading of a batch given to a batch-1 model).
/// - Integer and bool inputs (indices, shapes, axes) are plan-time values: the plan is
///   specialized for them.
/// The last plan is kept and reused while the feed's shapes and integer values repeat.
public final class GraphRunner {
    public let graph: Graph
    public let opset: Int
    /// Graph inputs that are not initializers, in graph order: what a caller feeds.
    public let inputs: [ValueInfo]
    public var maxBatch = Executor.defaultMaxBatch
    public var memoryBudget = Executor.defaultMemoryBudget
    public var memoryLimit = Executor.defaultMemoryLimit
    /// Which kernels the plans use.
    public var options = PlanOptions()

    /// The last plan: its feed key, and whether it runs one sample per unit.
    private var cached: (key: [String], executor: Executor, perSample: Bool)?

    /// A runner for a validated model (its default-domain opset picks operator versions).
    public convenience init(model: Model) throws(ModelError) {
        self.init(graph: model.graph, opset: try ModelValidator.defaultOpset(model))
    }

    public init(graph: Graph, opset: Int) {
        self.graph = graph
        self.opset = opset
        inputs = graph.runtimeInputs
    }

    /// Runs the graph on `feeds` (one tensor per runtime input) and returns every graph
    /// output in graph order, named as in the graph. Throws `.unsupportedModel` naming the
    /// input for a missing, unknown or mismatched feed, and naming the node for anything the
    /// plan cannot run.
    public func run(_ feeds: [String: Tensor]) throws(ModelError) -> [Tensor] {
        try checkFeeds(feeds)
        let floatNames = inputs.filter { ElementType(dataType: $0.elemType) == .float }.map(\.name)
        let floatShapes = floatNames.map { feeds[$0]!.dims }
        let n = floatShapes.first?.first
        var facts: [String: PlanValue] = [:]
        for v in inputs where !floatNames.contains(v.name) {
            guard let p = PlanValue(feeds[v.name]!) else {
                throw ModelError(.unsupportedDataType, place: "graph input '\(v.name)'", problem: "has an element type bnc does not handle")
            }
            facts[v.name] = p
        }
        // The batch reading: every float input has dim 0 = n.
        let batchable = n != nil && floatShapes.allSatisfy { $0.first == n }
        let declaredOne = floatNames.allSatisfy { name in
            if case .value(1)? = inputs.first(where: { $0.name == name })?.shape?.first { return true }
            return false
        }
        let key = floatNames.map { "\($0):\(feeds[$0]!.dims)" } + facts.keys.sorted().map { "\($0)=\(String(describing: facts[$0]!.contents))" }
        if cached?.key != key {
            var compiled: Compilation? = nil
            var perSample = false
            if batchable {
                var unit = facts
                for (name, shape) in zip(floatNames, floatShapes) { unit[name] = PlanValue(shape: [1] + shape.dropFirst()) }
                // A graph that cannot run one sample (a Reshape to the whole batch's size, …)
                // runs as fed.
                if let c = try? Compilation(graph: graph, opset: opset, inputs: unit, inputNames: floatNames, memoryLimit: memoryLimit,
                                               options: options),
                   c.polymorphic || (declaredOne && n != 1) {
                    compiled = c
                    perSample = true
                }
            }
            if compiled == nil {
                var exact = facts
                for (name, shape) in zip(floatNames, floatShapes) { exact[name] = PlanValue(shape: shape) }
                compiled = try Compilation(graph: graph, opset: opset, inputs: exact, inputNames: floatNames, memoryLimit: memoryLimit,
                                               options: options)
            }
            let e = try Executor(compiled!, maxBatch: maxBatch, memoryBudget: memoryBudget, memoryLimit: memoryLimit)
            cached = (key, e, perSample)
        }
        let (executor, perSample) = (cached!.executor, cached!.perSample)
        let units = perSample ? (n ?? 1) : 1
        return collect(executor, feeds: feeds, floatNames: floatNames, units: units)
    }

    private func checkFeeds(_ feeds: [String: Tensor]) throws(ModelError) {
        for name in feeds.keys.sorted() where !inputs.contains(where: { $0.name == name }) {
            throw ModelError(.unsupportedModel, place: "input '\(name)'",
                             problem: "is not an input of the model; it takes \(inputs.map { "'\($0.name)'" }.joined(separator: ", "))")
        }
        for v in inputs {
            guard let t = feeds[v.name] else {
                throw ModelError(.unsupportedModel, place: "graph input '\(v.name)'", problem: "is not given (\(v.shapeDescription))")
            }
            guard let declared = ElementType(dataType: v.elemType) else {
                throw ModelError(.unsupportedDataType, place: "graph input '\(v.name)'",
                                 problem: "has element type \(DataType.name(v.elemType)); bnc feeds FLOAT, INT64, INT32 and BOOL inputs")
            }
            guard ElementType(dataType: t.dataType) == declared else {
                throw ModelError(.unsupportedModel, place: "graph input '\(v.name)'",
                                 problem: "is \(DataType.name(v.elemType)), the data given is \(DataType.name(t.dataType))")
            }
            if let shape = v.shape {
                let given = "(" + t.dims.map(String.init).joined(separator: ", ") + ")"
                guard shape.count == t.dims.count else {
                    throw ModelError(.unsupportedModel, place: "graph input '\(v.name)'",
                                     problem: "has shape \(v.shapeDescription), the data given \(given)")
                }
                for (i, d) in shape.enumerated() {
                    if case .value(let fixed) = d, fixed != Int64(t.dims[i]), !(i == 0 && declared == .float) {
                        throw ModelError(.unsupportedModel, place: "graph input '\(v.name)'",
                                         problem: "has shape \(v.shapeDescription), the data given \(given) (dim \(i) differs)")
                    }
                }
            }
        }
    }

    private func collect(_ e: Executor, feeds: [String: Tensor], floatNames: [String], units: Int) -> [Tensor] {
        var data: [[Float]] = e.outputCounts.map { [Float](repeating: 0, count: $0 * units) }
        let arrays = floatNames.map { feeds[$0]!.floats ?? [] }
        withPointers(arrays) { pointers in
            e.run(inputs: pointers, units: units) { o, first, count, values in
                if case .constant = e.plan.outputs[o] { return }
                let k = e.outputCounts[o]
                data[o].withUnsafeMutableBufferPointer { d in (d.baseAddress! + first * k).update(from: values, count: count * k) }
            }
        }
        var result: [Tensor] = []
        for (o, output) in e.plan.outputs.enumerated() {
            let name = graph.outputs[o].name
            switch output {
            case .value(_, let unit):
                var shape = unit
                if units > 1, !shape.isEmpty { shape[0] *= units }
                result.append(Tensor(name: name, dims: shape, floats: data[o]))
            case .constant(let v):
                result.append(v.tensor(named: name)!)
            }
        }
        return result
    }
}

/// Calls `body` with pointers to the arrays' storage, valid for the call.
private func withPointers<R>(_ arrays: [[Float]], _ body: ([UnsafePointer<Float>]) -> R) -> R {
    func go(_ i: Int, _ acc: [UnsafePointer<Float>]) -> R {
        if i == arrays.count { return body(acc) }
        return arrays[i].withUnsafeBufferPointer { b in
            go(i + 1, acc + [b.baseAddress ?? UnsafePointer(bitPattern: 16)!])
        }
    }
    return go(0, [])
}
