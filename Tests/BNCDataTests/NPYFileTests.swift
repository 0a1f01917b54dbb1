import Foundation
import Testing

@testable import BNCData

/// `.npy` read (numpy's own bytes as golden input) and write (read back, header rules).
@Suite struct NPYFileTests {
    static func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            out.append(UInt8(hex[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    /// `numpy.save` (numpy 2.4.6) of float32 [[1.5, -2, 3.25], [0, 1e-8, -0.0]].
    static let numpyFloat32 = bytes(
        "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d"
            + String(repeating: "20", count: 58) + "0a" + "0000c03f000000c0000050400000000077cc2b3200000080")
    /// int64 [-1, 2^40].
    static let numpyInt64 = bytes(
        "934e554d5059010076007b276465736372273a20273c6938272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c292c207d"
            + String(repeating: "20", count: 60) + "0a" + "ffffffffffffffff0000000000010000")
    /// bool scalar True.
    static let numpyBoolScalar = bytes(
        "934e554d5059010076007b276465736372273a20277c6231272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028292c207d"
            + String(repeating: "20", count: 62) + "0a" + "01")
    /// uint8 arange(5) with shape (1, 5).
    static let numpyUInt8 = bytes(
        "934e554d5059010076007b276465736372273a20277c7531272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028312c2035292c207d"
            + String(repeating: "20", count: 58) + "0a" + "0001020304")

    @Test func readsNumpysOwnFiles() throws {
        let f = try NPYFile.parse(Self.numpyFloat32, path: "f.npy")
        #expect(f.dims == [2, 3])
        #expect(f.elements == .float32([1.5, -2, 3.25, 0, 1e-8, -0.0]))
        guard case .float32(let v) = f.elements else { return }
        #expect(v[5].bitPattern == (-0.0 as Float).bitPattern)
        let i = try NPYFile.parse(Self.numpyInt64, path: "i.npy")
        #expect(i.dims == [2] && i.elements == .int64([-1, 1 << 40]))
        let b = try NPYFile.parse(Self.numpyBoolScalar, path: "b.npy")
        #expect(b.dims == [] && b.elements == .bool([true]))
        let u = try NPYFile.parse(Self.numpyUInt8, path: "u.npy")
        #expect(u.dims == [1, 5] && u.elements == .uint8([0, 1, 2, 3, 4]))
        #expect(u.floatValues() == [0, 1, 2, 3, 4] && u.integerValues == [0, 1, 2, 3, 4])
    }

    static let everyType: [NumericArray] = [
        NumericArray(dims: [2, 2], elements: .float32([1, -0.5, .infinity, .nan])),
        NumericArray(dims: [3], elements: .float64([0.1, -1e300, 5])),
        NumericArray(dims: [1, 1, 3], elements: .int8([-128, 0, 127])),
        NumericArray(dims: [2], elements: .uint8([0, 255])),
        NumericArray(dims: [2], elements: .int16([-32768, 32767])),
        NumericArray(dims: [2], elements: .int32([.min, .max])),
        NumericArray(dims: [], elements: .int64([.min])),
        NumericArray(dims: [0, 3], elements: .bool([])),
        NumericArray(dims: [4], elements: .bool([true, false, false, true])),
    ]

    @Test(arguments: everyType)
    func writtenFilesReadBackAndAlignTheDataTo64Bytes(array: NumericArray) throws {
        let bytes = NPYFile.encoded(array)
        let back = try NPYFile.parse(bytes, path: "rt.npy")
        #expect(back.dims == array.dims)
        // Compare bit patterns (NaN != NaN).
        #expect(NPYFile.encoded(back) == bytes)
        #expect(back.elements.typeName == array.elements.typeName)
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        #expect((10 + headerLength) % 64 == 0)
        #expect(bytes[10 + headerLength - 1] == 0x0A)
        #expect(Array(bytes[6..<8]) == [1, 0])
    }

    @Test func writesTheHeaderNumpyWrites() throws {
        let bytes = NPYFile.encoded(NumericArray(dims: [2, 3], elements: .float32([1.5, -2, 3.25, 0, 1e-8, -0.0])))
        let header = String(decoding: bytes[10..<128], as: UTF8.self)
        #expect(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"))
        #expect(bytes.count == 128 + 24)
        #expect(Array(bytes[128...]) == Array(Self.numpyFloat32[128...]))
        let one = NPYFile.encoded(NumericArray(dims: [3], elements: .int64([1, 2, 3])))
        #expect(String(decoding: one[10..<128], as: UTF8.self).contains("'shape': (3,), }"))
        let scalar = NPYFile.encoded(NumericArray(dims: [], elements: .float32([2])))
        #expect(String(decoding: scalar[10..<128], as: UTF8.self).contains("'shape': (), }"))
    }

    /// A version-`major` file with header `dict` (padded) and `data`.
    static func file(_ dict: String, major: UInt8 = 1, data: [UInt8]) -> [UInt8] {
        let lengthBytes = major == 1 ? 2 : 4
        var header = Array(dict.utf8)
        let total = (6 + 2 + lengthBytes + header.count + 1 + 63) / 64 * 64
        header += [UInt8](repeating: 0x20, count: total - 8 - lengthBytes - header.count - 1) + [0x0A]
        var out = NPYFile.magic + [major, 0]
        let n = header.count
        out += lengthBytes == 2 ? [UInt8(n & 0xFF), UInt8(n >> 8)] : [UInt8(n & 0xFF), UInt8(n >> 8), 0, 0]
        return out + header + data
    }

    @Test func versions2And3AndKeyOrderAndPython2Longs() throws {
        let data: [UInt8] = [1, 0, 2, 0]
        let v2 = Self.file("{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }", major: 2, data: data)
        #expect(try NPYFile.parse(v2, path: "v2").elements == .int16([1, 2]))
        let v3 = Self.file("{\"shape\": (2L,), \"fortran_order\": False, \"descr\": \"<i2\"}", major: 3, data: data)
        #expect(try NPYFile.parse(v3, path: "v3").elements == .int16([1, 2]))
    }

    @Test func refusesWhatItDoesNotReadByName() throws {
        func problem(_ bytes: [UInt8]) -> String? { dataError { try NPYFile.parse(bytes, path: "x.npy") }?.description }
        let d4 = [UInt8](repeating: 0, count: 4)
        #expect(problem(Self.file("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", data: d4))
            == "x.npy: byte 10: dtype '>f4' is big-endian float32; bnc reads little-endian ('<f4')")
        #expect(problem(Self.file("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", data: d4))
            == "x.npy: byte 10: dtype '<f2' (float16) is not one bnc reads; bnc reads little-endian f4, f8, i1, u1, i2, i4, i8 and bool")
        #expect(problem(Self.file("{'descr': '<U3', 'fortran_order': False, 'shape': (), }", data: [UInt8](repeating: 0, count: 12)))?.contains("(strings) is not one bnc reads") == true)
        #expect(problem(Self.file("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", data: d4))
            == "x.npy: byte 10: the array is in Fortran (column-major) order; bnc reads C order (numpy.ascontiguousarray before numpy.save)")
        #expect(problem(Self.file("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", data: d4))?.contains("expected a string, True, False or a tuple") == true)
        #expect(problem(Self.file("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 'y', }", data: d4))?.contains("unexpected key 'x'") == true)
        #expect(problem(Self.file("{'descr': '<f4', 'shape': (1,), }", data: d4)) == "x.npy: byte 10: npy header lacks fortran_order")
        let bools = Self.file("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", data: [0, 1, 7])
        #expect(problem(bools) == "x.npy: byte \(bools.count - 1): bool element 2 is 7; a bool is 0 or 1")
        #expect(problem([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 4, 0, 0, 0]) == "x.npy: byte 6: format version 4.0 is not one bnc reads (1.0, 2.0, 3.0)")
        #expect(problem(Array("not numpy at all".utf8))?.hasPrefix("x.npy: byte 0: not an .npy file") == true)
    }

    @Test func sizesAreCheckedBeforeAllocating() throws {
        func problem(_ bytes: [UInt8]) -> String? { dataError { try NPYFile.parse(bytes, path: "s.npy") }?.description }
        // 10^12 float64 claimed, 8 bytes present.
        #expect(problem(Self.file("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000), }", data: [UInt8](repeating: 0, count: 8)))
            == "s.npy: header: shape [1000000, 1000000] of float64 needs 8000000000000 bytes of data; the file has 8 after the header (truncated)")
        #expect(problem(Self.file("{'descr': '<i8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", data: []))
            == "s.npy: header: shape [4294967296, 4294967296] overflows: its product does not fit in a 64-bit integer")
        let trailing = Self.file("{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }", data: [1, 0, 0, 0, 9])
        #expect(problem(trailing) == "s.npy: byte \(trailing.count - 1): 1 bytes follow the 4 bytes of data that shape [1] of int32 needs (trailing data)")
        // A header length beyond the file.
        #expect(problem(NPYFile.magic + [1, 0, 0xFF, 0xFF]) == "s.npy: byte 8: header length 65535 runs past the end of the file (10 bytes)")
        #expect(problem(NPYFile.magic + [1, 0]) == "s.npy: byte 8: the file ends inside the header length (8 bytes)")
    }

    @Test func readsFromDisk() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("a.npy")
        try write(Self.numpyFloat32, to: url)
        #expect(try NPYFile.read(path: url.path) == NPYFile.parse(Self.numpyFloat32, path: "mem"))
        #expect(dataError { try NPYFile.read(path: folder.path) }?.problem == "is a directory; expected a data file")
    }
}
