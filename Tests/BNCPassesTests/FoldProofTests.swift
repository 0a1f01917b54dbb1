import BNCGraph
import Testing

@testable import BNCPasses

/// The built-in proof: folded vs unfolded through the executor.
@Suite struct FoldProofTests {
    /// 784-100-100-10 with BN after each hidden Gemm, like `bnc train`'s MLP.
    static func mlp(seed: UInt64 = 51) -> Graph {
        var b = GraphBuilder(seed: seed)
        b.weight("W1", [100, 784], -0.08...0.08); b.weight("b1", [100], -0.1...0.1)
        b.node("Gemm", "fc1", ["x", "W1", "b1"], "h1", [Attribute("transB", .int(1))])
        b.bn("bn1", "h1", "h1n", channels: 100)
        b.node("Sigmoid", "act1", ["h1n"], "a1")
        b.weight("W2", [100, 100], -0.2...0.2)
        b.node("Gemm", "fc2", ["a1", "W2"], "h2", [Attribute("transB", .int(1))])
        b.bn("bn2", "h2", "h2n", channels: 100)
        b.node("Sigmoid", "act2", ["h2n"], "a2")
        b.weight("W3", [10, 100], -0.3...0.3); b.weight("b3", [10])
        b.node("Gemm", "fc3", ["a2", "W3", "b3"], "y", [Attribute("transB", .int(1))])
        return b.graph(input: "x", shape: [1, 784], output: "y")
    }

    @Test func foldedMLPPassesWithRealisticFigures() throws {
        let g = Self.mlp()
        let (folded, report) = BNFolding.fold(g)
        #expect(report.folded.count == 2)
        var imageSource = GraphBuilder(seed: 5)
        let images = imageSource.randomImages(count: 50, size: 784)
        let proof = try FoldProof.run(original: g, folded: folded, images: images, randomProbes: 50)
        #expect(proof.probes == 100 && proof.realProbes == 50 && proof.randomProbes == 50)
        print("MLP fold proof: max abs \(proof.maxAbsDiff), max rel \(proof.maxRelDiff), scale \(proof.outputScale)")
        #expect(proof.passed)
        #expect(proof.maxRelDiff < 1e-6)
        #expect(proof.argmaxAgreement == 1)
        #expect(proof.outputScale > 0)
    }

    @Test func aWrongFoldFails() throws {
        let g = Self.mlp()
        var (folded, _) = BNFolding.fold(g)
        // Perturb one folded weight by 1 %: a fold error of the smallest kind.
        let i = try #require(folded.initializerIndex(named: "W2"))
        var w = try #require(folded.initializers[i].floats)
        for j in 0..<100 { w[j] *= 1.01 }
        folded.initializers[i].storage = .float(w)
        let proof = try FoldProof.run(original: g, folded: folded, randomProbes: 100)
        #expect(!proof.passed)
        #expect(proof.maxRelDiff > 1e-4)
    }

    @Test func identicalGraphsHaveZeroDifference() throws {
        let g = Self.mlp()
        let proof = try FoldProof.run(original: g, folded: g, randomProbes: 10)
        #expect(proof.maxAbsDiff == 0 && proof.maxRelDiff == 0 && proof.argmaxAgreement == 1)
    }

    @Test func probeImagesMustBeWholeInputs() {
        let g = Self.mlp()
        #expect(throws: ModelError.self) { try FoldProof.run(original: g, folded: g, images: [1, 2, 3]) }
    }
}

extension GraphBuilder {
    /// Image-like probes in [0, 1].
    mutating func randomImages(count: Int, size: Int) -> [Float] { random(count * size, 0...1) }
}
