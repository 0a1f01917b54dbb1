import BNCGraph
import Foundation
import Testing

@testable import BNCModelFile

/// Inputs libFuzzer found (tools/fuzz/run), kept as regression tests: each must load and
/// re-encode stably, or be refused with a ModelError — the harness's property.
@Suite struct FuzzRegressionTests {
    static var inputs: [URL] {
        guard let dir = Bundle.module.url(forResource: "fuzz-regressions", withExtension: nil, subdirectory: "Fixtures"),
              let files = try? FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
        else { return [] }
        return files.sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    @Test func corpusIsPresent() {
        #expect(!Self.inputs.isEmpty)
    }

    @Test(arguments: inputs)
    func loadsStablyOrIsRefused(input: URL) throws {
        let bytes = Array(try Data(contentsOf: input))
        do {
            let model = try ModelFile.decode(bytes, path: input.lastPathComponent)
            let encoded = ModelFile.encode(model)
            let again = try ModelFile.decode(encoded)
            #expect(ModelFile.encode(again) == encoded)
        } catch {
            #expect(!error.problem.isEmpty)
        }
    }

    /// The first crash: a TypeProto/Dimension `denotation` was declared in the schema but
    /// not carried, so a re-save silently dropped it.
    @Test func denotationsSurviveRoundTrip() throws {
        var model = SampleModels.convDense()
        model.graph.inputs[0].denotation = "TENSOR"
        model.graph.inputs[0].dimensionDenotations = ["DATA_BATCH", "DATA_CHANNEL", "", ""]
        let loaded = try ModelFile.decode(ModelFile.encode(model))
        #expect(loaded.graph.inputs[0] == model.graph.inputs[0])
    }

    /// The second find (model-crash-047697bc…): a BatchNormalization epsilon of 0xFFFFC5AC, a
    /// NaN. The file round-trips exactly; the harness compared nodes with `==`, under which a
    /// NaN is not equal to itself, and now compares attribute bits.
    @Test func nanAttributeKeepsItsBits() throws {
        let input = try #require(Self.inputs.first { $0.lastPathComponent.hasPrefix("model-crash-047697bc") })
        let model = try ModelFile.decode(Array(try Data(contentsOf: input)))
        let bn = try #require(model.graph.nodes.first { $0.opType == "BatchNormalization" })
        guard case .float(let epsilon)? = bn.attribute("epsilon")?.value else {
            Issue.record("no float epsilon")
            return
        }
        #expect(epsilon.isNaN && epsilon.bitPattern == 0xFFFF_C5AC)
        let again = try ModelFile.decode(ModelFile.encode(model))
        guard case .float(let back)? = again.graph.nodes.first(where: { $0.opType == "BatchNormalization" })?.attribute("epsilon")?.value else {
            Issue.record("epsilon lost")
            return
        }
        #expect(back.bitPattern == epsilon.bitPattern)
    }

    @Test func attributeWithTwoValuesIsRefused() {
        var m = WireWriter()
        m.int(1, 8)
        m.message(8) { o in o.string(1, ""); o.int(2, 15) }
        m.message(7) { g in
            g.message(1) { n in
                n.string(1, "x"); n.string(2, "y"); n.string(3, "sm"); n.string(4, "Softmax")
                n.message(5) { a in a.string(1, "axis"); a.int(20, 2); a.int(3, 1); a.fixed32(2, 1.0) }
            }
            g.message(11) { v in v.string(1, "x") }
            g.message(12) { v in v.string(1, "y") }
        }
        #expect(throws: ModelError.self) { try ModelFile.decode(m.bytes) }
    }
}
