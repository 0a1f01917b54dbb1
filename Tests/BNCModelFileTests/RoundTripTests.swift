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

    @Test func emptyModelMetadataAndAttributesOfEveryType() throws {
        var model = SampleModels.convDense()
        model.graph.nodes[0].docString = "ünïcode ✓"
        model.metadata.append(MetadataEntry(key: "bnc.note", value: ""))
        let loaded = try ModelFile.decode(ModelFile.encode(model))
        #expect(loaded.graph.nodes[0].docString == "ünïcode ✓")
        #expect(loaded[metadata: "bnc.note"] == "")
    }
}
