import BNCGraph

/// Everything that must hold before a pass or the executor may trust a model: the
/// structural checks of `GraphValidator`, a default-domain opset bnc reads, and each node
/// against its operator's schema for that opset (arity, attribute names, types, required
/// attributes, the values the operator's internal form accepts, and checks of constant
/// inputs such as a BN variance below −ε). Shapes are the planner's business.
public enum ModelValidator {
    /// Throws the first problem found, naming the node, attribute or tensor concerned.
    public static func validate(_ model: Model) throws(ModelError) {
        try validate(model.graph, opset: try defaultOpset(model))
    }

    /// The model's default-domain opset, checked against `Registry.opsets`.
    public static func defaultOpset(_ model: Model) throws(ModelError) -> Int {
        let range = "bnc reads opsets \(Registry.opsets.lowerBound)–\(Registry.opsets.upperBound)"
        guard let opset = model.defaultOpset else {
            throw ModelError(.badOpset, place: "opset_import", problem: "no opset for the default ONNX domain (\"\"); \(range)")
        }
        guard let v = Int(exactly: opset), Registry.opsets.contains(v) else {
            throw ModelError(.badOpset, place: "opset_import", problem: "default-domain opset \(opset) is not supported; \(range)")
        }
        return v
    }

    /// `validate(_:)` for a graph of `opset`: structure first, then every node.
    public static func validate(_ graph: Graph, opset: Int) throws(ModelError) {
        try GraphValidator.validate(graph)
        var initializers: [String: Tensor] = [:]
        for t in graph.initializers { initializers[t.name] = t }
        for (index, node) in graph.nodes.enumerated() {
            let (op, view) = try Registry.resolve(node, index: index, opset: opset)
            try checkSchema(view)
            _ = try op.init(view)
            try op.checkConstants(view, node.inputs.map { $0.isEmpty ? nil : initializers[$0] })
        }
    }

    /// Arity and attributes of a node against its schema.
    static func checkSchema(_ view: NodeView) throws(ModelError) {
        let node = view.node, schema = view.schema
        let place = view.label
        let name = "\(node.opType)-\(view.version)"
        var inputCount = node.inputs.count
        while inputCount > 0 && node.inputs[inputCount - 1].isEmpty { inputCount -= 1 }
        guard schema.inputs.contains(inputCount) else {
            throw ModelError(.unsupportedModel, place: place, problem: "has \(inputCount) inputs; \(name) takes \(rangeText(schema.inputs))")
        }
        var outputCount = node.outputs.count
        while outputCount > 0 && node.outputs[outputCount - 1].isEmpty { outputCount -= 1 }
        guard schema.outputs.contains(outputCount), node.outputs.first.map({ !$0.isEmpty }) ?? false else {
            throw ModelError(.unsupportedModel, place: place, problem: "has \(node.outputs.count) outputs; \(name) produces \(rangeText(schema.outputs))")
        }
        var seen = Set<String>()
        for a in node.attributes {
            guard seen.insert(a.name).inserted else {
                throw ModelError(.duplicateName, place: "\(place) attribute '\(a.name)'", problem: "given twice")
            }
            guard let spec = schema.attribute(a.name) else {
                throw ModelError(.unsupportedOperator, place: "\(place) attribute '\(a.name)'",
                                 problem: "is not an attribute of \(name)")
            }
            guard a.value.typeCode == spec.type.rawValue else {
                throw ModelError(.wrongAttributeType, place: "\(place) attribute '\(a.name)'",
                                 problem: "has type \(a.value.typeName), expected \(spec.type.name)")
            }
        }
        for spec in schema.attributes where spec.required && node.attribute(spec.name) == nil {
            throw ModelError(.missingField, place: "\(place) attribute '\(spec.name)'", problem: "is required by \(name) and missing")
        }
    }

    private static func rangeText(_ r: ClosedRange<Int>) -> String {
        if r.upperBound == Schema.variadic { return "\(r.lowerBound) or more" }
        return r.lowerBound == r.upperBound ? "\(r.lowerBound)" : "\(r.lowerBound) to \(r.upperBound)"
    }
}
