import BNCModelFile
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The output-path policy (issue 19, rows 1, 2, 3, 8, 17): every output is checked before any
/// work, against the inputs and the other outputs, and locked; a device or pipe is written
/// into, a link through; Ctrl-C says what was kept.
@Suite struct OutputPathTests {
    typealias Folder = NothingLostTests.Folder
    static let toyModel = NothingLostTests.repository.appendingPathComponent("models/toy-regression.pb")

    func fileType(_ path: String) -> mode_t? {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mode & S_IFMT : nil
    }

    /// Row 1: a FIFO and (as root) a character device made with mknod (/dev/null's numbers)
    /// stay what they are and get the bytes; nothing is created beside them. Never the
    /// system's /dev/null itself: a binary with the bug replaces it for the whole machine.
    @Test func devicesAndPipesAreWrittenIntoNotReplaced() throws {
        let f = try Folder()
        defer { f.cleanUp() }
        try f.put(try Data(contentsOf: Self.toyModel), "m.pb")
        let expected = Data(ModelFile.encode(try ModelFile.load(path: f.path("m.pb"))))

        #expect(mkfifo(f.path("pipe"), 0o644) == 0)
        let received = ReceivedBytes()
        let pipePath = f.path("pipe")
        let reader = Thread {
            // open(2) waits for the writer; read(2) to its end.
            let fd = open(pipePath, O_RDONLY)
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while fd >= 0 {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                bytes += chunk[0..<n]
            }
            close(fd)
            received.data = Data(bytes)
        }
        reader.start()
        let piped = try ChildProcess.runBNC(["convert", f.path("m.pb"), "-o", f.path("pipe")], outputs: f.logs)
        #expect(piped.status == 0, "\(piped.stderr)")
        let deadline = Date().addingTimeInterval(30)
        while received.data == nil && Date() < deadline { usleep(1000) }
        #expect(received.data == expected)
        #expect(fileType(f.path("pipe")) == S_IFIFO)

        if getuid() == 0 {
            // /dev/null's numbers (1, 3) in a file of our own: the issue's `mknod n c 1 3`.
            #expect(mknod(f.path("n"), S_IFCHR | 0o666, dev_t(1 << 8 | 3)) == 0)
            for command in [["convert", f.path("m.pb"), "-o", f.path("n")], ["fold", f.path("m.pb"), "--random-probes", "5", "-o", f.path("n")]] {
                let r = try ChildProcess.runBNC(command, outputs: f.logs)
                #expect(r.status == 0, "\(command[0]): \(r.stderr)")
                #expect(fileType(f.path("n")) == S_IFCHR, "\(command[0]) replaced the device")
            }
        }
        #expect(f.listing().subtracting(["n"]) == ["m.pb", "pipe"])
    }

    final class ReceivedBytes: @unchecked Sendable {
        var data: Data?
    }

    /// A symbolic link as -o is written through: the link stays, its target gets the bytes
    /// (created when missing, replaced atomically when present).
    @Test func aSymbolicLinkIsWrittenThrough() throws {
        let f = try Folder()
        defer { f.cleanUp() }
        try f.put(try Data(contentsOf: Self.toyModel), "m.pb")
        #expect(symlink("target.pb", f.path("link.pb")) == 0)
        for round in 0..<2 {
            let r = try ChildProcess.runBNC(["convert", f.path("m.pb"), "-o", f.path("link.pb")], outputs: f.logs)
            #expect(r.status == 0, "round \(round): \(r.stderr)")
            #expect(fileType(f.path("link.pb")) == S_IFLNK)
            #expect(fileType(f.path("target.pb")) == S_IFREG)
            #expect(throws: Never.self) { try ModelFile.load(path: f.path("target.pb")) }
        }
        #expect(f.listing() == ["m.pb", "link.pb", "target.pb"])
        // A link into a folder that does not exist: refused, one line.
        #expect(symlink("nowhere/x.pb", f.path("dangling.pb")) == 0)
        let r = try ChildProcess.runBNC(["convert", f.path("m.pb"), "-o", f.path("dangling.pb")], outputs: f.logs)
        CLISupport.expectOneLine(r, prefix: "bnc: \(f.path("dangling.pb")): ", "does not exist")
    }

    /// Row 2: model and checkpoint as one file, however spelled, are refused before training.
    @Test(arguments: ["same.pb", "./same.pb", "hard.pb"])
    func theModelAndItsCheckpointAreTwoFiles(_ checkpoint: String) throws {
        let f = try Folder()
        defer { f.cleanUp() }
        try f.put(Data("old".utf8), "same.pb")
        #expect(link(f.path("same.pb"), f.path("hard.pb")) == 0)
        let r = try ChildProcess.runBNC(
            ["train", "--dataset", "toy", "--epochs", "2", "-o", f.path("same.pb"), "--checkpoint", f.work.path + "/" + checkpoint], outputs: f.logs)
        CLISupport.expectOneLine(r, prefix: "bnc: ", "--checkpoint names the same file as -o")
        #expect(r.stdout.isEmpty, "training started: \(r.stdout)")
        #expect(f.listing() == ["same.pb", "hard.pb"] && f.bytes("same.pb") == Data("old".utf8))
    }

    /// Row 3: a folder, a missing folder or a read-only file as -o or --checkpoint is refused
    /// at once (before any epoch), leaving nothing.
    @Test(arguments: [
        (["-o", "somedir"], "is a directory; give a file name"),
        (["-o", "missing/x.pb"], "directory '"),
        (["--checkpoint", "missing/x.ckpt"], "directory '"),
        (["-o", "readonly.pb"], "is read-only"),
    ])
    func outputsAreCheckedBeforeTraining(_ flags: [String], _ fragment: String) throws {
        let f = try Folder()
        defer { f.cleanUp() }
        try FileManager.default.createDirectory(at: f.work.appendingPathComponent("somedir"), withIntermediateDirectories: true)
        try f.put(Data("keep".utf8), "readonly.pb")
        chmod(f.path("readonly.pb"), 0o444)
        let before = f.listing()
        let args = ["train", "--dataset", "toy", "--epochs", "50"] + [flags[0], f.path(flags[1])]
        let r = try ChildProcess.runBNC(args, outputs: f.logs)
        CLISupport.expectOneLine(r, prefix: "bnc: ", fragment)
        #expect(r.stdout.isEmpty, "training started: \(r.stdout)")
        #expect(f.listing() == before)
    }

    /// No output may be an input: fold's probe images, train's data files.
    @Test func inputsAreNeverOutputs() throws {
        let f = try Folder()
        defer { f.cleanUp() }
        try f.put(try Data(contentsOf: Self.toyModel), "m.pb")
        try f.put(Data([0, 0, 0x0D, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]), "probe.idx")
        let fold = try ChildProcess.runBNC(["fold", f.path("m.pb"), "--data", f.path("probe.idx"), "-o", f.path("probe.idx")], outputs: f.logs)
        CLISupport.expectOneLine(fold, prefix: "bnc: \(f.path("probe.idx")): ", "-o names the probe images (--data)")
        let data = f.work.appendingPathComponent("mnist")
        try CLISupport.writeMNISTFolder(data)
        let target = data.appendingPathComponent("train-images-idx3-ubyte").path
        let before = FileManager.default.contents(atPath: target)
        let train = try ChildProcess.runBNC(["train", "--data", data.path, "--arch", "d8-bn-relu-d10", "--epochs", "1", "-o", target], outputs: f.logs)
        CLISupport.expectOneLine(train, prefix: "bnc: \(target): ", "-o names the data file")
        #expect(FileManager.default.contents(atPath: target) == before)
    }

    /// Row 8: a folder as the report's -o is refused; nothing is written beside it.
    @Test func reportRefusesAFolderAsOutput() throws {
        let f = try Folder()
        defer { f.cleanUp() }
        let made = try ChildProcess.runBNC(["train", "--dataset", "toy", "--compare", "--epochs", "2", "-o", f.path("c.pb")], outputs: f.logs)
        try #require(made.status == 0, "\(made.stderr)")
        try FileManager.default.createDirectory(at: f.work.appendingPathComponent("somedir"), withIntermediateDirectories: true)
        let before = f.listing()
        for out in [f.path("somedir"), f.path("somedir") + "/", f.work.path] {
            let r = try ChildProcess.runBNC(["report", f.path("c.compare.json"), "-o", out], outputs: f.logs)
            CLISupport.expectOneLine(r, prefix: "bnc: \(out): ", "is a directory; give the report's file name")
            #expect(f.listing() == before)
            #expect(CLISupport.listing(f.root).subtracting(["work", "logs"]).isEmpty, "written beside the folder")
        }
    }

    /// Row 17: a second writer of the same model or checkpoint fails at once naming the first;
    /// Ctrl-C then stops the first with one line naming the kept checkpoint, and releases its
    /// locks.
    @Test func aSecondWriterFailsAtOnceAndCtrlCSaysWhatIsKept() throws {
        let f = try Folder()
        defer { f.cleanUp() }
        let firstLogs = f.root.appendingPathComponent("first")
        try FileManager.default.createDirectory(at: firstLogs, withIntermediateDirectories: true)
        let first = try ChildProcess.spawn(
            CLIRunner.executable.path, ["train", "--dataset", "toy", "--epochs", "1000000", "-o", f.path("same.pb")], outputs: firstLogs)
        #expect(first.waitForOutput(containing: "epoch 2/"), "the first run never reached epoch 2")
        for flags in [["-o", f.path("same.pb")], ["-o", f.path("other.pb"), "--checkpoint", f.path("same.pb.ckpt")]] {
            let second = try ChildProcess.runBNC(["train", "--dataset", "toy", "--epochs", "2"] + flags, outputs: f.logs)
            CLISupport.expectOneLine(second, prefix: "bnc: ", "another bnc is writing this file (pid \(first.pid): bnc train --dataset toy --epochs 1000000")
            #expect(second.stdout.isEmpty)
        }
        first.interrupt()
        let stopped = try first.wait()
        CLISupport.expectOneLine(stopped, status: 130, prefix: "bnc: interrupted; kept the checkpoint \(f.path("same.pb.ckpt")) (epoch ",
                                 "of 1000000 done); run the same command with --resume to continue")
        #expect(f.listing() == ["same.pb.ckpt"], "\(f.listing())")
        let checkpoint = try ModelFile.load(path: f.path("same.pb.ckpt"))
        let epochs = Int(checkpoint[metadata: "bnc.checkpoint.epochs_completed"] ?? "") ?? 0
        #expect(stopped.stderr.contains("(epoch \(epochs) of 1000000 done)"), "the line names another epoch than the checkpoint's \(epochs)")
        // The locks are gone: a new writer starts.
        let again = try ChildProcess.runBNC(["train", "--dataset", "toy", "--epochs", "2", "-o", f.path("same.pb")], outputs: f.logs)
        #expect(again.status == 0, "\(again.stderr)")
    }
}

extension ChildProcess {
    func interrupt() { _ = Glibc.kill(pid, SIGINT) }
}
