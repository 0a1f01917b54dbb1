import BNCGraph
import Testing

@testable import BNCModelFile

/// FLOAT, INT64, INT32 and BOOL tensors in every form ONNX allows (raw_data little-endian,
/// float_data, int64_data, int32_data), and graph inputs of the integer and Bool types.
@Suite struct ElementTypeTests {
    func decode(_ bytes: [UInt8]) throws -> Tensor {
        try ModelFile.decode(bytes, path: "t.pb").graph.initializers[0]
    }

    func error(_ bytes: [UInt8]) -> ModelError? {
        do {
            _ = try ModelFile.decode(bytes, path: "t.pb")
            return nil
        } catch {
            return error
        }
    }

    /// A tensor message: dims, data_type, name "t", then `data`.
    static func tensor(_ dims: [Int64], _ type: Int64, _ data: @escaping (inout WireWriter) -> Void) -> [UInt8] {
        WireWriter.model { t in
            for d in dims { t.int(1, d) }
            t.int(2, type)
            t.string(8, "t")
            data(&t)
        }
    }

    static func varints(_ values: [Int64]) -> [UInt8] {
        var w = WireWriter()
        for v in values { w.varint(UInt64(bitPattern: v)) }
        return w.bytes
    }

    @Test func int32FromRawDataAndPackedAndUnpackedInt32Data() throws {
        let values: [Int32] = [7, -1, .min, .max, 0, 42]
        let raw = Self.tensor([2, 3], 6) { t in t.bytes(9, values.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }) }
        // int32 varints are the sign-extended 64-bit form (10 bytes for a negative value).
        let packed = Self.tensor([2, 3], 6) { t in t.bytes(5, Self.varints(values.map(Int64.init))) }
        let unpacked = Self.tensor([2, 3], 6) { t in for v in values { t.int(5, Int64(v)) } }
        for bytes in [raw, packed, unpacked] {
            let t = try decode(bytes)
            #expect(t.dataType == DataType.int32)
            #expect(t.dims == [2, 3])
            #expect(t.int32s == values)
            #expect(t.integers == values.map(Int64.init))
        }
    }

    @Test func boolFromRawDataAndInt32Data() throws {
        let raw = Self.tensor([3], 9) { t in t.bytes(9, [1, 0, 1]) }
        let typed = Self.tensor([3], 9) { t in t.bytes(5, Self.varints([1, 0, 1])) }
        for bytes in [raw, typed] {
            let t = try decode(bytes)
            #expect(t.dataType == DataType.bool)
            #expect(t.bools == [true, false, true])
            #expect(t.integers == [1, 0, 1])
        }
        let scalar = try decode(Self.tensor([], 9) { t in t.bytes(9, [0]) })
        #expect(scalar.dims == [] && scalar.bools == [false])
    }

    @Test func aBoolOtherThanZeroOrOneIsRefusedByElement() {
        let raw = Self.tensor([3], 9) { t in t.bytes(9, [1, 2, 0]) }
        #expect(error(raw)?.description == "t.pb: tensor 't': BOOL element 1 is 2 in raw_data; a BOOL is 0 or 1")
        let typed = Self.tensor([2], 9) { t in t.bytes(5, Self.varints([0, -1])) }
        #expect(error(typed)?.description == "t.pb: tensor 't': BOOL element 1 is -1 in int32_data; a BOOL is 0 or 1")
    }

    @Test func int64FromRawDataAndInt64Data() throws {
        let values: [Int64] = [-1, 1 << 40, .min]
        let raw = Self.tensor([3], 7) { t in t.bytes(9, values.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }) }
        let typed = Self.tensor([3], 7) { t in t.bytes(7, Self.varints(values)) }
        #expect(try decode(raw).int64s == values)
        #expect(try decode(typed).int64s == values)
    }

    @Test func eachTypeReadsOnlyItsOwnTypedField() {
        let floatWithInt32 = Self.tensor([1], 1) { t in t.bytes(5, Self.varints([3])) }
        #expect(error(floatWithInt32)?.description == "t.pb: tensor 't': is FLOAT but has int32_data")
        let int32WithInt64 = Self.tensor([1], 6) { t in t.bytes(7, Self.varints([3])) }
        #expect(error(int32WithInt64)?.description == "t.pb: tensor 't': is INT32 but has int64_data")
        let boolWithFloat = Self.tensor([1], 9) { t in t.fixed32(4, 1) }
        #expect(error(boolWithFloat)?.description == "t.pb: tensor 't': is BOOL but has float_data")
        let both = Self.tensor([1], 6) { t in t.bytes(5, Self.varints([3])); t.bytes(9, [3, 0, 0, 0]) }
        #expect(error(both)?.description == "t.pb: tensor 't': has both raw_data and int32_data; ONNX allows one")
    }

    @Test func rawLengthsFollowTheElementWidth() {
        // 3 INT32 need 12 bytes, 3 BOOL need 3; the width of another type is refused.
        let short = Self.tensor([3], 6) { t in t.bytes(9, [UInt8](repeating: 0, count: 8)) }
        #expect(error(short)?.description == "t.pb: tensor 't': raw_data has 8 bytes; dims [3] of INT32 need 12")
        let wide = Self.tensor([3], 9) { t in t.bytes(9, [UInt8](repeating: 0, count: 12)) }
        #expect(error(wide)?.description == "t.pb: tensor 't': raw_data has 12 bytes; dims [3] of BOOL need 3")
        let few = Self.tensor([4], 6) { t in t.bytes(5, Self.varints([1, 2, 3])) }
        #expect(error(few)?.description == "t.pb: tensor 't': has 3 values; dims [4] need 4")
    }

    @Test func otherTypesAreStillRefusedByName() {
        for (code, name) in [(10 as Int64, "FLOAT16"), (11, "DOUBLE"), (2, "UINT8"), (3, "INT8"), (5, "INT16"), (8, "STRING"), (16, "BFLOAT16")] {
            let bytes = Self.tensor([1], code) { t in t.bytes(9, [0, 0]) }
            #expect(error(bytes)?.description == "t.pb: tensor 't': has data_type \(name); bnc reads FLOAT, INT64, INT32 and BOOL tensors")
        }
    }

    /// An Identity per type from a graph input to an output, with an initializer of each type.
    static func typedModel() -> Model {
        let types: [(String, Int32)] = [("i64", DataType.int64), ("i32", DataType.int32), ("b", DataType.bool), ("f", DataType.float)]
        let graph = Graph(
            name: "typed",
            nodes: types.map { Node(name: "id_\($0.0)", opType: "Identity", inputs: [$0.0], outputs: ["\($0.0).out"]) },
            initializers: [
                Tensor(name: "c.i64", dims: [2], int64s: [-3, 1 << 33]),
                Tensor(name: "c.i32", dims: [2, 2], int32s: [1, -2, .max, .min]),
                Tensor(name: "c.b", dims: [3], bools: [true, false, true]),
                Tensor(name: "c.f", dims: [1], floats: [0.5]),
            ],
            inputs: types.map { ValueInfo(name: $0.0, elemType: $0.1, shape: [.param("N"), .value(4)]) },
            outputs: types.map { ValueInfo(name: "\($0.0).out", elemType: $0.1, shape: [.param("N"), .value(4)]) })
        return Model(graph: graph)
    }

    @Test func typedTensorsAndInputsRoundTripByteIdentically() throws {
        let model = Self.typedModel()
        let bytes = ModelFile.encode(model)
        let loaded = try ModelFile.decode(bytes, path: "typed.pb")
        #expect(loaded == TensorDigest.stamped(model))
        #expect(loaded.graph.inputs.map(\.elemType) == [DataType.int64, DataType.int32, DataType.bool, DataType.float])
        #expect(ModelFile.encode(loaded) == bytes)
        if case .verified = TensorDigest.status(of: loaded) {} else { Issue.record("digest not verified") }
    }

    @Test func encodingIsLittleEndianRawDataOfTheElementWidth() throws {
        // Golden bytes of each tensor's raw_data field (field 9, wire type 2 = tag 0x4A).
        let bytes = ModelFile.encodeUnstamped(Self.typedModel())
        func contains(_ needle: [UInt8]) -> Bool {
            bytes.indices.contains { i in i + needle.count <= bytes.count && Array(bytes[i..<(i + needle.count)]) == needle }
        }
        #expect(contains([0x4A, 16, 1, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF] + [0xFF, 0xFF, 0xFF, 0x7F, 0, 0, 0, 0x80]))
        #expect(contains([0x4A, 3, 1, 0, 1]))
        #expect(contains([0x4A, 16, 0xFD, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 2, 0, 0, 0]))
        // data_type 6 (INT32) and 9 (BOOL): field 2 varint = tag 0x10.
        #expect(contains([0x10, 6]) && contains([0x10, 9]))
    }

    @Test func theDigestCoversIntegerAndBoolElements() throws {
        var model = Self.typedModel()
        let digest = TensorDigest.sha256(of: model.graph)
        model.graph.initializers[2] = Tensor(name: "c.b", dims: [3], bools: [true, true, true])
        #expect(TensorDigest.sha256(of: model.graph) != digest)
        model = Self.typedModel()
        model.graph.initializers[1] = Tensor(name: "c.i32", dims: [2, 2], int32s: [1, -2, .max, .max])
        #expect(TensorDigest.sha256(of: model.graph) != digest)
    }
}
