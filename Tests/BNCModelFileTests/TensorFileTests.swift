import BNCGraph
import Foundation
import Testing

@testable import BNCModelFile

/// Lone `TensorProto` files (ONNX's test-data `.pb`), with golden bytes from the `onnx`
/// package (1.23.2): `numpy_helper.from_array` and `helper.make_tensor`.
@Suite struct TensorFileTests {
    static func bytes(_ hex: String) -> [UInt8] {
        stride(from: 0, to: hex.count, by: 2).map { i in
            let s = hex.index(hex.startIndex, offsetBy: i)
            return UInt8(hex[s..<hex.index(s, offsetBy: 2)], radix: 16)!
        }
    }

    /// from_array(float32 [[1.5, -2, 3.25], [0, 1e-8, -0.0]], "input_0")
    static let float32 = bytes("0802080310014207696e7075745f304a180000c03f000000c0000050400000000077cc2b3200000080")
    /// from_array(int64 [[1, 2], [3, -4]], "x")
    static let int64 = bytes("0802080210074201784a20010000000000000002000000000000000300000000000000fcffffffffffffff")
    /// make_tensor("m", BOOL, [3], [True, False, True]): the values in int32_data.
    static let bool = bytes("080310092a0301000142016d")

    @Test func readsTheOnnxPackagesTensors() throws {
        let f = try TensorFile.decode(Self.float32, path: "input_0.pb")
        #expect(f.name == "input_0" && f.dims == [2, 3])
        #expect(f.floats?.map(\.bitPattern) == ([1.5, -2, 3.25, 0, 1e-8, -0.0] as [Float]).map(\.bitPattern))
        let i = try TensorFile.decode(Self.int64)
        #expect(i.name == "x" && i.dims == [2, 2] && i.int64s == [1, 2, 3, -4])
        let b = try TensorFile.decode(Self.bool)
        #expect(b.dims == [3] && b.bools == [true, false, true])
    }

    @Test func writesWhatTheOnnxPackageWritesForRawDataTensors() throws {
        // numpy_helper.from_array writes dims, data_type, name, raw_data: bnc's field order.
        #expect(TensorFile.encode(try TensorFile.decode(Self.float32)) == Self.float32)
        #expect(TensorFile.encode(try TensorFile.decode(Self.int64)) == Self.int64)
        // BOOL comes back as one raw byte per element.
        let b = try TensorFile.decode(TensorFile.encode(try TensorFile.decode(Self.bool)))
        #expect(b.bools == [true, false, true])
    }

    @Test func errorsNameTheFile() throws {
        func problem(_ bytes: [UInt8]) -> String? {
            do {
                _ = try TensorFile.decode(bytes, path: "t.pb")
                return nil
            } catch {
                return error.description
            }
        }
        // A FLOAT16 tensor (data_type 10) of 2 elements.
        #expect(problem([0x08, 2, 0x10, 10, 0x4A, 4, 0, 0, 0, 0]) == "t.pb: tensor '': has data_type FLOAT16; bnc reads FLOAT, INT64, INT32 and BOOL tensors")
        // dims [4] of FLOAT with 8 bytes of raw_data.
        #expect(problem([0x08, 4, 0x10, 1, 0x4A, 8, 0, 0, 0, 0, 0, 0, 0, 0]) == "t.pb: tensor '': raw_data has 8 bytes; dims [4] of FLOAT need 16")
        // raw_data declares 200 bytes, 3 remain.
        #expect(problem([0x08, 4, 0x10, 1, 0x4A, 200, 1, 0, 0, 0]) == "t.pb: byte 4: TensorProto.raw_data declares 200 bytes but only 3 remain (truncated or corrupt)")
        #expect(problem([]) == "t.pb: TensorProto: the file is empty")
        // A model is not a tensor.
        let model = ModelFile.encode(SampleModels.convDense())
        #expect(problem(model)?.hasPrefix("t.pb: ") == true)
    }

    @Test func savesAtomicallyAndLoadsBack() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bnc-tf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("output_0.pb").path
        let t = Tensor(name: "y", dims: [2, 1], int32s: [-7, 9])
        try TensorFile.save(t, to: path)
        #expect(try TensorFile.load(path: path) == t)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["output_0.pb"])
    }
}
