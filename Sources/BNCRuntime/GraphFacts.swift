import BNCGraph
import BNCOps

/// What planning knows about a graph before anything runs, for the passes (`bnc fold`):
/// every value's shape and element type, the values that are constants whatever the
/// runtime inputs are.
///
/// Shapes: every runtime input's symbolic or unknown dim is read as `dim` (1 by default);
/// a pass that must know whether a shape rule holds for every batch size compares two
/// `GraphFacts` built with different `dim`s.
///
/// Constants: initializers, and the outputs of nodes whose inputs are all constants
/// (a `Constant`, `Shape(W)` of an initializer, PyTorch dynamo's Conv bias
/// `CastLike(Expand(0, Shape(W)[0:1]), x)`, …; an input of which only the element type is
/// read, `Operator.typeOnlyInputs`, need not be constant), evaluated by `Analysis` exactly as the
/// executor evaluates them. A value computed from a runtime input — `Shape(x)` included,
/// whose contents planning also knows — is never a constant here: it may change with the
/// input's shape.
public struct GraphFacts: Sendable {
    /// Shape of every value (initializers, runtime inputs, node outputs).
    public let shapes: [String: [Int]]
    /// Element type of every value.
    public let types: [String: ElementType]
    /// Node outputs that are input-independent constants (initializers are not repeated
    /// here), as tensors.
    public let computed: [String: Tensor]
    /// The value read for symbolic dims.
    public let dim: Int

    /// Analyzes `graph` (a graph that passed `ModelValidator`) with FLOAT runtime inputs of
    /// their declared shapes, symbolic dims read as `dim`. Throws the planner's error (an
    /// integer runtime input, an input without a shape, an operator bnc cannot plan).
    public init(_ graph: Graph, opset: Int, dim: Int = 1) throws(ModelError) {
        var inputs: [String: PlanValue] = [:]
        for v in graph.runtimeInputs {
            guard v.elemType == DataType.float else {
                throw ModelError(.unsupportedModel, place: "graph input '\(v.name)'",
                                 problem: "has element type \(DataType.name(v.elemType)); shapes are known for FLOAT inputs only")
            }
            guard let dims = v.shape else {
                throw ModelError(.unsupportedModel, place: "graph input '\(v.name)'", problem: "has no shape")
            }
            inputs[v.name] = PlanValue(shape: dims.map { d in
                if case .value(let n) = d, n >= 1 { return Int(n) }
                return dim
            })
        }
        let analysis = try Analysis(graph: graph, opset: opset, inputs: inputs,
                                    elementLimit: Executor.defaultMemoryLimit / MemoryLayout<Float>.size)
        shapes = analysis.values.mapValues(\.shape)
        types = analysis.values.mapValues(\.type)
        self.dim = dim
        var constant = Set(graph.initializers.map(\.name))
        var computed: [String: Tensor] = [:]
        for node in graph.nodes {
            let typeOnly = Registry.operatorType(node.opType)?.typeOnlyInputs ?? []
            guard node.inputs.indices.allSatisfy({ node.inputs[$0].isEmpty || constant.contains(node.inputs[$0]) || typeOnly.contains($0) })
            else { continue }
            for out in node.outputs where !out.isEmpty {
                guard let v = analysis.values[out], let t = v.tensor(named: out) else { continue }
                constant.insert(out)
                computed[out] = t
            }
        }
        self.computed = computed
    }
}
