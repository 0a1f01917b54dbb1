import BNCGraph
import Testing

@testable import BNCModelFile

/// Every damaged input gives a `ModelError` naming a place, never a crash.
@Suite struct CorruptInputTests {
    func error(_ bytes: [UInt8]) -> ModelError? {
        do {
            _ = try ModelFile.decode(bytes, path: "bad.pb")
            return nil
        } catch {
            return error
        }
    }

    @Test func emptyFile() {
        let e = error([])
        #expect(e?.kind == .malformed)
        #expect(e?.description == "bad.pb: byte 0: the file is empty; an ONNX model starts with ir_version and a graph")
    }

    @Test func everyTruncationIsAnErrorOrAValidPrefix() {
        let bytes = ModelFile.encode(SampleModels.convDense())
        var errors = 0
        for cut in stride(from: 0, to: bytes.count, by: 7) {
            if let e = error(Array(bytes[..<cut])) {
                errors += 1
                #expect(e.file == "bad.pb")
                #expect(!e.place.isEmpty || !e.problem.isEmpty)
            }
        }
        // Protobuf has no end marker, but a cut model always loses a required part.
        #expect(errors == (bytes.count + 6) / 7)
    }

    @Test func truncationInsideATensorNamesAByteOffset() {
        let bytes = ModelFile.encode(SampleModels.convDense())
        let e = error(Array(bytes[..<(bytes.count / 2)]))
        #expect(e?.kind == .malformed)
        #expect(e?.place.hasPrefix("byte ") == true)
        #expect(e?.problem.contains("remain") == true)
    }

    @Test func flippedBytesNeverCrash() {
        let bytes = ModelFile.encode(SampleModels.convDense())
        var rng = SampleModels.LCG(state: 7)
        for _ in 0..<400 {
            var b = bytes
            let i = Int(abs(rng.next()) * Float(b.count - 1))
            b[i] ^= UInt8(1 << (Int(abs(rng.next()) * 7)))
            _ = error(b)  // either decodes (a float bit flipped) or throws; must not crash
        }
    }

    @Test func elementCountMismatch() {
        let bytes = WireWriter.model { t in
            t.int(1, 4); t.int(1, 4); t.int(2, 1); t.string(8, "w")
            t.bytes(9, [UInt8](repeating: 0, count: 12 * 4))
        }
        let e = error(bytes)
        #expect(e?.kind == .badShape)
        #expect(e?.description == "bad.pb: tensor 'w': raw_data has 48 bytes; dims [4, 4] of FLOAT need 64")
    }

    @Test func tinyFileClaimingHugeTensorIsRejectedBeforeAllocating() {
        let bytes = WireWriter.model { t in
            t.int(1, 1_000_000); t.int(1, 1_000_000); t.int(2, 1); t.string(8, "huge")
            t.bytes(9, [0, 0, 0, 0])
        }
        #expect(error(bytes)?.kind == .badShape)
        let floats = WireWriter.model { t in
            t.int(1, 1_000_000_000_000); t.int(2, 1); t.string(8, "huge")
            t.message(4) { p in p.bytes += [0, 0, 0, 0] }
        }
        #expect(error(floats)?.problem == "has 1 values; dims [1000000000000] need 1000000000000")
    }

    @Test func negativeAndOverflowingDims() {
        let negative = WireWriter.model { t in t.int(1, -3); t.int(2, 1); t.string(8, "w") }
        #expect(error(negative)?.description == "bad.pb: tensor 'w': dimension 0 is -3; dims must be ≥ 0")
        let overflow = WireWriter.model { t in
            t.int(1, 1 << 40); t.int(1, 1 << 40); t.int(2, 1); t.string(8, "w")
        }
        #expect(error(overflow)?.problem.contains("overflows") == true)
    }

    @Test func packedAndUnpackedDimsBothRead() throws {
        let unpacked = WireWriter.model { t in
            t.int(1, 2); t.int(1, 3); t.int(2, 1); t.string(8, "w"); t.bytes(9, [UInt8](repeating: 0, count: 24))
        }
        let packed = WireWriter.model { t in
            t.message(1) { p in p.varint(2); p.varint(3) }
            t.int(2, 1); t.string(8, "w"); t.bytes(9, [UInt8](repeating: 0, count: 24))
        }
        let a = try ModelFile.decode(unpacked)
        let b = try ModelFile.decode(packed)
        #expect(a.graph.initializers[0].dims == [2, 3])
        #expect(b.graph.initializers[0].dims == [2, 3])
    }

    @Test func floatDataAndRawDataGiveTheSameTensor() throws {
        let values: [Float] = [1.5, -2.25, 0, 3e-8]
        let raw = WireWriter.model { t in
            t.int(1, 4); t.int(2, 1); t.string(8, "w")
            t.bytes(9, values.withUnsafeBytes { Array($0) })
        }
        let typed = WireWriter.model { t in
            t.int(1, 4); t.int(2, 1); t.string(8, "w")
            t.bytes(4, values.withUnsafeBytes { Array($0) })  // packed float_data
        }
        #expect(try ModelFile.decode(raw).graph.initializers[0].floats == values)
        #expect(try ModelFile.decode(typed).graph.initializers[0].floats == values)
    }

    @Test func unsupportedDataTypeAndExternalData() {
        let half = WireWriter.model { t in t.int(1, 1); t.int(2, 10); t.string(8, "h"); t.bytes(9, [0, 0]) }
        #expect(error(half)?.description == "bad.pb: tensor 'h': has data_type FLOAT16; bnc reads FLOAT, INT64, INT32 and BOOL tensors")
        let external = WireWriter.model { t in
            t.int(1, 1); t.int(2, 1); t.string(8, "e")
            t.message(13) { kv in kv.string(1, "location"); kv.string(2, "weights.bin") }
            t.int(14, 1)
        }
        #expect(error(external)?.problem.contains("external") == true)
    }

    @Test func missingIrVersionAndGraph() {
        var w = WireWriter()
        w.message(7) { _ in }
        #expect(error(w.bytes)?.problem.contains("ir_version") == true)
        var v = WireWriter()
        v.int(1, 8)
        #expect(error(v.bytes)?.problem == "graph is missing")
    }

    @Test func notAModelAtAll() {
        let text = Array("this is a text file, not a model\n".utf8)
        let e = error(text)
        #expect(e?.kind == .malformed)
        #expect(e?.place.hasPrefix("byte") == true)
    }

    @Test func wrongAttributeTypeOnLoad() {
        var m = WireWriter()
        m.int(1, 8)
        m.message(8) { o in o.string(1, ""); o.int(2, 15) }
        m.message(7) { g in
            g.message(1) { n in
                n.string(1, "x"); n.string(2, "y"); n.string(3, "sm"); n.string(4, "Softmax")
                n.message(5) { a in a.string(1, "axis"); a.int(20, 1); a.fixed32(2, 1.0) }  // FLOAT, not INT
            }
            g.message(11) { v in v.string(1, "x") }
            g.message(12) { v in v.string(1, "y") }
        }
        let e = error(m.bytes)
        #expect(e?.description == "bad.pb: node 'sm' (Softmax) attribute 'axis': has type FLOAT, expected INT")
    }
}
