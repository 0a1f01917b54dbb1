import BNCData
import BNCGraph
import BNCOps
import BNCTestSupport
import Testing

@testable import BNCPasses

/// The project's seeded generator (BNCData): fixed seeds, same numbers on every platform.
typealias SeededRNG = SeededGenerator

/// Builds small graphs with random weights and trained-looking BN statistics
/// (nonzero means, non-unit variances, γ of both signs).
struct GraphBuilder {
    var rng: SeededRNG
    var nodes: [Node] = []
    var initializers: [Tensor] = []

    init(seed: UInt64 = 1) { rng = SeededRNG(seed: seed) }

    mutating func random(_ n: Int, _ range: ClosedRange<Float>) -> [Float] {
        (0..<n).map { _ in Float.random(in: range, using: &rng) }
    }

    /// Adds a Float initializer with uniform random values and returns its name.
    @discardableResult
    mutating func weight(_ name: String, _ dims: [Int], _ range: ClosedRange<Float> = -1...1) -> String {
        initializers.append(Tensor(name: name, dims: dims, floats: random(dims.reduce(1, *), range)))
        return name
    }

    mutating func node(_ op: String, _ name: String, _ inputs: [String], _ output: String, _ attrs: [Attribute] = []) {
        nodes.append(Node(name: name, opType: op, inputs: inputs, outputs: [output], attributes: attrs))
    }

    /// BatchNormalization `name` on `input` → `output` with C channels.
    mutating func bn(_ name: String, _ input: String, _ output: String, channels c: Int, epsilon: Float? = 1e-3) {
        var gamma = random(c, 0.5...2)
        for i in stride(from: 0, to: c, by: 3) { gamma[i] = -gamma[i] }  // some negative scales
        weight("\(name).scale", [c]); initializers[initializers.count - 1].storage = .float(gamma)
        weight("\(name).B", [c], -1...1)
        weight("\(name).mean", [c], -1...1)
        weight("\(name).var", [c], 0.2...3)
        var attrs: [Attribute] = []
        if let epsilon { attrs.append(Attribute("epsilon", .float(epsilon))) }
        attrs.append(Attribute("momentum", .float(0.9)))
        node("BatchNormalization", name, [input, "\(name).scale", "\(name).B", "\(name).mean", "\(name).var"], output, attrs)
    }

    func graph(input: String, shape: [Int], output: String) -> Graph {
        Graph(
            name: "test", nodes: nodes, initializers: initializers,
            inputs: [ValueInfo(name: input, shape: [.param("N")] + shape.dropFirst().map { .value(Int64($0)) })],
            outputs: [ValueInfo(name: output, shape: nil)])
    }
}

func randomInput(_ shape: [Int], seed: UInt64) -> RefTensor {
    var rng = SeededRNG(seed: seed)
    return RefTensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Double(Float.random(in: -2...2, using: &rng)) })
}

/// Largest |a − b| divided by the output scale max(1, max |a|).
func relativeDifference(_ a: RefTensor, _ b: RefTensor) -> Double {
    precondition(a.shape == b.shape, "shapes \(a.shape) vs \(b.shape)")
    var diff = 0.0, scale = 1.0
    for i in 0..<a.count {
        diff = max(diff, abs(a.data[i] - b.data[i]))
        scale = max(scale, abs(a.data[i]))
    }
    return diff / scale
}

/// Folds, checks the number of folds and that the folded graph computes the same function
/// in exact (Double) arithmetic on random inputs. Tolerance 1e-6 relative to the output
/// scale: the only difference is the one Float rounding of each folded weight
/// (≤ 2⁻²⁴ ≈ 6e-8 relative), accumulated over dot products of a few dozen terms.
@discardableResult
func expectFoldPreserves(
    _ graph: Graph, inputShape: [Int], folds: Int, options: FoldOptions = FoldOptions(),
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> (Graph, FoldReport) {
    try ModelValidator.validate(graph, opset: 15)
    let (folded, report) = BNFolding.fold(graph, options: options)
    #expect(report.folded.count == folds, "folds: \(report.folded.map(\.bn)), skipped: \(report.skipped.map(\.reason))", sourceLocation: sourceLocation)
    try ModelValidator.validate(folded, opset: 15)
    let remaining = folded.nodes.filter { $0.opType == "BatchNormalization" }.count
    let before = graph.nodes.filter { $0.opType == "BatchNormalization" }.count
    #expect(remaining == before - folds, sourceLocation: sourceLocation)
    for seed in 1...3 as ClosedRange<UInt64> {
        let x = randomInput(inputShape, seed: seed)
        let a = try ReferenceEvaluator.run(graph, input: x)
        let b = try ReferenceEvaluator.run(folded, input: x)
        let rel = relativeDifference(a, b)
        #expect(rel <= 1e-6, "relative difference \(rel)", sourceLocation: sourceLocation)
    }
    return (folded, report)
}
