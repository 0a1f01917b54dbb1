import BNCFileSystem
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// File names are bytes: every byte string survives bytes → String → bytes, and a file whose
/// name is not UTF-8 opens through `withCString`.
@Suite struct BytePathTests {
    @Test(arguments: [
        [UInt8](), Array("model.pb".utf8), Array("café.pb".utf8), [0x63, 0x61, 0x66, 0xE9, 0x2E, 0x70, 0x62],  // Latin-1 é
        [0xFF], [0x80, 0x80], [0xC0, 0xAF],  // overlong '/'
        [0xED, 0xA0, 0x80],  // a UTF-16 surrogate in UTF-8
        [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
        Array("\u{EF80}\u{EFFF}".utf8),  // valid UTF-8 of the escape scalars themselves
        [0xE2, 0x82],  // a cut sequence
    ])
    func everyByteStringRoundTrips(_ bytes: [UInt8]) {
        let text = BytePath.string(bytes)
        #expect(BytePath.bytes(text) == bytes)
        #expect(BytePath.hasEscapes(text) == (String(validating: bytes, as: UTF8.self) == nil || bytes.count == 6 && bytes[0] == 0xEE))
    }

    @Test func validUTF8IsKeptAsText() {
        #expect(BytePath.string(Array("naïve/模型.pb".utf8)) == "naïve/模型.pb")
        #expect(!BytePath.hasEscapes("naïve/模型.pb"))
    }

    @Test func allTwoByteStringsRoundTrip() {
        for a in 0..<256 {
            for b in 0..<256 {
                let bytes = [UInt8(a), UInt8(b)]
                #expect(BytePath.bytes(BytePath.string(bytes)) == bytes)
            }
        }
    }

    @Test func aNonUTF8NameOpens() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bnc-bytes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let name = BytePath.string(Array(dir.path.utf8) + Array("/x\u{E9}".utf8).dropLast(2) + [0xE9, 0x2E, 0x70, 0x62])
        let fd = BytePath.withCString(name) { open($0, O_WRONLY | O_CREAT | O_EXCL, 0o644) }
        #expect(fd >= 0)
        close(fd)
        // The directory listing has the raw byte 0xE9, not its UTF-8 spelling.
        let listed = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(listed.count == 1)
        #expect(BytePath.status(name) != nil)
        #expect(BytePath.split(name).name == BytePath.string([0x78, 0xE9, 0x2E, 0x70, 0x62]))
    }

    @Test func sameComparesBytesNotCanonicalEquivalence() {
        #expect("\u{E9}" == "e\u{301}")
        #expect(!BytePath.same("\u{E9}", "e\u{301}"))
        #expect(BytePath.same("a/b", "a/b"))
    }
}
