import Foundation
import Testing

@testable import BNCData

/// `.npz` archives read back by a minimal zip reader written here from the zip
/// specification (APPNOTE 4.3.7 local header, 4.3.12 central directory, 4.3.16 end record).
@Suite struct NPZFileTests {
    struct Member { var name: String; var data: [UInt8]; var crc: UInt32; var flags: UInt16 }

    static func u16(_ b: [UInt8], _ at: Int) -> Int { Int(b[at]) | Int(b[at + 1]) << 8 }
    static func u32(_ b: [UInt8], _ at: Int) -> Int { u16(b, at) | u16(b, at + 2) << 16 }

    /// Members via the central directory, each checked against its local header.
    static func members(_ zip: [UInt8]) throws -> [Member] {
        let end = zip.count - 22
        try #require(u32(zip, end) == 0x0605_4B50, "end of central directory record")
        let entries = u16(zip, end + 10), size = u32(zip, end + 12), offset = u32(zip, end + 16)
        #expect(offset + size == end)
        var out: [Member] = []
        var at = offset
        for _ in 0..<entries {
            try #require(u32(zip, at) == 0x0201_4B50)
            let flags = UInt16(u16(zip, at + 8))
            #expect(u16(zip, at + 10) == 0, "stored")
            let crc = UInt32(u32(zip, at + 16)), csize = u32(zip, at + 20), usize = u32(zip, at + 24)
            #expect(csize == usize)
            let nameLength = u16(zip, at + 28), extra = u16(zip, at + 30), comment = u16(zip, at + 32)
            let local = u32(zip, at + 42)
            let name = String(decoding: zip[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self)
            try #require(u32(zip, local) == 0x0403_4B50)
            #expect(UInt32(u32(zip, local + 14)) == crc && u32(zip, local + 18) == csize)
            let localName = u16(zip, local + 26), localExtra = u16(zip, local + 28)
            let start = local + 30 + localName + localExtra
            out.append(Member(name: name, data: Array(zip[start..<(start + csize)]), crc: crc, flags: flags))
            at += 46 + nameLength + extra + comment
        }
        return out
    }

    @Test func crc32IsZlibs() {
        #expect(NPZFile.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(NPZFile.crc32([]) == 0)
    }

    @Test func membersAreTheNpyFilesUnderTheirNames() throws {
        let arrays: [(name: String, array: NumericArray)] = [
            ("y", NumericArray(dims: [2, 2], elements: .float32([1, 2, 3, 4]))),
            ("indices", NumericArray(dims: [3], elements: .int64([0, -1, 7]))),
            ("größe", NumericArray(dims: [], elements: .bool([true]))),
        ]
        let archive = try NPZFile.encoded(arrays, path: "out.npz")
        let members = try Self.members(archive)
        #expect(members.map(\.name) == ["y.npy", "indices.npy", "größe.npy"])
        #expect(members.map(\.flags) == [0, 0, 0x0800])
        for (m, a) in zip(members, arrays) {
            #expect(m.data == NPYFile.encoded(a.array))
            #expect(m.crc == NPZFile.crc32(m.data))
            #expect(try NPYFile.parse(m.data, path: m.name) == a.array)
        }
        // Deterministic: no clock in the archive.
        #expect(try NPZFile.encoded(arrays, path: "out.npz") == archive)
    }

    @Test func refusesDuplicateAndEmptyNames() throws {
        let a = NumericArray(dims: [1], elements: .float32([1]))
        #expect(dataError { try NPZFile.encoded([("x", a), ("x", a)], path: "o.npz") }?.description == "o.npz: array 'x': two arrays have this name")
        #expect(dataError { try NPZFile.encoded([("", a)], path: "o.npz") }?.description == "o.npz: an array has an empty name")
    }

    @Test func emptyArchiveIsValid() throws {
        let archive = try NPZFile.encoded([], path: "e.npz")
        #expect(archive.count == 22)
        #expect(try Self.members(archive).isEmpty)
    }
}
