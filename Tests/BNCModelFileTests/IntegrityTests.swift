import BNCGraph
import Testing

@testable import BNCModelFile

@Suite struct IntegrityTests {
    func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test func sha256MatchesFIPSExamples() {
        let empty = MessageDigest(.sha256)
        #expect(hex(empty.finish()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let abc = MessageDigest(.sha256)
        abc.update(Array("abc".utf8))
        #expect(hex(abc.finish()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let two = MessageDigest(.sha256)
        two.update(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
        #expect(hex(two.finish()) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // One million 'a', fed in uneven pieces to exercise buffering.
        let million = MessageDigest(.sha256)
        let chunk = [UInt8](repeating: 0x61, count: 999)
        var fed = 0
        while fed < 1_000_000 {
            let n = min(chunk.count, 1_000_000 - fed)
            million.update(Array(chunk[..<n]))
            fed += n
        }
        #expect(hex(million.finish()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func sha1MatchesFIPSExamples() {
        let abc = MessageDigest(.sha1)
        abc.update(Array("abc".utf8))
        #expect(abc.finishHex() == "a9993e364706816aba3e25717850c26c9cd0d89d")
        let two = MessageDigest(.sha1)
        two.update(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
        #expect(two.finishHex() == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
    }

    @Test func aFlippedFloatBitIsDetected() throws {
        let bytes = ModelFile.encode(SampleModels.convDense())
        // Find the raw bytes of conv1.weight's first float and flip its lowest mantissa bit.
        let model = SampleModels.convDense()
        let first = model.graph.initializers[0].floats![0].bitPattern
        let pattern = withUnsafeBytes(of: first.littleEndian) { Array($0) }
        let at = try #require(bytes.indices.first { i in i + 4 <= bytes.count && Array(bytes[i..<(i + 4)]) == pattern })
        var damaged = bytes
        damaged[at] ^= 1
        #expect(throws: ModelError.self) { try ModelFile.decode(damaged, path: "m.pb") }
        do {
            _ = try ModelFile.decode(damaged, path: "m.pb")
        } catch {
            #expect(error.kind == .integrityMismatch)
            #expect(error.description.hasPrefix("m.pb: metadata 'bnc.integrity.sha256': the tensors hash to "))
        }
    }

    @Test func filesWithoutADigestLoad() throws {
        let bytes = ModelFile.encodeUnstamped(SampleModels.convDense())
        let m = try ModelFile.decode(bytes)
        #expect(TensorDigest.status(of: m) == .absent)
    }

    /// The digest covers every tensor's dims, not only its values: the same 6 floats as
    /// [2, 3], [3, 2] or [6] are three digests, and a file whose dims were changed after it
    /// was written (the stored digest left as it was) is refused.
    @Test func digestNoticesChangedDims() throws {
        var model = SampleModels.convDense()
        model.graph.initializers.append(Tensor(name: "spare", dims: [2, 3], floats: [1, 2, 3, 4, 5, 6]))
        let stamped = TensorDigest.stamped(model)
        var digests: Set<String> = [TensorDigest.sha256(of: model.graph)]
        for dims in [[3, 2], [6], [1, 2, 3]] {
            var changed = stamped
            let i = try #require(changed.graph.initializerIndex(named: "spare"))
            changed.graph.initializers[i].dims = dims
            digests.insert(TensorDigest.sha256(of: changed.graph))
            #expect {
                try ModelFile.decode(ModelFile.encodeUnstamped(changed), path: "m.pb")
            } throws: { error in (error as? ModelError)?.kind == .integrityMismatch }
        }
        #expect(digests.count == 4)
    }

    @Test func digestDoesNotDependOnEncodingOrMetadata() {
        var a = SampleModels.convDense()
        let d1 = TensorDigest.sha256(of: a.graph)
        a.metadata.append(MetadataEntry(key: "x", value: "y"))
        a.graph.nodes[0].docString = "changed"
        #expect(TensorDigest.sha256(of: a.graph) == d1)
        a.graph.initializers[1] = Tensor(name: "conv1.bias", dims: [4], floats: [0, 0, 0, 1])
        #expect(TensorDigest.sha256(of: a.graph) != d1)
    }
}
