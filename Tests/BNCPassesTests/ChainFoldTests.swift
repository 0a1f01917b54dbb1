import BNCGraph
import BNCOps
import BNCRuntime
import BNCTestSupport
import Testing

@testable import BNCPasses

/// The fold rules beyond one BN after one op: N-D and transposed convolutions, affine chains
/// of Add/Sub/Mul/Div, pass-through nodes, Concat splits, computed constants and collapses.
/// Each is checked numerically against the unfolded graph (ReferenceEvaluator in Double,
/// tolerance 1e-6 of the output scale: one Float rounding per folded weight, see
/// `expectFoldPreserves`).
@Suite struct ChainFoldTests {
    /// The folded graph computes what the original does (in Double, 3 seeded inputs).
    @discardableResult
    func expectSame(
        _ graph: Graph, inputShape: [Int], nodesAfter: [String]? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> (Graph, FoldReport) {
        try ModelValidator.validate(graph, opset: 15)
        let (folded, report) = BNFolding.fold(graph)
        try ModelValidator.validate(folded, opset: 15)
        if let nodesAfter {
            #expect(folded.nodes.map(\.opType) == nodesAfter, "skipped: \(report.skipped.map(\.reason))", sourceLocation: sourceLocation)
        }
        for seed in 1...3 as ClosedRange<UInt64> {
            let x = randomInput(inputShape, seed: seed)
            let rel = relativeDifference(try ReferenceEvaluator.run(graph, input: x), try ReferenceEvaluator.run(folded, input: x))
            #expect(rel <= 1e-6, "relative difference \(rel)", sourceLocation: sourceLocation)
        }
        return (folded, report)
    }

    // MARK: Convolutions of every kind

    @Test(arguments: [1, 2, 4])
    func convTransposeThenBN(group: Int) throws {
        var b = GraphBuilder(seed: 41)
        let cin = 4, mPerGroup = 3
        b.weight("w", [cin, mPerGroup, 3, 3])
        b.weight("bias", [mPerGroup * group])
        b.node("ConvTranspose", "deconv", ["x", "w", "bias"], "h",
               [Attribute("group", .int(Int64(group))), Attribute("strides", .ints([2, 2])), Attribute("pads", .ints([1, 1, 1, 1]))])
        b.bn("bn", "h", "y", channels: mPerGroup * group)
        let (_, report) = try expectFoldPreserves(b.graph(input: "x", shape: [2, cin, 4, 5], output: "y"), inputShape: [2, cin, 4, 5], folds: 1)
        #expect(report.folded.first?.intoOpAfter == "ConvTranspose")
    }

    @Test(arguments: [[5], [3, 4, 5]])
    func convInOneAndThreeDimensions(spatial: [Int]) throws {
        var b = GraphBuilder(seed: 42)
        let k = spatial.map { _ in 3 }
        b.weight("w", [6, 2] + k)
        b.node("Conv", "conv", ["x", "w"], "h",
               [Attribute("group", .int(2)), Attribute("pads", .ints(spatial.flatMap { _ in [Int64(1)] } + spatial.map { _ in 1 }))])
        b.bn("bn", "h", "y", channels: 6)
        try expectFoldPreserves(b.graph(input: "x", shape: [2, 4] + spatial, output: "y"), inputShape: [2, 4] + spatial, folds: 1)
    }

    @Test func depthwiseConvForwardIn3D() throws {
        var b = GraphBuilder(seed: 43)
        b.bn("bn", "x", "xn", channels: 4)
        b.weight("w", [8, 1, 2, 2, 2])
        b.node("Conv", "dw", ["xn", "w"], "y", [Attribute("group", .int(4))])
        try expectFoldPreserves(b.graph(input: "x", shape: [1, 4, 3, 3, 3], output: "y"), inputShape: [1, 4, 3, 3, 3], folds: 1)
    }

    // MARK: Affine chains

    /// tf2onnx's BN: Conv → Mul → Add with (C, 1, 1) constants folds into the Conv.
    @Test func convMulAddFoldsIntoConv() throws {
        var b = GraphBuilder(seed: 44)
        b.weight("w", [5, 3, 3, 3])
        b.node("Conv", "conv", ["x", "w"], "h")
        b.weight("s", [5, 1, 1], -2...2)
        b.weight("t", [5, 1, 1])
        b.node("Mul", "mul", ["h", "s"], "hs")
        b.node("Add", "add", ["t", "hs"], "y")
        let (folded, report) = try expectSame(b.graph(input: "x", shape: [2, 3, 5, 5], output: "y"), inputShape: [2, 3, 5, 5], nodesAfter: ["Conv"])
        #expect(report.affineFolds.count == 1 && report.affineFolds[0].into == "conv")
        #expect(folded.nodes[0].outputs == ["y"] && folded.initializer(named: "s") == nil)
    }

    /// Sub and Div both ways they are affine, and a scalar: x − c, c − x, x / c, x · 2.
    @Test func subDivAndScalarSteps() throws {
        var b = GraphBuilder(seed: 45)
        b.weight("w", [4, 3, 1, 1])
        b.weight("bias", [4])
        b.node("Conv", "conv", ["x", "w", "bias"], "h0")
        b.weight("c1", [4, 1, 1])
        b.weight("c2", [4, 1, 1])
        b.weight("c3", [1, 4, 1, 1], 0.5...2)
        b.weight("two", [], 2...2)
        b.node("Sub", "sub", ["h0", "c1"], "h1")
        b.node("Sub", "rsub", ["c2", "h1"], "h2")
        b.node("Div", "div", ["h2", "c3"], "h3")
        b.node("Mul", "mul", ["two", "h3"], "y")
        try expectSame(b.graph(input: "x", shape: [2, 3, 4, 4], output: "y"), inputShape: [2, 3, 4, 4], nodesAfter: ["Conv"])
    }

    /// Keras Dense + BN as tf2onnx writes it: MatMul → Mul → Add, channels on the last axis;
    /// the Add stays as the MatMul's bias.
    @Test func matMulMulAddKeepsTheAdd() throws {
        var b = GraphBuilder(seed: 46)
        b.weight("W", [6, 4])
        b.node("MatMul", "mm", ["x", "W"], "h")
        b.weight("s", [4], -2...2)
        b.weight("t", [4])
        b.node("Mul", "mul", ["h", "s"], "hs")
        b.node("Add", "add", ["hs", "t"], "y")
        try expectSame(b.graph(input: "x", shape: [3, 6], output: "y"), inputShape: [3, 6], nodesAfter: ["MatMul", "Add"])
    }

    /// A rank-3 MatMul (tokens × features) scaled per feature: the last axis is the channel.
    @Test func rank3MatMulThenMulAdd() throws {
        var b = GraphBuilder(seed: 47)
        b.weight("W", [6, 4])
        b.node("MatMul", "mm", ["x", "W"], "h")
        b.weight("s", [1, 1, 4], -2...2)
        b.weight("t", [4])
        b.node("Mul", "mul", ["h", "s"], "hs")
        b.node("Add", "add", ["hs", "t"], "y")
        try expectSame(b.graph(input: "x", shape: [2, 5, 6], output: "y"), inputShape: [2, 5, 6], nodesAfter: ["MatMul", "Add"])
    }

    /// A constant that varies along a spatial axis is not per-channel: nothing folds.
    @Test func spatiallyVaryingConstantStays() throws {
        var b = GraphBuilder(seed: 48)
        b.weight("w", [4, 3, 1, 1])
        b.node("Conv", "conv", ["x", "w"], "h")
        b.weight("s", [4, 1])
        b.node("Mul", "mul", ["h", "s"], "y")
        try expectSame(b.graph(input: "x", shape: [1, 3, 4, 4], output: "y"), inputShape: [1, 3, 4, 4], nodesAfter: ["Conv", "Mul"])
    }

    /// Caffe2's BN → Mul → Add folds into the Conv before it as one chain.
    @Test func bnMulAddChainFoldsIntoConv() throws {
        var b = GraphBuilder(seed: 49)
        b.weight("w", [4, 3, 3, 3])
        b.node("Conv", "conv", ["x", "w"], "h")
        b.bn("bn", "h", "hn", channels: 4)
        b.weight("s", [4, 1, 1], -2...2)
        b.weight("t", [4, 1, 1])
        b.node("Mul", "mul", ["hn", "s"], "hs")
        b.node("Add", "add", ["hs", "t"], "y")
        let (_, report) = try expectSame(b.graph(input: "x", shape: [2, 3, 5, 5], output: "y"), inputShape: [2, 3, 5, 5], nodesAfter: ["Conv"])
        #expect(report.folded.map(\.method) == ["chain"] && report.folded[0].chain.count == 2)
    }

    /// Nothing absorbs a chain after a Relu: BN → Mul → Add becomes one BN.
    @Test func chainAfterReluCollapsesIntoTheBN() throws {
        var b = GraphBuilder(seed: 50)
        b.node("Relu", "relu", ["x"], "r")
        b.weight("m", [3, 1, 1], -2...2)
        b.node("Mul", "pre", ["r", "m"], "rm")
        b.bn("bn", "rm", "hn", channels: 3)
        b.weight("s", [3, 1, 1], -2...2)
        b.weight("t", [3, 1, 1])
        b.node("Mul", "mul", ["hn", "s"], "hs")
        b.node("Add", "add", ["hs", "t"], "y")
        b.node("Relu", "relu2", ["y"], "z")
        var g = b.graph(input: "x", shape: [2, 3, 4, 4], output: "z")
        g.outputs = [ValueInfo(name: "z", shape: nil)]
        let (_, report) = try expectSame(g, inputShape: [2, 3, 4, 4], nodesAfter: ["Relu", "BatchNormalization", "Relu"])
        #expect(report.skipped.first?.merged.count == 3)
    }

    /// After a Relu, BN → Mul → Add → Gemm: the chain merges into the BN, which folds forward.
    @Test func chainBeforeAGemmFoldsForward() throws {
        var b = GraphBuilder(seed: 56)
        b.node("Relu", "relu", ["x"], "r")
        b.bn("bn", "r", "hn", channels: 4)
        b.weight("s", [4], -2...2)
        b.weight("t", [4])
        b.node("Mul", "mul", ["hn", "s"], "hs")
        b.node("Add", "add", ["hs", "t"], "h")
        b.weight("W", [4, 3])
        b.node("Gemm", "fc", ["h", "W"], "y")
        let (_, report) = try expectSame(b.graph(input: "x", shape: [2, 4], output: "y"), inputShape: [2, 4], nodesAfter: ["Relu", "Gemm"])
        #expect(report.folded.first?.direction == .forward && report.folded.first?.chain == ["Mul 'mul'", "Add 'add'"])
    }

    // MARK: Through shape-only nodes

    /// Gemm → Reshape (N, C) → (N, C, 1, 1) → Identity → BN: the channel axis survives.
    @Test func throughReshapeAndIdentity() throws {
        var b = GraphBuilder(seed: 51)
        b.weight("W", [6, 4])
        b.node("Gemm", "fc", ["x", "W"], "h")
        b.initializers.append(Tensor(name: "shape", dims: [4], int64s: [0, 4, 1, 1]))
        b.node("Reshape", "reshape", ["h", "shape"], "h4")
        b.node("Identity", "id", ["h4"], "h5")
        b.bn("bn", "h5", "y", channels: 4)
        try expectFoldPreserves(b.graph(input: "x", shape: [3, 6], output: "y"), inputShape: [3, 6], folds: 1)
    }

    /// Conv (N, C, H, W) → Flatten → Mul per flattened feature: the channel axis does not
    /// survive (C·H·W features), so nothing folds.
    @Test func flattenThatMergesChannelsStops() throws {
        var b = GraphBuilder(seed: 52)
        b.weight("w", [2, 3, 1, 1])
        b.node("Conv", "conv", ["x", "w"], "h")
        b.node("Flatten", "flat", ["h"], "f")
        b.weight("s", [8], -2...2)
        b.node("Mul", "mul", ["f", "s"], "y")
        try expectSame(b.graph(input: "x", shape: [1, 3, 2, 2], output: "y"), inputShape: [1, 3, 2, 2], nodesAfter: ["Conv", "Flatten", "Mul"])
    }

    // MARK: Concat split

    @Test func bnAfterConcatOfConvsSplits() throws {
        var b = GraphBuilder(seed: 53)
        b.weight("wa", [3, 2, 3, 3])
        b.weight("wb", [5, 2, 1, 1])
        b.weight("bb", [5])
        b.node("Conv", "a", ["x", "wa"], "ha", [Attribute("pads", .ints([1, 1, 1, 1]))])
        b.node("Conv", "b", ["x", "wb", "bb"], "hb")
        b.nodes.append(Node(name: "cat", opType: "Concat", inputs: ["ha", "hb"], outputs: ["h"], attributes: [Attribute("axis", .int(1))]))
        b.bn("bn", "h", "y", channels: 8)
        let (_, report) = try expectFoldPreserves(b.graph(input: "x", shape: [2, 2, 4, 4], output: "y"), inputShape: [2, 2, 4, 4], folds: 1)
        #expect(report.folded.first?.method == "concat-split" && report.folded.first?.splitInto == ["Conv 'a'", "Conv 'b'"])
    }

    /// A Concat input read elsewhere too (DenseNet's features) blocks the split, with its reason.
    @Test func concatInputReadTwiceStays() throws {
        var b = GraphBuilder(seed: 54)
        b.weight("wa", [3, 2, 1, 1])
        b.node("Conv", "a", ["x", "wa"], "ha")
        b.nodes.append(Node(name: "cat", opType: "Concat", inputs: ["x", "ha"], outputs: ["h"], attributes: [Attribute("axis", .int(1))]))
        b.bn("bn", "h", "y", channels: 5)
        let (_, report) = BNFolding.fold(b.graph(input: "x", shape: [1, 2, 3, 3], output: "y"))
        #expect(report.folded.isEmpty)
        #expect(report.skipped.first?.backward?.description.contains("not the output of a Conv") == true)
    }

    // MARK: Computed constants

    /// PyTorch dynamo writes a Conv's zero bias as CastLike(Expand(0, Shape(W)[0:1]), x):
    /// a constant whatever x is; the BN folds and the subgraph goes.
    @Test func dynamoComputedBiasFolds() throws {
        var b = GraphBuilder(seed: 55)
        b.weight("w", [4, 3, 3, 3])
        b.nodes.append(Node(name: "zero", opType: "Constant", inputs: [], outputs: ["z"],
                            attributes: [Attribute("value", .tensor(Tensor(name: "z", dims: [], floats: [0])))]))
        b.nodes.append(Node(name: "shape", opType: "Shape", inputs: ["w"], outputs: ["s"],
                            attributes: [Attribute("start", .int(0)), Attribute("end", .int(1))]))
        b.node("Expand", "expand", ["z", "s"], "e")
        b.node("CastLike", "cast", ["e", "x"], "bias")
        b.node("Conv", "conv", ["x", "w", "bias"], "h")
        b.bn("bn", "h", "y", channels: 4)
        let g = b.graph(input: "x", shape: [1, 3, 5, 5], output: "y")
        let (folded, report) = BNFolding.fold(g, opset: 18)
        #expect(report.folded.count == 1)
        #expect(folded.nodes.map(\.opType) == ["Conv"])
        let proof = try FoldProof.run(original: g, folded: folded, randomProbes: 4, distribution: .normal, opset: 18)
        #expect(proof.passed && proof.maxRelDiff < 1e-6, "\(proof)")
    }
}
