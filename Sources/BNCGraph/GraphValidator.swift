/// Semantic checks of a decoded model: everything that must hold before a pass or the
/// executor may trust the graph. The loader (BNCModelFile) checks the wire-level facts
/// (sizes, element types) first, then calls `validate`.
public enum GraphValidator {
    /// Throws the first problem found, naming the node, tensor or value concerned.
    ///
    /// Checks: a supported default-domain opset; supported operators and domains;
    /// arity; attribute names and types; BatchNormalization in inference mode;
    /// initializer names unique and data matching dims; each value produced once;
    /// every node input and graph output defined; no cycles and topological order.
    public static func validate(_ model: Model) throws(ModelError) {
        guard let opset = model.defaultOpset else {
            throw ModelError(.badOpset, place: "opset_import",
                             problem: "no opset for the default ONNX domain (\"\"); bnc reads opsets \(Model.opsetsRead.lowerBound)–\(Model.opsetsRead.upperBound)")
        }
        guard Model.opsetsRead.contains(opset) else {
            throw ModelError(.badOpset, place: "opset_import",
                             problem: "default-domain opset \(opset) is not supported; bnc reads opsets \(Model.opsetsRead.lowerBound)–\(Model.opsetsRead.upperBound)")
        }
        try validate(model.graph)
    }

    /// The graph-level part of `validate(_:)`.
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
            try checkOperator(node, index: index)
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

    private static func checkOperator(_ node: Node, index: Int) throws(ModelError) {
        let place = node.label(index: index)
        guard node.domain.isEmpty || node.domain == "ai.onnx" else {
            throw ModelError(.unsupportedOperator, place: place,
                             problem: "domain '\(node.domain)' is not supported; bnc runs default-domain ONNX operators")
        }
        guard let schema = OperatorSchema.all[node.opType] else {
            throw ModelError(.unsupportedOperator, place: place,
                             problem: "operator '\(node.opType)' is not supported; bnc supports \(OperatorSchema.names.joined(separator: ", "))")
        }
        // Trailing "" inputs are omitted optional inputs.
        var inputCount = node.inputs.count
        while inputCount > 0 && node.inputs[inputCount - 1].isEmpty { inputCount -= 1 }
        guard schema.inputs.contains(inputCount) else {
            throw ModelError(.unsupportedModel, place: place,
                             problem: "has \(inputCount) inputs; \(node.opType) takes \(rangeText(schema.inputs))")
        }
        guard schema.outputs.contains(node.outputs.count), node.outputs.first.map({ !$0.isEmpty }) ?? false else {
            throw ModelError(.unsupportedModel, place: place,
                             problem: "has \(node.outputs.count) outputs; \(node.opType) (inference) produces \(rangeText(schema.outputs))")
        }
        var seen = Set<String>()
        for a in node.attributes {
            guard seen.insert(a.name).inserted else {
                throw ModelError(.duplicateName, place: "\(place) attribute '\(a.name)'", problem: "given twice")
            }
            guard let expected = schema.attributes[a.name] else {
                throw ModelError(.unsupportedOperator, place: "\(place) attribute '\(a.name)'",
                                 problem: "is not an attribute bnc knows for \(node.opType)")
            }
            guard a.value.typeCode == expected else {
                throw ModelError(.wrongAttributeType, place: "\(place) attribute '\(a.name)'",
                                 problem: "has type \(a.value.typeName), expected \(AttributeValue.typeName(expected))")
            }
        }
        if node.opType == "BatchNormalization" {
            if try node.int("training_mode", default: 0) != 0 {
                throw ModelError(.unsupportedModel, place: place,
                                 problem: "training_mode is 1; bnc reads inference graphs (training_mode 0)")
            }
        }
    }

    private static func rangeText(_ r: ClosedRange<Int>) -> String {
        r.lowerBound == r.upperBound ? "\(r.lowerBound)" : "\(r.lowerBound) to \(r.upperBound)"
    }
}
