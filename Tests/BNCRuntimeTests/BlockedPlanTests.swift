import BNCGraph
import BNCTestSupport
import Testing

@testable import BNCRuntime

/// Convolutional plans run their conv segments depth-first: each core takes half of a
/// chunk and runs it a small block at a time through the segment's steps, with values
/// that live only inside the segment in per-core block-local storage. That path only runs
/// for chunks of at least `Executor.splitThreshold` samples, so these tests use batches
/// above it, with a capacity that leaves a remainder chunk, and compare with the reference
/// evaluator and with one sample at a time.
@Suite struct BlockedPlanTests {
    /// Checks `graph` at `batch` against the reference and against one sample at a time,
    /// with the default capacity and with one that splits the batch into uneven chunks.
    func expectBlockedRunsMatch(_ graph: Graph, batch: Int = 150, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let exec = try Executor(graph: graph, maxBatch: 1024)
        #expect(exec.stages.contains { if case .blocks = $0 { return true } else { return false } },
                "no blocked segment in \(exec.stages)", sourceLocation: sourceLocation)
        var rng = SeededRNG(seed: 5)
        let x = rng.floats(batch * exec.inputCount, -2...2)
        let ref = try ReferenceEvaluator.run(graph, input: RefTensor(shape: [batch] + exec.inputShape, data: x.map(Double.init)))
        let scale = max(1, ref.data.map(abs).max() ?? 1)
        let single = try Executor(graph: graph, maxBatch: 1)
        var one: [Float] = []
        for i in 0..<batch { one += single.run(Array(x[(i * exec.inputCount)..<((i + 1) * exec.inputCount)])) }
        for capacity in [1024, 97] {
            let e = try Executor(graph: graph, maxBatch: capacity)
            let y = e.run(x)
            #expect(y.count == ref.count, sourceLocation: sourceLocation)
            let err = zip(y, ref.data).map { abs(Double($0) - $1) }.max() ?? .infinity
            #expect(err <= 1e-5 * scale, "capacity \(capacity): max |executor − reference| = \(err) (scale \(scale))",
                    sourceLocation: sourceLocation)
            let d = zip(y, one).map { abs($0 - $1) }.max() ?? .infinity
            #expect(Double(d) <= 1e-5 * scale, "capacity \(capacity): batch vs one at a time differ by \(d)",
                    sourceLocation: sourceLocation)
        }
    }

    /// The preset's shape (`Net.smallCNN`): the second pool is fused into its conv, the
    /// first stays a step of its own after BN.
    @Test func cnnWithBatchNorm() throws {
        let graph = Net.smallCNN().graph
        try expectBlockedRunsMatch(graph)
        // conv1 with BN, ReLU and pool1 (BN's scales are positive), conv2 with ReLU and
        // pool, Gemm with BN: the affines and pools run in the products' epilogues.
        #expect(try Executor(graph: graph).stepCount == 3)
    }

    /// A residual block: a value read inside the segment twice (by a conv and by the Add),
    /// a max-pool that cannot be fused (3×3 window), and an intermediate value that is
    /// also a graph output, so it must outlive the segment in the arena.
    @Test func residualBlockWithAnOutputInside() throws {
        var n = Net([2, 9, 9])
        n.weight("k1", [4, 2, 3, 3]); n.weight("kb1", [4])
        n.op("Conv", ["x", "k1", "kb1"], "c1", [ints("pads", [1, 1, 1, 1])])
        n.op("Relu", ["c1"], "r1")
        n.weight("k2", [4, 4, 3, 3])
        n.op("Conv", ["r1", "k2"], "c2", [ints("pads", [1, 1, 1, 1])])
        n.op("Add", ["r1", "c2"], "s")
        n.op("Relu", ["s"], "r2")
        n.op("MaxPool", ["r2"], "p", [ints("kernel_shape", [3, 3]), ints("strides", [2, 2])])
        n.op("Flatten", ["p"], "f")
        n.weight("W", [3, 64])
        n.op("Gemm", ["f", "W"], "y", [int("transB", 1)])
        try expectBlockedRunsMatch(n.graph)

        var g = n.graph
        g.outputs.append(ValueInfo(name: "r1", shape: nil))
        let exec = try Executor(graph: g, maxBatch: 1024)
        var rng = SeededRNG(seed: 6)
        let batch = 130
        let x = rng.floats(batch * exec.inputCount, -2...2)
        let both = exec.runAll(x)
        let single = try Executor(graph: g, maxBatch: 1)
        for i in [0, 64, 129] {
            let one = single.runAll(Array(x[(i * exec.inputCount)..<((i + 1) * exec.inputCount)]))
            let k = exec.outputCounts[1]
            let d = zip(both[1][(i * k)..<((i + 1) * k)], one[1]).map { abs($0 - $1) }.max() ?? .infinity
            #expect(d <= 1e-5, "sample \(i): the intermediate output differs by \(d)")
        }
    }

    /// Two convolutional segments with a Gemm between them: each gets its own blocks.
    @Test func twoSegments() throws {
        var n = Net([1, 8, 8])
        n.weight("k1", [3, 1, 3, 3])
        n.op("Conv", ["x", "k1"], "c1", [ints("pads", [1, 1, 1, 1])])
        n.op("MaxPool", ["c1"], "p1", [ints("kernel_shape", [2, 2]), ints("strides", [2, 2])])
        n.op("Flatten", ["p1"], "f1")
        n.weight("W1", [48, 32]); n.op("MatMul", ["f1", "W1"], "h")
        n.shape("s", [-1, 2, 4, 4]); n.op("Reshape", ["h", "s"], "h4")
        n.weight("k2", [2, 2, 3, 3])
        n.op("Conv", ["h4", "k2"], "c2")
        n.op("Tanh", ["c2"], "t2")
        n.op("Flatten", ["t2"], "f2")
        n.weight("W2", [8, 4]); n.op("MatMul", ["f2", "W2"], "y")
        try expectBlockedRunsMatch(n.graph)
        let exec = try Executor(graph: n.graph)
        #expect(exec.stages.filter { if case .blocks = $0 { return true } else { return false } }.count == 2)
    }

    /// Blocks and cores are at different steps of a segment at the same time, so a value
    /// the segment writes must not take arena memory of one it still reads. Here the
    /// MatMul output A (512 floats per sample) is last read by the segment's first conv,
    /// and the segment then writes C and B, which ordinary liveness would place in A's
    /// freed region: B's first block would overwrite A's samples that later blocks read.
    @Test func segmentOutputsDoNotTakeMemoryTheSegmentStillReads() throws {
        var n = Net([16])
        n.weight("Wa", [16, 512]); n.op("MatMul", ["x", "Wa"], "a")
        n.shape("s", [-1, 8, 8, 8]); n.op("Reshape", ["a", "s"], "a4")
        n.weight("k1", [32, 8, 3, 3], -0.3...0.3)
        n.op("Conv", ["a4", "k1"], "l", [ints("pads", [1, 1, 1, 1])])
        n.weight("k2", [2, 32, 1, 1]); n.op("Conv", ["l", "k2"], "c")
        n.weight("k3", [4, 32, 1, 1]); n.op("Conv", ["l", "k3"], "b")
        n.op("Flatten", ["c"], "cf"); n.weight("Wc", [128, 3]); n.op("MatMul", ["cf", "Wc"], "yc")
        n.op("Flatten", ["b"], "bf"); n.weight("Wb", [256, 3]); n.op("MatMul", ["bf", "Wb"], "yb")
        n.op("Add", ["yc", "yb"], "y")
        try expectBlockedRunsMatch(n.graph)
    }

    /// Pooling is fused only after no activation or ReLU (max commutes with those
    /// exactly); after a sigmoid it stays a step of its own.
    @Test(arguments: [("Relu", 2), ("Sigmoid", 3)])
    func poolingFusesOnlyAfterReLU(_ act: String, steps: Int) throws {
        var n = Net([3, 10, 10])
        n.weight("k", [4, 3, 3, 3]); n.weight("kb", [4])
        n.op("Conv", ["x", "k", "kb"], "c", [ints("pads", [1, 1, 1, 1])])
        n.op(act, ["c"], "a")
        n.op("MaxPool", ["a"], "p", [ints("kernel_shape", [2, 2]), ints("strides", [2, 2])])
        n.op("Flatten", ["p"], "f")
        n.weight("W", [100, 5]); n.op("MatMul", ["f", "W"], "y")
        try expectBlockedRunsMatch(n.graph)
        #expect(try Executor(graph: n.graph).stepCount == steps)
    }
}
