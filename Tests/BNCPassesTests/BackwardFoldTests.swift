import BNCGraph
import Testing

@testable import BNCPasses

/// Linear op → BN, each pattern on random weights, checked numerically.
@Suite struct BackwardFoldTests {
    @Test(arguments: [false, true])
    func convThenBN(withBias: Bool) throws {
        var b = GraphBuilder(seed: 11)
        b.weight("w", [4, 3, 3, 3])
        if withBias { b.weight("b", [4]) }
        b.node("Conv", "conv", withBias ? ["x", "w", "b"] : ["x", "w"], "h",
               [Attribute("pads", .ints([1, 1, 1, 1])), Attribute("strides", .ints([2, 1]))])
        b.bn("bn", "h", "y", channels: 4)
        let (folded, report) = try expectFoldPreserves(b.graph(input: "x", shape: [2, 3, 6, 5], output: "y"), inputShape: [2, 3, 6, 5], folds: 1)
        let f = try #require(report.folded.first)
        #expect(f.direction == .backward && f.into == "conv" && f.intoOpAfter == "Conv")
        #expect(f.createdBias == !withBias)
        #expect(f.weightShape == [4, 3, 3, 3] && f.biasShape == [4])
        #expect(folded.nodes.count == 1 && folded.nodes[0].outputs == ["y"])
        // BN parameters are gone from the initializers.
        #expect(folded.initializer(named: "bn.mean") == nil)
    }

    @Test(arguments: [(2, 6, 4), (4, 4, 4), (4, 4, 8)])
    func groupedAndDepthwiseConv(group: Int, channels: Int, outputs: Int) throws {
        var b = GraphBuilder(seed: 12)
        b.weight("w", [outputs, channels / group, 3, 3])
        b.weight("b", [outputs])
        b.node("Conv", "gconv", ["x", "w", "b"], "h", [Attribute("group", .int(Int64(group))), Attribute("pads", .ints([1, 0, 1, 0]))])
        b.bn("bn", "h", "y", channels: outputs)
        try expectFoldPreserves(b.graph(input: "x", shape: [2, channels, 5, 5], output: "y"), inputShape: [2, channels, 5, 5], folds: 1)
    }

    struct GemmCase: Sendable, CustomStringConvertible {
        var transA: Bool, transB: Bool, alpha: Float?, beta: Float?, bias: [Int]?
        var description: String {
            let a = alpha.map { "\($0)" } ?? "-", b = beta.map { "\($0)" } ?? "-"
            let c = bias.map { "\($0)" } ?? "none"
            return "transA \(transA) transB \(transB) alpha \(a) beta \(b) C \(c)"
        }
    }

    static let gemmCases: [GemmCase] = [
        GemmCase(transA: false, transB: false, alpha: nil, beta: nil, bias: nil),
        GemmCase(transA: false, transB: true, alpha: nil, beta: nil, bias: [5]),
        GemmCase(transA: false, transB: false, alpha: 0.5, beta: 2, bias: [1, 5]),
        GemmCase(transA: false, transB: true, alpha: -1.5, beta: 0.25, bias: [1]),
        GemmCase(transA: true, transB: true, alpha: 2, beta: nil, bias: [5]),
        GemmCase(transA: true, transB: false, alpha: nil, beta: 3, bias: []),
    ]

    @Test(arguments: gemmCases)
    func gemmThenBN(_ c: GemmCase) throws {
        var b = GraphBuilder(seed: 13)
        b.weight("W", c.transB ? [5, 7] : [7, 5])
        if let bias = c.bias { b.weight("C", bias) }
        var attrs: [Attribute] = []
        if c.transA { attrs.append(Attribute("transA", .int(1))) }
        if c.transB { attrs.append(Attribute("transB", .int(1))) }
        if let a = c.alpha { attrs.append(Attribute("alpha", .float(a))) }
        if let be = c.beta { attrs.append(Attribute("beta", .float(be))) }
        b.node("Gemm", "fc", c.bias == nil ? ["x", "W"] : ["x", "W", "C"], "h", attrs)
        b.bn("bn", "h", "y", channels: 5)
        let shape = c.transA ? [7, 3] : [3, 7]
        let (folded, report) = try expectFoldPreserves(b.graph(input: "x", shape: shape, output: "y"), inputShape: shape, folds: 1)
        #expect(report.folded.first?.createdBias == (c.bias == nil))
        #expect(folded.nodes[0].attribute("alpha") == nil && folded.nodes[0].attribute("beta") == nil)
    }

    @Test func matMulThenBNBecomesGemm() throws {
        var b = GraphBuilder(seed: 14)
        b.weight("W", [6, 4])
        b.node("MatMul", "mm", ["x", "W"], "h")
        b.bn("bn", "h", "y", channels: 4)
        let (folded, report) = try expectFoldPreserves(b.graph(input: "x", shape: [3, 6], output: "y"), inputShape: [3, 6], folds: 1)
        #expect(folded.nodes.map(\.opType) == ["Gemm"])
        #expect(report.folded.first?.intoOpBefore == "MatMul" && report.folded.first?.intoOpAfter == "Gemm")
        #expect(report.folded.first?.createdBias == true)
    }

    @Test(arguments: [[4], [1, 4], [1]])
    func matMulAddThenBNKeepsMatMulAdd(biasDims: [Int]) throws {
        var b = GraphBuilder(seed: 15)
        b.weight("W", [6, 4])
        b.weight("bias", biasDims)
        b.node("MatMul", "mm", ["x", "W"], "m")
        b.node("Add", "add", ["bias", "m"], "h")  // bias first: either operand order
        b.bn("bn", "h", "y", channels: 4)
        let (folded, report) = try expectFoldPreserves(b.graph(input: "x", shape: [3, 6], output: "y"), inputShape: [3, 6], folds: 1)
        #expect(folded.nodes.map(\.opType) == ["MatMul", "Add"])
        #expect(report.folded.first?.into == "mm")
        #expect(folded.nodes[1].outputs == ["y"])
    }

    @Test func chainOfTwoBNsFoldsCompletely() throws {
        var b = GraphBuilder(seed: 16)
        b.weight("w", [3, 2, 1, 1])
        b.node("Conv", "conv", ["x", "w"], "h")
        b.bn("bn1", "h", "h2", channels: 3)
        b.bn("bn2", "h2", "y", channels: 3)
        let (_, report) = try expectFoldPreserves(b.graph(input: "x", shape: [2, 2, 3, 3], output: "y"), inputShape: [2, 2, 3, 3], folds: 2)
        #expect(report.skipped.isEmpty)
    }

    @Test func sharedWeightIsClonedAndSaid() throws {
        var b = GraphBuilder(seed: 17)
        b.weight("W", [4, 4])
        b.node("Gemm", "fc1", ["x", "W"], "h")
        b.bn("bn", "h", "h2", channels: 4)
        b.node("Gemm", "fc2", ["h2", "W"], "y")  // same weight again
        let (folded, report) = try expectFoldPreserves(b.graph(input: "x", shape: [2, 4], output: "y"), inputShape: [2, 4], folds: 1)
        let f = try #require(report.folded.first)
        #expect(f.clonedWeight)
        #expect(f.weight != "W")
        // The other reader still sees the original.
        #expect(folded.nodes[1].inputs[1] == "W")
        #expect(folded.initializer(named: "W")?.floats == b.initializers.first { $0.name == "W" }?.floats)
    }

    @Test func mlpLikeGraphFoldsEveryBN() throws {
        var b = GraphBuilder(seed: 18)
        b.weight("W1", [100, 20]); b.weight("W2", [10, 100])
        b.node("Gemm", "fc1", ["x", "W1"], "h1", [Attribute("transB", .int(1))])
        b.bn("bn1", "h1", "h1n", channels: 10 * 0 + 100, epsilon: nil)
        b.node("Relu", "relu1", ["h1n"], "a1")
        b.node("Gemm", "fc2", ["a1", "W2"], "h2", [Attribute("transB", .int(1))])
        b.bn("bn2", "h2", "y", channels: 10)
        let (_, report) = try expectFoldPreserves(b.graph(input: "x", shape: [4, 20], output: "y"), inputShape: [4, 20], folds: 2)
        #expect(report.folded.first?.audit.epsilon == 1e-5)  // default when the attribute is absent
    }
}
