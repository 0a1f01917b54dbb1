import BNCModelFile
import Foundation
import Testing

/// The corrupt-input corpus (Tests/corrupt-corpus, written by tools/fixtures/make-corrupt-corpus): every
/// damaged model or IDX file, read by the command its manifest names, must give exit status 2
/// and exactly one line `bnc: <file>: <place>: <problem>` on stderr, within a memory limit.
@Suite struct CorruptCorpusTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var file: String
        /// bnc arguments, with {file} and {dir} still to fill in.
        var command: String
        /// The expected place, or "*" for any.
        var place: String
        var problem: String
        var testDescription: String { file }
    }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("corrupt-corpus")

    static let cases: [Case] = {
        guard let text = try? String(contentsOf: directory.appendingPathComponent("manifest.tsv"), encoding: .utf8) else { return [] }
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line in
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            return f.count == 4 ? Case(file: f[0], command: f[1], place: f[2], problem: f[3]) : nil
        }
    }()

    /// The address-space limit (ulimit -v, KiB) bnc runs under: 1 GiB. The corpus claims
    /// tensors of 4 TB, inputs of 8 GiB and IDX data of 1 TB; an allocation sized from any of
    /// them fails under it and bnc dies (a signal, not exit status 2). A healthy run needs
    /// about 30 MB resident plus OpenBLAS's 128 MiB buffer reservation (one thread). Not
    /// applied under a sanitizer, whose shadow memory needs terabytes of address space.
    static let memoryLimit = "export OPENBLAS_NUM_THREADS=1; ulimit -v 1048576"

    /// The valid files the cases read besides their own.
    static let baseFiles = ["tiny.pb", "images.idx"]

    @Test func manifestListsEveryFileAndTheIssuesList() throws {
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: Self.directory.path))
            .subtracting(["manifest.tsv", "README.md"] + Self.baseFiles)
        #expect(Set(Self.cases.map(\.file)) == files)
        #expect(Self.cases.count >= 100)
        // The categories of issue 7, each at least once.
        for prefix in ["trunc-", "bitflip-data-", "bitflip-length-", "bitflip-wiretype-", "dtype-", "dims-overflow",
                       "claims-1e12", "dims-negative", "nan-", "inf-", "dangling-", "cycle", "duplicate-", "unsupported-op",
                       "idx-wrong-magic", "idx-count-exceeds-file", "gz-bomb"] {
            #expect(Self.cases.contains { $0.file.hasPrefix(prefix) }, "no case \(prefix)*")
        }
    }

    /// The base files are valid, and tiny.pb's digest, computed by the generator in Python,
    /// matches bnc's: the bit-flip cases are caught by the digest, not by chance.
    @Test func baseFilesAreValid() throws {
        let out = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        let tiny = Self.directory.appendingPathComponent("tiny.pb").path
        let verify = try ChildProcess.runBNC(["verify", tiny], outputs: out)
        #expect(verify.status == 0 && verify.stdout.contains("tensors match sha256"), "\(verify.stdout)\(verify.stderr)")
        let infer = try ChildProcess.runBNC(["infer", tiny, Self.directory.appendingPathComponent("images.idx").path], outputs: out)
        #expect(infer.status == 0, "\(infer.stderr)")
        #expect(infer.stdout.split(separator: "\n").count == 6)  // 5 images + the summary
    }

    @Test(arguments: cases)
    func refusedWithOneLineWithinTheMemoryLimit(_ c: Case) throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        for name in Set(Self.baseFiles + [c.file]) {
            try FileManager.default.copyItem(at: Self.directory.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        let file = dir.appendingPathComponent(c.file).path
        let arguments = c.command.split(separator: " ").map {
            $0.replacingOccurrences(of: "{file}", with: file).replacingOccurrences(of: "{dir}", with: dir.path)
        }
        let r = ChildProcess.sanitized
            ? try ChildProcess.runBNC(arguments, outputs: out)
            : try ChildProcess.runBNC(arguments, shellSetup: Self.memoryLimit, outputs: out)
        #expect(r.status == 2, "exit \(r.status.map(String.init) ?? "signal \(r.signal ?? 0)"): \(r.stderr)")
        let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 2 && lines[1].isEmpty, "expected one line, got: \(r.stderr)")
        let line = String(lines.first ?? "")
        let prefix = "bnc: \(file): "
        #expect(line.hasPrefix(prefix), "\(line)")
        let rest = line.dropFirst(prefix.count)
        if c.place == "*" {
            let parts = rest.split(separator: ":", maxSplits: 1)
            #expect(parts.count == 2 && !parts[0].isEmpty && parts[1].count > 1, "no place: \(line)")
        } else {
            #expect(rest.hasPrefix("\(c.place): "), "expected place '\(c.place)': \(line)")
        }
        #expect(rest.contains(c.problem), "expected '\(c.problem)': \(line)")
        #expect(r.stdout.isEmpty, "\(r.stdout)")
        // A refused input writes nothing.
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("folded.pb").path))
    }
}
