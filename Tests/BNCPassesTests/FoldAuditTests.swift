import BNCGraph
import Testing

@testable import BNCPasses

/// The folded model keeps the original BN parameters; warnings fire on suspicious values.
@Suite struct FoldAuditTests {
    func gemmBN(seed: UInt64 = 41) -> GraphBuilder {
        var b = GraphBuilder(seed: seed)
        b.weight("W", [3, 4])
        b.node("Gemm", "fc", ["x", "W"], "h")
        b.bn("bn", "h", "y", channels: 4, epsilon: 2e-3)
        return b
    }

    @Test func modelMetadataRecordsExactOriginalParameters() throws {
        let b = gemmBN()
        let g = b.graph(input: "x", shape: [2, 3], output: "y")
        var model = Model(graph: g)
        model[metadata: MetadataKey.integritySHA256] = "stale"
        model[metadata: MetadataKey.inputScaling] = "x/255"
        let (folded, report) = BNFolding.fold(model)
        #expect(report.folded.count == 1)
        #expect(folded[metadata: MetadataKey.integritySHA256] == nil)
        #expect(folded[metadata: MetadataKey.inputScaling] == "x/255")
        let text = try #require(folded[metadata: "bnc.fold.bn"])
        #expect(!text.contains("\n"))
        let audit = try #require(FoldAudit.decode(text))
        #expect(audit == report.folded[0].audit)
        func original(_ name: String) -> [Float]? { b.initializers.first { $0.name == name }?.floats }
        #expect(audit.scale == original("bn.scale"))
        #expect(audit.B == original("bn.B"))
        #expect(audit.mean == original("bn.mean"))
        #expect(audit.variance == original("bn.var"))
        #expect(audit.epsilon == 2e-3 && audit.momentum == 0.9)
        #expect(audit.into == "fc" && audit.direction == .backward)
        #expect(audit.names == ["bn.scale", "bn.B", "bn.mean", "bn.var"])
        #expect(audit.input == "h" && audit.output == "y")
        let records = FoldAudit.records(in: folded)
        #expect(records.count == 1 && records.first?.bn == "bn")
    }

    @Test func unnamedBNIsKeyedByItsOutput() throws {
        var b = gemmBN()
        b.nodes[1].name = ""
        let (folded, report) = BNFolding.fold(Model(graph: b.graph(input: "x", shape: [2, 3], output: "y")))
        #expect(report.folded.first?.bn == "y")
        #expect(folded[metadata: "bnc.fold.y"] != nil)
    }

    @Test func untrainedStatisticsWarn() throws {
        var b = gemmBN()
        for (name, v) in [("bn.mean", Float(0)), ("bn.var", 1)] {
            let i = b.initializers.firstIndex { $0.name == name }!
            b.initializers[i].storage = .float([Float](repeating: v, count: 4))
        }
        let (_, report) = BNFolding.fold(b.graph(input: "x", shape: [2, 3], output: "y"))
        #expect(report.folded.count == 1)
        #expect(report.warnings.map(\.kind) == [.untrainedStatistics])
    }

    @Test func trainedStatisticsDoNotWarn() throws {
        let (_, report) = BNFolding.fold(gemmBN().graph(input: "x", shape: [2, 3], output: "y"))
        #expect(report.warnings.isEmpty)
    }

    @Test func foldedWeightsBeyondFloat16Warn() throws {
        var b = gemmBN()
        let i = b.initializers.firstIndex { $0.name == "bn.scale" }!
        b.initializers[i].storage = .float([1e6, 1, 1, 1])
        let (_, report) = BNFolding.fold(b.graph(input: "x", shape: [2, 3], output: "y"))
        #expect(report.folded.count == 1)
        #expect(report.warnings.map(\.kind) == [.beyondFloat16])
        #expect((report.folded.first?.maxAbsFolded ?? 0) > 65504)
    }
}
