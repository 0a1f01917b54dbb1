import Foundation
import Testing

/// Nothing is lost at the system-call level (issue 19, test strength): the temporary file is
/// fsynced before it is renamed over the target, and the folder is fsynced after the rename.
/// Only strace sees it: the files look the same either way until the machine loses power.
@Suite struct FsyncOrderTests {
    static let strace = "/usr/bin/strace"
    /// Whether strace can trace here (installed, and ptrace allowed).
    static let available: Bool = {
        guard FileManager.default.isExecutableFile(atPath: strace), let f = try? NothingLostTests.Folder() else { return false }
        defer { f.cleanUp() }
        let r = try? ChildProcess.spawn(strace, ["-o", f.path("log"), "/bin/true"], outputs: f.logs).wait()
        return r?.status == 0
    }()

    /// The system calls of `bnc arguments…` (main thread) that decide durability.
    static func trace(_ arguments: [String], in f: NothingLostTests.Folder) throws -> [String] {
        let r = try ChildProcess.spawn(
            strace, ["-e", "trace=openat,open,fsync,fdatasync,linkat,rename,renameat,renameat2,close", "-o", f.path("trace"),
                     CLIRunner.executable.path] + arguments, outputs: f.logs).wait()
        #expect(r.status == 0, "\(r.stderr)")
        return (try String(contentsOfFile: f.path("trace"), encoding: .utf8)).split(separator: "\n").map(String.init)
    }

    @Test(.enabled(if: available, "needs strace and ptrace"), arguments: ["convert", "fold"])
    func theTemporaryFileIsFsyncedBeforeTheRenameAndTheFolderAfter(_ command: String) throws {
        let f = try NothingLostTests.Folder()
        defer { f.cleanUp() }
        try FileManager.default.copyItem(atPath: NothingLostTests.repository.appendingPathComponent("models/toy-regression.pb").path,
                                         toPath: f.path("m.pb"))
        let out = f.path("out.pb")
        let args = command == "convert" ? ["convert", f.path("m.pb"), "-o", out] : ["fold", f.path("m.pb"), "--random-probes", "5", "-o", out]
        let lines = try Self.trace(args, in: f)
        func fd(_ line: String) -> String? { line.range(of: "= ").map { String(line[$0.upperBound...].prefix { $0.isNumber }) } }
        // The temporary file: unnamed (O_TMPFILE) or .out.pb.tmp-PID.
        let open = try #require(lines.firstIndex { $0.hasPrefix("open") && ($0.contains("O_TMPFILE") || $0.contains(".out.pb.tmp-")) && !$0.contains("= -1") },
                                "no temporary file opened:\n\(lines.suffix(20).joined(separator: "\n"))")
        let temp = try #require(fd(lines[open]))
        let rename = try #require(lines.firstIndex { $0.hasPrefix("rename") && $0.contains("\"\(out)\"") }, "no rename over \(out)")
        let sync = lines[open..<rename].firstIndex { $0.hasPrefix("fsync(\(temp))") || $0.hasPrefix("fdatasync(\(temp))") }
        #expect(sync != nil, "the temporary file (fd \(temp)) is not fsynced before the rename:\n\(lines[open...rename].joined(separator: "\n"))")
        // The folder: opened as a directory after the rename and fsynced.
        let dir = lines[rename...].firstIndex { $0.hasPrefix("open") && $0.contains("O_DIRECTORY") && !$0.contains("= -1") }
        let dirSynced = dir.flatMap { d in fd(lines[d]).map { n in lines[d...].contains { $0.hasPrefix("fsync(\(n))") } } } ?? false
        #expect(dirSynced, "the folder is not fsynced after the rename:\n\(lines[rename...].prefix(10).joined(separator: "\n"))")
    }
}
