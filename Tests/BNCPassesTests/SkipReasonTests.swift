import BNCGraph
import Testing

@testable import BNCPasses

/// Every BN left in place is reported with the right reason, and the graph is untouched.
@Suite struct SkipReasonTests {
    /// Folds and returns the single skip, checking nothing was folded and the graph kept.
    func onlySkip(_ g: Graph, options: FoldOptions = FoldOptions(), sourceLocation: SourceLocation = #_sourceLocation) throws -> FoldReport.Skip {
        let (out, report) = BNFolding.fold(g, options: options)
        #expect(report.folded.isEmpty, sourceLocation: sourceLocation)
        #expect(out == g, "a skipped fold must leave the graph unchanged", sourceLocation: sourceLocation)
        #expect(report.skipped.count == 1, sourceLocation: sourceLocation)
        return try #require(report.skipped.first, sourceLocation: sourceLocation)
    }

    func gemmBN(seed: UInt64 = 31, edit: (inout GraphBuilder) -> Void = { _ in }) -> GraphBuilder {
        var b = GraphBuilder(seed: seed)
        b.weight("W", [3, 4])
        b.node("Gemm", "fc", ["x", "W"], "h")
        b.bn("bn", "h", "y", channels: 4)
        edit(&b)
        return b
    }

    @Test func trainingMode() throws {
        var b = gemmBN()
        b.nodes[1].attributes.append(Attribute("training_mode", .int(1)))
        let skip = try onlySkip(b.graph(input: "x", shape: [2, 3], output: "y"))
        #expect(skip.general == .trainingMode)
    }

    @Test func parameterFedAtRunTime() throws {
        var b = gemmBN()
        b.nodes[1].inputs[3] = "m2"
        var g = b.graph(input: "x", shape: [2, 3], output: "y")
        g.inputs.append(ValueInfo(name: "m2", shape: [.value(4)]))
        let skip = try onlySkip(g)
        #expect(skip.general == .parameterNotConstant("m2"))
    }

    /// A parameter computed from constants only is a constant: the BN folds and the node
    /// that computed it goes with it.
    @Test func parameterComputedFromConstantsFolds() throws {
        var b = gemmBN()
        b.nodes.insert(Node(name: "id", opType: "Identity", inputs: ["bn.mean"], outputs: ["m2"]), at: 0)
        b.nodes[2].inputs[3] = "m2"
        let (folded, _) = try expectFoldPreserves(b.graph(input: "x", shape: [2, 3], output: "y"), inputShape: [2, 3], folds: 1)
        #expect(folded.nodes.map(\.opType) == ["Gemm"])
        #expect(folded.initializer(named: "bn.mean") == nil)
    }

    @Test func parameterOverridable() throws {
        var g = gemmBN().graph(input: "x", shape: [2, 3], output: "y")
        g.inputs.append(ValueInfo(name: "bn.var", shape: [.value(4)]))
        let skip = try onlySkip(g)
        #expect(skip.general == .parameterOverridable("bn.var"))
    }

    @Test func parameterLengths() throws {
        var b = gemmBN()
        b.initializers.removeAll { $0.name == "bn.B" }
        b.weight("bn.B", [3])
        let skip = try onlySkip(b.graph(input: "x", shape: [2, 3], output: "y"))
        guard case .parameterShape = skip.general else { Issue.record("got \(skip.reason)"); return }
    }

    @Test func nonFiniteParametersSkipAndWarn() throws {
        var b = gemmBN()
        let i = b.initializers.firstIndex { $0.name == "bn.var" }!
        b.initializers[i].storage = .float([1, .nan, 1, 1])
        let g = b.graph(input: "x", shape: [2, 3], output: "y")
        let skip = try onlySkip(g)
        #expect(skip.general == .nonFiniteParameters)
        #expect(BNFolding.fold(g).1.warnings.map(\.kind) == [.nonFiniteParameters])
    }

    @Test func nonPositiveVariance() throws {
        var b = gemmBN()
        let i = b.initializers.firstIndex { $0.name == "bn.var" }!
        b.initializers[i].storage = .float([1, 1, -2, 1])
        #expect(try onlySkip(b.graph(input: "x", shape: [2, 3], output: "y")).general == .nonPositiveVariance(channel: 2))
    }

    @Test func noLinearNeighbours() throws {
        var b = GraphBuilder(seed: 32)
        b.node("Relu", "r1", ["x"], "a")
        b.bn("bn", "a", "an", channels: 3)
        b.node("Relu", "r2", ["an"], "y")
        let skip = try onlySkip(b.graph(input: "x", shape: [2, 3], output: "y"))
        guard case .noLinearProducer(let back)? = skip.backward, case .noLinearConsumer(let fwd)? = skip.forward else {
            Issue.record("got \(skip.reason)"); return
        }
        #expect(back.contains("'r1'") && fwd.contains("'r2'"))
        #expect(skip.reason.hasPrefix("backward: ") && skip.reason.contains("; forward: "))
    }

    @Test func bnOnGraphInputWithoutConsumerOp() throws {
        var b = GraphBuilder(seed: 33)
        b.bn("bn", "x", "y", channels: 3)
        let skip = try onlySkip(b.graph(input: "x", shape: [2, 3], output: "y"))
        guard case .noLinearProducer? = skip.backward, case .graphOutput("y")? = skip.forward else {
            Issue.record("got \(skip.reason)"); return
        }
    }

    @Test func intermediateWithTwoReaders() throws {
        var b = gemmBN()
        b.node("Relu", "other", ["h"], "z")
        var g = b.graph(input: "x", shape: [2, 3], output: "y")
        g.outputs.append(ValueInfo(name: "z", shape: nil))
        let skip = try onlySkip(g)
        #expect(skip.backward == .sharedValue(value: "h", readers: 2))
    }

    @Test func bnOutputWithTwoReaders() throws {
        var b = GraphBuilder(seed: 34)
        b.weight("W", [3, 3])
        b.bn("bn", "x", "xn", channels: 3)
        b.node("Gemm", "fc", ["xn", "W"], "y")
        b.node("Relu", "r", ["xn"], "z")
        var g = b.graph(input: "x", shape: [2, 3], output: "y")
        g.outputs.append(ValueInfo(name: "z", shape: nil))
        #expect(try onlySkip(g).forward == .sharedValue(value: "xn", readers: 2))
    }

    @Test func intermediateIsGraphOutput() throws {
        var g = gemmBN().graph(input: "x", shape: [2, 3], output: "y")
        g.outputs.append(ValueInfo(name: "h", shape: nil))
        #expect(try onlySkip(g).backward == .graphOutput("h"))
    }

    @Test func weightFedByCaller() throws {
        var b = gemmBN()
        b.initializers.removeAll { $0.name == "W" }
        var g = b.graph(input: "x", shape: [2, 3], output: "y")
        g.inputs.append(ValueInfo(name: "W", shape: [.value(3), .value(4)]))
        #expect(try onlySkip(g).backward == .weightNotConstant(node: "node 'fc' (Gemm)", tensor: "W"))
    }

    @Test func sharedWeightWithCloningOff() throws {
        var b = gemmBN()
        b.weight("W2", [4, 3])
        b.node("Gemm", "fc2", ["y", "W"], "z", [Attribute("transB", .int(1))])
        let g = b.graph(input: "x", shape: [2, 3], output: "z")
        let skip = try onlySkip(g, options: FoldOptions(sharedWeights: .skip))
        #expect(skip.backward == .weightShared(node: "node 'fc' (Gemm)", tensor: "W"))
    }

    @Test func paddedConvAfterBN() throws {
        var b = GraphBuilder(seed: 35)
        b.bn("bn", "x", "xn", channels: 2)
        b.weight("w", [3, 2, 3, 3])
        b.node("Conv", "conv", ["xn", "w"], "y", [Attribute("pads", .ints([1, 1, 1, 1]))])
        let skip = try onlySkip(b.graph(input: "x", shape: [1, 2, 4, 4], output: "y"))
        #expect(skip.forward == .zeroPaddingWouldShift(node: "node 'conv' (Conv)"))
        #expect(skip.reason.contains("zero padding would be shifted"))
    }

    @Test func sameUpperConvAfterBN() throws {
        var b = GraphBuilder(seed: 36)
        b.bn("bn", "x", "xn", channels: 2)
        b.weight("w", [3, 2, 3, 3])
        b.node("Conv", "conv", ["xn", "w"], "y", [Attribute("auto_pad", .string(Array("SAME_LOWER".utf8)))])
        #expect(try onlySkip(b.graph(input: "x", shape: [1, 2, 4, 4], output: "y")).forward == .zeroPaddingWouldShift(node: "node 'conv' (Conv)"))
    }

    @Test func channelMismatch() throws {
        var b = GraphBuilder(seed: 37)
        b.weight("W", [3, 4])
        b.node("Gemm", "fc", ["x", "W"], "h")
        b.bn("bn", "h", "y", channels: 5)
        #expect(try onlySkip(b.graph(input: "x", shape: [2, 3], output: "y")).backward
                == .channelMismatch(node: "node 'fc' (Gemm)", bnChannels: 5, opChannels: 4))
    }

    @Test func forwardIntoTransposedA() throws {
        var b = GraphBuilder(seed: 38)
        b.weight("W", [3, 4])
        b.bn("bn", "x", "xn", channels: 3)
        b.node("Gemm", "fc", ["xn", "W"], "y", [Attribute("transA", .int(1))])
        guard case .unsupportedLayout? = try onlySkip(b.graph(input: "x", shape: [3, 3], output: "y")).forward else {
            Issue.record("expected unsupportedLayout"); return
        }
    }

    @Test func matMulOnRank3Input() throws {
        var b = GraphBuilder(seed: 39)
        b.weight("W", [6, 3])
        b.node("MatMul", "mm", ["x", "W"], "h")
        b.bn("bn", "h", "y", channels: 3)
        let skip = try onlySkip(b.graph(input: "x", shape: [2, 3, 6], output: "y"))
        guard case .unsupportedLayout(_, let detail)? = skip.backward else { Issue.record("got \(skip.reason)"); return }
        #expect(detail.contains("rank 3"))
    }

    @Test func rowVaryingGemmBias() throws {
        var b = gemmBN { b in
            b.weight("C", [2, 4])
            b.nodes[0].inputs.append("C")
        }
        b.rng = SeededRNG(seed: 1)
        guard case .unsupportedLayout? = try onlySkip(b.graph(input: "x", shape: [2, 3], output: "y")).backward else {
            Issue.record("expected unsupportedLayout"); return
        }
    }

    @Test func foldedValuesOverflowFloat() throws {
        var b = gemmBN()
        let gi = b.initializers.firstIndex { $0.name == "bn.scale" }!
        let vi = b.initializers.firstIndex { $0.name == "bn.var" }!
        b.initializers[gi].storage = .float([3e38, 1, 1, 1])
        b.initializers[vi].storage = .float([1e-12, 1, 1, 1])
        b.nodes[1].setAttribute(Attribute("epsilon", .float(0)))
        #expect(try onlySkip(b.graph(input: "x", shape: [2, 3], output: "y")).backward == .foldedValueOverflow(node: "node 'fc' (Gemm)"))
    }
}
