/// IR versions before 4 list every initializer among the graph inputs (ONNX required it);
/// there those entries are constants, not values a caller feeds, as onnxruntime treats
/// them. From IR 4 an initializer that is also a graph input is a default a caller may
/// override.
///
/// Passes that must tell the two apart work on the split graph and restore the listing
/// afterwards, so a file keeps its layout (and IR version) when bnc re-saves or folds it.
public enum InitializerInputs {
    /// Whether a model of this IR version lists every initializer as a graph input.
    public static func listed(irVersion: Int64) -> Bool { irVersion < 4 }

    /// The graph without the input entries that name initializers.
    public static func split(_ graph: Graph) -> Graph {
        var g = graph
        let constants = Set(graph.initializers.map(\.name))
        g.inputs.removeAll { constants.contains($0.name) }
        return g
    }

    /// `graph` with every initializer listed among its inputs again: in the order of
    /// `originalInputs`, each runtime input and each original initializer entry whose
    /// initializer still exists, then runtime inputs not there before, then an entry built
    /// from the tensor (element type, dims) for each initializer that had none, in
    /// initializer order.
    public static func restore(_ graph: Graph, originalInputs: [ValueInfo]) -> Graph {
        var g = graph
        let constants = Set(graph.initializers.map(\.name))
        let current = Set(graph.inputs.map(\.name))
        var inputs: [ValueInfo] = []
        var placed = Set<String>()
        for v in originalInputs where (current.contains(v.name) || constants.contains(v.name)) && !placed.contains(v.name) {
            inputs.append(graph.inputs.first { $0.name == v.name } ?? v)
            placed.insert(v.name)
        }
        for v in graph.inputs where !placed.contains(v.name) {
            inputs.append(v)
            placed.insert(v.name)
        }
        for t in graph.initializers where !placed.contains(t.name) {
            inputs.append(ValueInfo(name: t.name, elemType: t.dataType, shape: t.dims.map { .value(Int64($0)) }))
            placed.insert(t.name)
        }
        g.inputs = inputs
        return g
    }
}
