import BNCGraph
import BNCOps

/// Static shapes of every value of a graph for a given batch size.
///
/// The graph must have exactly one runtime input (a graph input that is not an
/// initializer). Its dim 0 is the batch, whatever the file calls it; every other dim must
/// be a fixed size. Initializers keep their own dims.
public enum ShapeInference {
    /// Shapes (batch first) of every value: the input, the initializers and each node
    /// output, with the operators of default-domain `opset`. Throws `.unsupportedModel`
    /// naming the node whose inputs it cannot run.
    public static func infer(_ graph: Graph, batch: Int, opset: Int = Int(Model.opsetWritten)) throws(ModelError) -> [String: [Int]] {
        let (name, perSample) = try inputSignature(graph)
        let analysis = try Analysis(graph: graph, opset: opset, inputs: [name: PlanValue(shape: [batch] + perSample)],
                                    elementLimit: Executor.defaultMemoryLimit / MemoryLayout<Float>.size)
        return analysis.values.mapValues(\.shape)
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
}
