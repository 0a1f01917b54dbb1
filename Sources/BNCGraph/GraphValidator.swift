/// Structural checks of a decoded graph: names, definitions, order. The loader
/// (BNCModelFile) checks the wire-level facts (sizes, element types) first; operator checks
/// come from the operator registry (`BNCOps.ModelValidator`).
public enum GraphValidator {
    /// Throws the first problem found, naming the tensor or value concerned.
    ///
    /// Checks: initializer names unique and data matching dims; graph inputs named and
    /// unique; each value produced once; every node input and graph output defined; no
    /// cycles and topological order. Operators (domains, arity, attributes, opsets) are
    /// checked against their schemas by `BNCOps.ModelValidator`, which calls this first.
    public static func validate(_ model: Model) throws(ModelError) {
        try validate(model.graph)
    }

    /// The structural checks of a graph.
    public static func validate(_ graph: Graph) throws(ModelError) {
        // Initializers: unique names, data matching dims.
        var defined = Set<String>()
        for t in graph.initializers {
            let place = "tensor '\(t.name)'"
            if t.name.isEmpty {
                throw ModelError(.missingField, place: "initializer", problem: "has no name")
            }
            if !defined.insert(t.name).inserted {
                throw ModelError(.duplicateName, place: place, problem: "two initializers have this name")
            }
            guard let n = Tensor.checkedElementCount(t.dims) else {
                throw ModelError(.badShape, place: place, problem: "dims \(t.dims) are negative or their product overflows")
            }
            if n != t.count {
                throw ModelError(.badShape, place: place, problem: "\(t.count) elements for dims \(t.dims) (\(n) expected)")
            }
        }
        // Graph inputs: may repeat an initializer's name (IR < 4), never each other.
        var inputNames = Set<String>()
        for v in graph.inputs {
            if v.name.isEmpty {
                throw ModelError(.missingField, place: "graph input", problem: "has no name")
            }
            if !inputNames.insert(v.name).inserted {
                throw ModelError(.duplicateName, place: "graph input '\(v.name)'", problem: "listed twice")
            }
            defined.insert(v.name)
        }
        // Nodes: supported, well-formed, inputs defined earlier, outputs produced once.
        var producedBy: [String: Int] = [:]
        for (i, node) in graph.nodes.enumerated() {
            if node.outputs.contains(where: { !$0.isEmpty }) {
                for out in node.outputs where !out.isEmpty { producedBy[out] = producedBy[out] ?? i }
            }
        }
        for (index, node) in graph.nodes.enumerated() {
            for input in node.inputs where !input.isEmpty && !defined.contains(input) {
                if let later = producedBy[input], later >= index {
                    if later == index || reaches(from: index, to: later, in: graph) {
                        throw ModelError(.cycle, place: node.label(index: index),
                                         problem: "input '\(input)' depends on this node's own output (cycle)")
                    }
                    throw ModelError(.cycle, place: node.label(index: index),
                                     problem: "input '\(input)' is produced by a later \(graph.nodes[later].label(index: later)); nodes must be topologically sorted")
                }
                throw ModelError(.undefinedInput, place: node.label(index: index),
                                 problem: "input '\(input)' is not a graph input, an initializer or an earlier node's output")
            }
            for out in node.outputs where !out.isEmpty {
                if !defined.insert(out).inserted {
                    throw ModelError(.duplicateName, place: node.label(index: index),
                                     problem: "output '\(out)' is already defined by another node, input or initializer")
                }
            }
        }
        for v in graph.outputs where !defined.contains(v.name) {
            throw ModelError(.undefinedInput, place: "graph output '\(v.name)'", problem: "nothing produces this value")
        }
        if graph.outputs.isEmpty {
            throw ModelError(.missingField, place: "graph", problem: "has no outputs")
        }
    }

    /// Whether node `from`'s outputs feed (transitively) node `to`.
    private static func reaches(from: Int, to: Int, in graph: Graph) -> Bool {
        var seen = Set<Int>()
        var stack = [from]
        while let n = stack.popLast() {
            if n == to { return true }
            guard seen.insert(n).inserted else { continue }
            for out in graph.nodes[n].outputs where !out.isEmpty {
                stack.append(contentsOf: graph.consumers(of: out))
            }
        }
        return false
    }

}
