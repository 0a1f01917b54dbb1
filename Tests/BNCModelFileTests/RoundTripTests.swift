import BNCGraph
import Foundation
import Testing

@testable import BNCModelFile

@Suite struct RoundTripTests {
    @Test func saveLoadEqualsAndResaveIsByteIdentical() throws {
        let model = SampleModels.convDense()
        let bytes = ModelFile.encode(model)
        let loaded = try ModelFile.decode(bytes, path: "mem.pb")
        #expect(loaded == TensorDigest.stamped(model))
        // Float data bitwise equal (== on Float would accept -0 == 0).
        for (a, b) in zip(model.graph.initializers, loaded.graph.initializers) {
            #expect(a.floats!.map(\.bitPattern) == b.floats!.map(\.bitPattern))
        }
        #expect(ModelFile.encode(loaded) == bytes)
    }

    /// The example models bnc wrote with today's encoder re-encode to the same bytes: a
    /// schema or encoder change that moved a byte of bnc's own files would show here.
    @Test(arguments: ["mlp-fashion.pb", "mlp-fashion.folded.pb"])
    func committedExampleModelsReencodeByteIdentically(file: String) throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let bytes = [UInt8](try Data(contentsOf: repository.appendingPathComponent("models/\(file)")))
        #expect(ModelFile.encode(try ModelFile.decode(bytes, path: file)) == bytes)
    }

    @Test func specialFloatBitPatternsSurvive() throws {
        var model = SampleModels.convDense()
        let specials: [Float] = [-0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -.leastNormalMagnitude]
        model.graph.initializers[1] = Tensor(name: "conv1.bias", dims: [4], floats: specials)
        let loaded = try ModelFile.decode(ModelFile.encode(model))
        #expect(loaded.graph.initializers[1].floats!.map(\.bitPattern) == specials.map(\.bitPattern))
    }

    @Test func saveIsAtomicAndLoadReadsItBack() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bnc-rt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("m.pb").path
        let model = SampleModels.convDense()
        try ModelFile.save(model, to: path)
        try ModelFile.save(model, to: path)  // replaces
        #expect(try ModelFile.load(path: path) == TensorDigest.stamped(model))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(leftovers == ["m.pb"])
    }

    @Test func saveIntoMissingDirectoryFailsClearly() {
        #expect {
            try ModelFile.save(SampleModels.convDense(), to: "/nonexistent-bnc-dir/m.pb")
        } throws: { error in
            let e = error as! ModelError
            return e.kind == .io && e.description.contains("does not exist")
        }
    }

    @Test func unknownFieldsArePreservedOnResave() throws {
        var model = SampleModels.convDense()
        // ModelProto.training_info (20) and a TensorProto segment-like unknown (field 99, varint).
        model.unknownFields = UnknownFields([.init(number: 25, wireType: 2, bytes: [3, 0x0A, 1, 0x41])])
        model.graph.nodes[0].unknownFields = UnknownFields([.init(number: 8, wireType: 2, bytes: [2, 0x68, 0x69])])
        let bytes = ModelFile.encode(model)
        let loaded = try ModelFile.decode(bytes)
        #expect(loaded.unknownFields.contains(25))
        #expect(loaded.graph.nodes[0].unknownFields == model.graph.nodes[0].unknownFields)
        #expect(ModelFile.encode(loaded) == bytes)
    }

    /// Unknown fields survive a load and save at every message level bnc keeps them, also
    /// below the model and the node: opset import, metadata entry, graph, attribute, tensor,
    /// graph input and output. Each level gets its own field number, so a level that drops or
    /// moves its fields is named by the failure.
    @Test func unknownFieldsAtEveryLevelSurviveResave() throws {
        var model = SampleModels.convDense()
        func field(_ n: UInt32) -> UnknownFields { UnknownFields([.init(number: n, wireType: 0, bytes: [UInt8(n)])]) }
        model.unknownFields = field(90)
        model.opsetImports[0].unknownFields = field(91)
        model.metadata[0].unknownFields = field(92)
        model.graph.unknownFields = field(93)
        model.graph.nodes[0].unknownFields = field(94)
        model.graph.nodes[0].attributes[1].unknownFields = field(95)
        model.graph.initializers[2].unknownFields = field(96)
        model.graph.inputs[0].unknownFields = field(97)
        model.graph.outputs[0].unknownFields = field(98)
        let bytes = ModelFile.encode(model)
        let loaded = try ModelFile.decode(bytes)
        #expect(loaded.unknownFields == field(90))
        #expect(loaded.opsetImports[0].unknownFields == field(91))
        #expect(loaded.metadata.first { $0.key == model.metadata[0].key }?.unknownFields == field(92))
        #expect(loaded.graph.unknownFields == field(93))
        #expect(loaded.graph.nodes[0].unknownFields == field(94))
        #expect(loaded.graph.nodes[0].attributes[1].unknownFields == field(95))
        #expect(loaded.graph.initializers[2].unknownFields == field(96))
        #expect(loaded.graph.inputs[0].unknownFields == field(97))
        #expect(loaded.graph.outputs[0].unknownFields == field(98))
        // Nowhere else, and a second save gives the same bytes.
        #expect(loaded.graph.nodes[1].unknownFields.isEmpty && loaded.graph.initializers[0].unknownFields.isEmpty)
        #expect(ModelFile.encode(loaded) == bytes)
    }

    @Test func emptyModelMetadataAndAttributesOfEveryType() throws {
        var model = SampleModels.convDense()
        model.graph.nodes[0].docString = "ünïcode ✓"
        model.metadata.append(MetadataEntry(key: "bnc.note", value: ""))
        let loaded = try ModelFile.decode(ModelFile.encode(model))
        #expect(loaded.graph.nodes[0].docString == "ünïcode ✓")
        #expect(loaded[metadata: "bnc.note"] == "")
    }
}
