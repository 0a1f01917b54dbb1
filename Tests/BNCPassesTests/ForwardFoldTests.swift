import BNCGraph
import Testing

@testable import BNCPasses

/// BN → linear op, each pattern on random weights, checked numerically.
@Suite struct ForwardFoldTests {
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func bnThenGemm(transB: Bool, withBias: Bool) throws {
        var b = GraphBuilder(seed: 21)
        b.bn("bn", "x", "xn", channels: 6)
        b.weight("W", transB ? [4, 6] : [6, 4])
        if withBias { b.weight("C", [4]) }
        var attrs = [Attribute("alpha", .float(0.75)), Attribute("beta", .float(1.5))]
        if transB { attrs.append(Attribute("transB", .int(1))) }
        b.node("Gemm", "fc", withBias ? ["xn", "W", "C"] : ["xn", "W"], "y", attrs)
        let (folded, report) = try expectFoldPreserves(b.graph(input: "x", shape: [3, 6], output: "y"), inputShape: [3, 6], folds: 1)
        let f = try #require(report.folded.first)
        #expect(f.direction == .forward && f.into == "fc")
        #expect(folded.nodes.map(\.opType) == ["Gemm"] && folded.nodes[0].inputs[0] == "x")
    }

    @Test func bnThenMatMulBecomesGemm() throws {
        var b = GraphBuilder(seed: 22)
        b.bn("bn", "x", "xn", channels: 5)
        b.weight("W", [5, 3])
        b.node("MatMul", "mm", ["xn", "W"], "y")
        let (folded, _) = try expectFoldPreserves(b.graph(input: "x", shape: [4, 5], output: "y"), inputShape: [4, 5], folds: 1)
        #expect(folded.nodes.map(\.opType) == ["Gemm"])
    }

    @Test func bnAfterActivationFoldsIntoNextGemm() throws {
        var b = GraphBuilder(seed: 23)
        b.weight("W1", [5, 6]); b.weight("W2", [6, 3])
        b.node("Gemm", "fc1", ["x", "W1"], "h")
        b.node("Relu", "relu", ["h"], "a")
        b.bn("bn", "a", "an", channels: 6)
        b.node("Gemm", "fc2", ["an", "W2"], "y")
        let (_, report) = try expectFoldPreserves(b.graph(input: "x", shape: [4, 5], output: "y"), inputShape: [4, 5], folds: 1)
        #expect(report.folded.first?.direction == .forward)
    }

    @Test(arguments: [1, 2, 4])
    func bnThenUnpaddedConv(group: Int) throws {
        var b = GraphBuilder(seed: 24)
        b.bn("bn", "x", "xn", channels: 4)
        b.weight("w", [8, 4 / group, 2, 2])
        b.node("Conv", "conv", ["xn", "w"], "y", [Attribute("group", .int(Int64(group))), Attribute("strides", .ints([2, 2]))])
        let (_, report) = try expectFoldPreserves(b.graph(input: "x", shape: [2, 4, 5, 5], output: "y"), inputShape: [2, 4, 5, 5], folds: 1)
        #expect(report.folded.first?.createdBias == true)
    }

    @Test func bnThenOneByOneSameConvFolds() throws {
        var b = GraphBuilder(seed: 25)
        b.bn("bn", "x", "xn", channels: 3)
        b.weight("w", [2, 3, 1, 1]); b.weight("cb", [2])
        b.node("Conv", "conv", ["xn", "w", "cb"], "y", [Attribute("auto_pad", .string(Array("SAME_UPPER".utf8)))])
        try expectFoldPreserves(b.graph(input: "x", shape: [2, 3, 4, 4], output: "y"), inputShape: [2, 3, 4, 4], folds: 1)
    }
}
