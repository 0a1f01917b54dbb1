import BNCData
import BNCGraph
import BNCOps
import BNCTestSupport
import Testing

@testable import BNCRuntime

/// The project's seeded generator (BNCData): fixed seeds, same numbers on every platform.
typealias SeededRNG = SeededGenerator

extension SeededGenerator {
    mutating func floats(_ n: Int, _ range: ClosedRange<Float> = -1...1) -> [Float] {
        (0..<n).map { _ in Float.random(in: range, using: &self) }
    }
}

/// Small graphs for executor tests: input "x" (N, perSample…), output "y".
struct Net {
    var rng: SeededRNG
    var nodes: [Node] = []
    var initializers: [Tensor] = []
    var perSample: [Int]

    init(_ perSample: [Int], seed: UInt64 = 7) {
        self.perSample = perSample
        rng = SeededRNG(seed: seed)
    }

    @discardableResult
    mutating func weight(_ name: String, _ dims: [Int], _ range: ClosedRange<Float> = -1...1) -> String {
        initializers.append(Tensor(name: name, dims: dims, floats: rng.floats(dims.reduce(1, *), range)))
        return name
    }

    mutating func shape(_ name: String, _ values: [Int64]) {
        initializers.append(Tensor(name: name, dims: [values.count], int64s: values))
    }

    mutating func op(_ type: String, _ inputs: [String], _ output: String, _ attrs: [Attribute] = [], name: String? = nil) {
        nodes.append(Node(name: name ?? "\(type.lowercased())\(nodes.count)", opType: type, inputs: inputs, outputs: [output], attributes: attrs))
    }

    mutating func bn(_ input: String, _ output: String, channels c: Int) {
        let p = "bn\(nodes.count)"
        weight("\(p).s", [c], 0.5...2); weight("\(p).b", [c]); weight("\(p).m", [c]); weight("\(p).v", [c], 0.3...3)
        op("BatchNormalization", [input, "\(p).s", "\(p).b", "\(p).m", "\(p).v"], output, [Attribute("epsilon", .float(1e-3))])
    }

    /// The CNN preset's shape at 12×12: conv → BN → ReLU → pool, conv → ReLU → pool,
    /// Flatten → Gemm → BN. The second pool can fuse into its conv; the first stays a
    /// step of its own after BN.
    static func smallCNN() -> Net {
        var n = Net([1, 12, 12])
        n.weight("k1", [4, 1, 3, 3]); n.weight("kb1", [4])
        n.op("Conv", ["x", "k1", "kb1"], "c1", [ints("pads", [1, 1, 1, 1])])
        n.bn("c1", "c1n", channels: 4)
        n.op("Relu", ["c1n"], "r1")
        n.op("MaxPool", ["r1"], "p1", [ints("kernel_shape", [2, 2]), ints("strides", [2, 2])])
        n.weight("k2", [8, 4, 3, 3])
        n.op("Conv", ["p1", "k2"], "c2")
        n.op("Relu", ["c2"], "r2")
        n.op("MaxPool", ["r2"], "p2", [ints("kernel_shape", [2, 2]), ints("strides", [2, 2])])
        n.op("Flatten", ["p2"], "f")
        n.weight("W", [10, 32]); n.weight("b", [10])
        n.op("Gemm", ["f", "W", "b"], "z", [int("transB", 1)])
        n.bn("z", "y", channels: 10)
        return n
    }

    var graph: Graph {
        Graph(name: "t", nodes: nodes, initializers: initializers,
              inputs: [ValueInfo(name: "x", shape: [.param("N")] + perSample.map { .value(Int64($0)) })],
              outputs: [ValueInfo(name: "y", shape: nil)])
    }
}

func ints(_ name: String, _ v: [Int]) -> Attribute { Attribute(name, .ints(v.map(Int64.init))) }
func int(_ name: String, _ v: Int) -> Attribute { Attribute(name, .int(Int64(v))) }
func str(_ name: String, _ v: String) -> Attribute { Attribute(name, .string(Array(v.utf8))) }

/// Runs the executor on a random batch and checks (1) it matches the Double reference
/// within `tolerance` relative to the output scale (Float products accumulate ≈ K·2⁻²⁴
/// relative error; 1e-5 covers the K ≤ 200 used here), (2) running each sample alone gives
/// the same argmax and the same outputs to 1e-5 of the scale (one row runs through sgemv,
/// many through sgemm: the summation order differs, so the last bits may), and (3) a
/// capacity smaller than the batch (chunked runs) agrees too.
@discardableResult
func expectMatchesReference(
    _ graph: Graph, batch: Int = 5, tolerance: Double = 1e-5, seed: UInt64 = 99,
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> Executor {
    try ModelValidator.validate(graph, opset: 15)
    let exec = try Executor(graph: graph, maxBatch: 64)
    var rng = SeededRNG(seed: seed)
    let x = rng.floats(batch * exec.inputCount, -2...2)
    let y = exec.run(x)
    let ref = try ReferenceEvaluator.run(graph, input: RefTensor(shape: [batch] + exec.inputShape, data: x.map(Double.init)))
    #expect(ref.count == y.count, "reference has \(ref.count) values, executor \(y.count)", sourceLocation: sourceLocation)
    guard ref.count == y.count else { return exec }
    let scale = max(1, ref.data.map(abs).max() ?? 1)
    let err = zip(y, ref.data).map { abs(Double($0) - $1) }.max() ?? 0
    #expect(err <= tolerance * scale, "max |executor − reference| = \(err) (scale \(scale))", sourceLocation: sourceLocation)

    // One sample at a time.
    var single: [Float] = []
    for i in 0..<batch {
        single += exec.run(Array(x[(i * exec.inputCount)..<((i + 1) * exec.inputCount)]))
    }
    let d1 = zip(y, single).map { abs($0 - $1) }.max() ?? 0
    #expect(Double(d1) <= 1e-5 * scale, "batch vs one-at-a-time differ by \(d1)", sourceLocation: sourceLocation)
    let k = exec.outputCount
    for i in 0..<batch where k > 1 {
        let a = y[(i * k)..<((i + 1) * k)], b = single[(i * k)..<((i + 1) * k)]
        #expect(a.firstIndex(of: a.max()!)! - i * k == b.firstIndex(of: b.max()!)! - i * k, sourceLocation: sourceLocation)
    }

    // Chunked: capacity 2 < batch.
    let small = try Executor(graph: graph, maxBatch: 2)
    let yc = small.run(x)
    let d2 = zip(y, yc).map { abs($0 - $1) }.max() ?? 0
    #expect(Double(d2) <= 1e-5 * scale, "chunked run differs by \(d2)", sourceLocation: sourceLocation)
    return exec
}
