import BNCGraph
import Testing

@testable import BNCPasses

/// The proof for any model (issue 16): probes in every runtime input's shape, every graph
/// output compared, the distribution and seed recorded.
@Suite struct FoldProofShapeTests {
    /// Two inputs, two outputs: x (N, 3, 4, 4) → Conv(w) → y; z (N, 5) → Mul(k) → u.
    static func twoHeads(convScale: Float = 1, k: Float = 2) -> Graph {
        var b = GraphBuilder(seed: 61)
        b.weight("w", [2, 3, 3, 3])
        b.initializers[0].storage = .float((b.initializers[0].floats ?? []).map { $0 * convScale })
        b.initializers.append(Tensor(name: "k", dims: [], floats: [k]))
        b.node("Conv", "conv", ["x", "w"], "y")
        b.node("Mul", "mul", ["z", "k"], "u")
        var g = b.graph(input: "x", shape: [1, 3, 4, 4], output: "y")
        g.inputs.append(ValueInfo(name: "z", shape: [.param("N"), .value(5)]))
        g.outputs.append(ValueInfo(name: "u", shape: nil))
        return g
    }

    @Test func everyInputIsProbedInItsShape() throws {
        let proof = try FoldProof.run(original: Self.twoHeads(), folded: Self.twoHeads(), randomProbes: 6, distribution: .normal, seed: 7)
        #expect(proof.passed && proof.maxAbsDiff == 0 && proof.probes == 6)
        #expect(proof.distribution == .normal && proof.seed == 7)
    }

    /// A change in the second output only is caught: every output is compared, not the first.
    @Test func theSecondOutputIsCompared() throws {
        let proof = try FoldProof.run(original: Self.twoHeads(), folded: Self.twoHeads(k: 2.001), randomProbes: 4, distribution: .normal)
        #expect(!proof.passed, "\(proof)")
        let first = try FoldProof.run(original: Self.twoHeads(), folded: Self.twoHeads(convScale: 1.001), randomProbes: 4, distribution: .normal)
        #expect(!first.passed, "\(first)")
    }

    /// An input whose dim 0 is fixed at 2 takes whole (2, …) probes.
    @Test func aFixedBatchOfTwoRunsAsDeclared() throws {
        var g = Self.twoHeads()
        g.inputs[0].shape = [.value(2), .value(3), .value(4), .value(4)]
        g.inputs[1].shape = [.value(2), .value(5)]
        let proof = try FoldProof.run(original: g, folded: g, randomProbes: 3, distribution: .normal)
        #expect(proof.passed && proof.probes == 3)
    }

    @Test func integerInputsAreRefusedWithTheirName() throws {
        var g = Self.twoHeads()
        g.inputs[1].elemType = DataType.int64
        #expect(throws: ModelError.self) { try FoldProof.run(original: g, folded: g, randomProbes: 1) }
        do {
            _ = try FoldProof.run(original: g, folded: g, randomProbes: 1)
        } catch {
            #expect(error.description.contains("'z'") && error.description.contains("FLOAT"))
        }
    }

    @Test func defaultProbeCountFollowsTheInputSize() {
        #expect(FoldProof.defaultRandomProbes(elementsPerSample: 784) == 100)
        #expect(FoldProof.defaultRandomProbes(elementsPerSample: 3 * 224 * 224) == 8)
    }
}
