import Foundation
import Testing

/// Byte paths (issue 19, row 10): a file name that is not UTF-8 is passed through as its
/// bytes, to the kernel and back in messages.
@Suite struct ByteNameTests {
    @Test func namesThatAreNotUTF8() throws {
        let f = try NothingLostTests.Folder()
        defer { f.cleanUp() }
        try FileManager.default.copyItem(atPath: NothingLostTests.repository.appendingPathComponent("models/toy-regression.pb").path, toPath: f.path("m.pb"))
        // caf\xE9 (Latin-1 é), out\xFF; each step's exit status is checked by the script.
        let script = """
            cd '\(f.work.path)' || exit 20
            in=$(printf 'caf\\351.pb'); out=$(printf 'out\\377.pb'); missing=$(printf 'missing\\351.pb')
            cp m.pb "$in" || exit 21
            "$0" inspect "$in" > /dev/null || exit 10
            "$0" convert "$in" -o "$out" > convert.txt || exit 11
            test -f "$out" || exit 12
            "$0" fold "$in" --random-probes 5 > /dev/null || exit 13
            test -f "$(printf 'caf\\351.folded.pb')" || exit 14
            "$0" train --dataset toy --epochs 1 -o "$(printf 'train\\351.pb')" > /dev/null || exit 15
            test -f "$(printf 'train\\351.pb')" || exit 16
            "$0" inspect "$missing" 2> missing.txt; test $? -eq 2 || exit 17
            "$0" fold "$in" --random-probes 5 --json -o folded.pb > fold.json || exit 18
            exit 0
            """
        let r = try CLISupport.runShell(script, outputs: f.logs)
        #expect(r.status == 0, "step \(String(describing: r.status)) failed: \(r.stderr)")
        // Messages carry the original bytes, not U+FFFD or the escape scalars.
        let missing = try #require(f.bytes("missing.txt"))
        #expect(missing.starts(with: Data("bnc: missing".utf8) + Data([0xE9]) + Data(".pb: cannot open".utf8)), "\(Array(missing.prefix(30)))")
        // JSON stays UTF-8: the name's byte is escaped (\uefe9) and reads back as the same name.
        let json = try #require(f.bytes("fold.json"))
        #expect(String(data: json, encoding: .utf8) != nil, "fold --json is not UTF-8")
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect((object["model"] as? String)?.hasSuffix("caf\u{EFE9}.pb") == true, "\(String(describing: object["model"]))")
        let converted = try #require(f.bytes("convert.txt"))
        #expect(converted.starts(with: Data("wrote out".utf8) + Data([0xFF]) + Data(".pb (".utf8)))
    }
}
