import BNCGraph

/// Static shapes of every value of a graph for a given batch size.
///
/// The graph must have exactly one runtime input (a graph input that is not an
/// initializer). Its dim 0 is the batch, whatever the file calls it; every other dim must
/// be a fixed size. Initializers keep their own dims.
public enum ShapeInference {
    /// Shapes (batch first) of every value: the input, the initializers and each node
    /// output. Throws `.unsupportedModel` naming the node whose inputs it cannot run.
    public static func infer(_ graph: Graph, batch: Int) throws(ModelError) -> [String: [Int]] {
        try resolve(graph, batch: batch).shapes
    }

    /// Name and per-sample shape (without the batch dim) of the graph's runtime input.
    public static func inputSignature(_ graph: Graph) throws(ModelError) -> (name: String, perSample: [Int]) {
        let inputs = graph.runtimeInputs
        guard inputs.count == 1, let input = inputs.first else {
            throw ModelError(.unsupportedModel, place: "graph",
                             problem: "has \(inputs.count) runtime inputs (\(inputs.map { "'\($0.name)'" }.joined(separator: ", "))); bnc runs graphs with exactly one")
        }
        let place = "graph input '\(input.name)'"
        guard input.elemType == DataType.float else {
            throw ModelError(.unsupportedModel, place: place,
                             problem: "has element type \(DataType.name(input.elemType)); bnc feeds FLOAT inputs")
        }
        guard let dims = input.shape, !dims.isEmpty else {
            throw ModelError(.unsupportedModel, place: place,
                             problem: "has no shape (\(input.shapeDescription)); bnc needs (N, …) with fixed sizes after the batch")
        }
        var perSample: [Int] = []
        for (i, d) in dims.enumerated().dropFirst() {
            guard case .value(let v) = d, v >= 1, v <= 1 << 31 else {
                throw ModelError(.unsupportedModel, place: place,
                                 problem: "dim \(i) is \(d) in \(input.shapeDescription); bnc needs fixed sizes after the batch dim")
            }
            perSample.append(Int(v))
        }
        guard Tensor.checkedElementCount(perSample).map({ $0 <= 1 << 31 }) ?? false else {
            throw ModelError(.unsupportedModel, place: place, problem: "shape \(input.shapeDescription) is too large")
        }
        return (input.name, perSample)
    }

    /// Resolved ops (one per node) and shapes for `batch`.
    static func resolve(_ graph: Graph, batch: Int) throws(ModelError) -> (specs: [OpSpec], shapes: [String: [Int]]) {
        let (inputName, perSample) = try inputSignature(graph)
        var shapes: [String: [Int]] = [:]
        for t in graph.initializers { shapes[t.name] = t.dims }
        if shapes[inputName] == nil { shapes[inputName] = [batch] + perSample }
        var specs: [OpSpec] = []
        specs.reserveCapacity(graph.nodes.count)
        for (index, node) in graph.nodes.enumerated() {
            var inputShapes: [[Int]?] = []
            for name in node.inputs {
                if name.isEmpty { inputShapes.append(nil); continue }
                guard let s = shapes[name] else {
                    throw ModelError(.undefinedInput, place: node.label(index: index),
                                     problem: "input '\(name)' is not defined before this node")
                }
                inputShapes.append(s)
            }
            let resolver = OpResolver(graph: graph, node: node, index: index, inputShapes: inputShapes)
            let (spec, out) = try resolver.resolve()
            guard let count = Tensor.checkedElementCount(out), count <= 1 << 40 else {
                throw resolver.fail("output shape \(out) is too large")
            }
            guard count > 0 else { throw resolver.fail("output shape \(out) is empty") }
            specs.append(spec)
            shapes[node.outputs[0]] = out
        }
        return (specs, shapes)
    }
}
