import BNCGraph
import Testing

@testable import BNCPasses

/// The proof's edges (issue 19, test strength): outputs that become NaN or infinite after a
/// fold are a failed proof, never a pass by NaN comparing false; a proof that ran no probe
/// proves nothing.
@Suite struct FoldProofEdgeTests {
    /// x (N, 2) → Gemm(W) → y: the original has W = I, the "folded" one `w` on the diagonal.
    static func gemm(_ w: Float) -> Graph {
        var b = GraphBuilder(seed: 1)
        b.initializers.append(Tensor(name: "W", dims: [2, 2], floats: [w, 0, 0, 1]))
        b.node("Gemm", "fc", ["x", "W"], "y")
        return b.graph(input: "x", shape: [1, 2], output: "y")
    }

    @Test(arguments: [Float.nan, .infinity, 3e38])
    func anOutputThatIsNoLongerFiniteFailsTheProof(_ w: Float) throws {
        // Inputs in [1.5, 2]: 3e38·x overflows to +Inf for every probe.
        let proof = try FoldProof.run(original: Self.gemm(1), folded: Self.gemm(w), randomProbes: 20, randomRange: 1.5...2)
        #expect(!proof.passed, "w = \(w): \(proof)")
        #expect(proof.maxAbsDiff == .infinity && proof.maxRelDiff == .infinity)
        // The scale is the original's largest finite |output| (≤ 2 here), not Inf or NaN.
        #expect(proof.outputScale > 0 && proof.outputScale <= 2)
    }

    /// The scale is the unfolded model's: a fold that makes the outputs larger is measured
    /// against what the model computed before, not against its own outputs.
    @Test func theScaleIsTheOriginalsLargestOutput() throws {
        // Inputs in [1, 2]: the original's outputs are x (≤ 2), the changed one's 1.5·x0 (≤ 3).
        let proof = try FoldProof.run(original: Self.gemm(1), folded: Self.gemm(1.5), randomProbes: 50, randomRange: 1...2)
        #expect(proof.outputScale <= 2 && proof.outputScale > 1.9, "\(proof.outputScale)")
        #expect(abs(proof.maxRelDiff - proof.maxAbsDiff / proof.outputScale) < 1e-12)
        #expect(!proof.passed)
    }

    @Test func nanInBothModelsProvesNothing() throws {
        let proof = try FoldProof.run(original: Self.gemm(.nan), folded: Self.gemm(.nan), randomProbes: 5, randomRange: 1...2)
        #expect(!proof.passed && proof.maxAbsDiff == .infinity)
    }

    @Test func theSameInfinityInBothIsNoDifference() throws {
        let proof = try FoldProof.run(original: Self.gemm(.infinity), folded: Self.gemm(.infinity), randomProbes: 5, randomRange: 1...2)
        #expect(proof.passed && proof.maxAbsDiff == 0)
    }

    @Test func aFiniteOutputThatBecomesAnotherInfinityFails() throws {
        let proof = try FoldProof.run(original: Self.gemm(.infinity), folded: Self.gemm(-.infinity), randomProbes: 5, randomRange: 1...2)
        #expect(!proof.passed)
    }

    @Test func noProbeProvesNothing() throws {
        let changed = try FoldProof.run(original: Self.gemm(1), folded: Self.gemm(1.5), images: [], randomProbes: 0)
        #expect(changed.probes == 0 && !changed.passed)
        // The same graph run on no probe is no proof either; only a fold that changed nothing
        // passes without one.
        let same = try FoldProof.run(original: Self.gemm(1), folded: Self.gemm(1), randomProbes: 0)
        #expect(!same.passed)
        #expect(FoldProof.unchanged(tolerance: 1e-5).passed)
        #expect(try FoldProof.run(original: Self.gemm(1), folded: Self.gemm(1), randomProbes: 1).passed)
    }
}
