import BNCGraph
import Testing

@testable import BNCRuntime

/// Regression: dense plans run as two independent per-core sample ranges. When the arena
/// reused a freed buffer for a value of another per-sample size, one core's later step
/// overwrote the other core's earlier value, giving wrong, run-to-run different outputs
/// at large batches (seen as `bnc infer --batch-size 1000` accuracy swinging 60–86 %).
@Suite struct ParallelRaceTests {
    @Test func largeBatchesEqualOneSampleAtATimeEveryRun() throws {
        // Widths shrink and grow so that freed buffers get reused: 64 → 48 → 8 → 48 → 4.
        var n = Net([64])
        n.weight("W1", [48, 64]); n.op("Gemm", ["x", "W1"], "h1", [int("transB", 1)])
        n.bn("h1", "h1n", channels: 48); n.op("Sigmoid", ["h1n"], "a1")
        n.weight("W2", [8, 48]); n.op("Gemm", ["a1", "W2"], "h2", [int("transB", 1)])
        n.op("Tanh", ["h2"], "a2")
        n.weight("W3", [48, 8]); n.op("Gemm", ["a2", "W3"], "h3", [int("transB", 1)])
        n.bn("h3", "h3n", channels: 48); n.op("Relu", ["h3n"], "a3")
        n.weight("W4", [4, 48]); n.op("Gemm", ["a3", "W4"], "z", [int("transB", 1)])
        n.op("Softmax", ["z"], "y", [int("axis", 1)])

        let batch = 3000
        var state: UInt32 = 99
        let input: [Float] = (0..<(batch * 64)).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(state >> 8) / Float(1 << 24) * 4 - 2
        }
        let single = try Executor(graph: n.graph, maxBatch: 1)
        var expected: [Float] = []
        for i in 0..<batch { expected += single.run(Array(input[(i * 64)..<((i + 1) * 64)])) }

        let exec = try Executor(graph: n.graph, maxBatch: batch)
        for _ in 0..<20 {
            let got = exec.run(input)
            var worst: Float = 0
            for i in got.indices { worst = max(worst, abs(got[i] - expected[i])) }
            #expect(worst <= 1e-5, "largest difference \(worst) between batch \(batch) and one at a time")
            if worst > 1e-5 { break }
        }
    }
}
