import BNCGraph
import BNCModelFile
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Nothing is lost: bnc killed with SIGKILL at many points leaves every file it had either
/// as it was or complete (and no temporary file); a resumed training run ends with the same
/// bytes as an uninterrupted one; failed writes (missing folder, read-only target, full disk)
/// say so in one line and change nothing.
@Suite struct NothingLostTests {
    /// A folder for one test: `work` for bnc's files, `logs` for the child's stdout/stderr.
    struct Folder {
        let root: URL
        var work: URL { root.appendingPathComponent("work") }
        var logs: URL { root.appendingPathComponent("logs") }
        init() throws {
            root = try CLIRunner.temporaryDirectory()
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        }
        func path(_ name: String) -> String { work.appendingPathComponent(name).path }
        func bytes(_ name: String) -> Data? { FileManager.default.contents(atPath: path(name)) }
        func put(_ data: Data, _ name: String) throws { try data.write(to: work.appendingPathComponent(name)) }
        func remove(_ name: String) { try? FileManager.default.removeItem(atPath: path(name)) }
        /// Every file in `work`, temporary ones (".NAME.tmp-PID") included.
        func listing() -> Set<String> { Set((try? FileManager.default.contentsOfDirectory(atPath: work.path)) ?? []) }
        func cleanUp() { try? FileManager.default.removeItem(at: root) }
    }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Kill points. Training: at start, then as each of its 20 epochs is reported (the
    /// checkpoint of that epoch is written right after the line), with 0–1.5 ms of delay
    /// so that kills land before, inside and after the write; then on the last line.
    /// Fold prints nothing until it is done, so its kills are spread over an uninterrupted
    /// run's duration instead.
    static let trainEpochs = 20
    static let foldKills = 16

    @Test func trainingKilledAtManyPointsResumesToTheSameBytes() throws {
        let f = try Folder()
        defer { f.cleanUp() }
        let train = ["train", "--dataset", "toy", "--epochs", "\(Self.trainEpochs)", "--seed", "4", "--activation", "tanh"]
        let full = try ChildProcess.runBNC(train + ["-o", f.path("reference.pb")], outputs: f.logs)
        #expect(full.status == 0, "\(full.stderr)")
        let reference = try #require(f.bytes("reference.pb"))
        // The previous model at the output path: another seed's, which a kill must not damage.
        let previousRun = try ChildProcess.runBNC(["train", "--dataset", "toy", "--epochs", "2", "--seed", "9", "-o", f.path("previous.pb")], outputs: f.logs)
        #expect(previousRun.status == 0)
        let previous = try #require(f.bytes("previous.pb"))

        // (the stdout text to wait for, or nil: kill at once) and the delay after it, µs.
        var points: [(String?, UInt32)] = [(nil, 0)]
        for epoch in 1...Self.trainEpochs { points.append(("epoch \(epoch)/\(Self.trainEpochs) ", UInt32(epoch % 4) * 500)) }
        points.append((" → ", 0))  // the last line, printed once the model is written
        var resumed = 0
        for (k, (marker, delay)) in points.enumerated() {
            f.remove("run.pb.ckpt")
            try f.put(previous, "run.pb")
            let child = try ChildProcess.spawn(CLIRunner.executable.path, train + ["-o", f.path("run.pb")], outputs: f.logs)
            if let marker {
                #expect(child.waitForOutput(containing: marker), "kill \(k): never printed '\(marker)'")
            }
            usleep(delay)
            child.kill()
            _ = try child.wait()

            // No other file, and no temporary file unless it is complete: a kill between
            // naming the finished temporary file and renaming it leaves that one.
            let strays = try completeTemporaries(f, pid: child.pid, k: k)
            let locks = staleLocks(f, k: k)
            let files = f.listing().subtracting(["reference.pb", "previous.pb"]).subtracting(strays).subtracting(locks)
            #expect(files.isSubset(of: ["run.pb", "run.pb.ckpt"]), "kill \(k): \(files.sorted())")
            // The model is the previous one untouched, or the finished one.
            let model = f.bytes("run.pb")
            #expect(model == previous || model == reference, "kill \(k): run.pb is neither the previous nor the finished model")
            // Once epoch e is reported, the checkpoint of epoch e − 1 (at least) is on disk.
            if k >= 2 && k <= Self.trainEpochs {
                #expect(files.contains("run.pb.ckpt"), "kill \(k): no checkpoint after epoch \(k - 1) was reported")
            }
            guard files.contains("run.pb.ckpt") else {
                if !strays.isEmpty {
                    // The next write to the same target removes it.
                    let r = try ChildProcess.runBNC(train + ["-o", f.path("run.pb")], outputs: f.logs)
                    #expect(r.status == 0 && f.bytes("run.pb") == reference, "kill \(k): \(r.stderr)")
                    #expect(f.listing().isDisjoint(with: strays.union(locks)), "kill \(k): \(strays.union(locks)) left after the next write")
                    f.remove("run.pb")
                }
                continue
            }
            // The checkpoint loads and names a completed epoch; resuming from it gives the same bytes.
            let ckpt = try ModelFile.load(path: f.path("run.pb.ckpt"))
            let epochs = Int(ckpt[metadata: "bnc.checkpoint.epochs_completed"] ?? "") ?? -1
            #expect((1...Self.trainEpochs).contains(epochs) && (k > Self.trainEpochs || epochs >= k - 1), "kill \(k): checkpoint after epoch \(epochs)")
            let r = try ChildProcess.runBNC(train + ["-o", f.path("run.pb"), "--resume"], outputs: f.logs)
            #expect(r.status == 0, "kill \(k): \(r.stderr)")
            #expect(f.bytes("run.pb") == reference, "kill \(k): resumed after epoch \(epochs), the model differs")
            #expect(f.listing().subtracting(["reference.pb", "previous.pb"]) == ["run.pb"], "kill \(k)")
            resumed += 1
        }
    }

    /// The temporary files in `f` (".NAME.tmp-PID"): each must be the killed child's and a
    /// complete model (it was named only after its last byte was on disk).
    func completeTemporaries(_ f: Folder, pid: pid_t, k: Int) throws -> Set<String> {
        let strays = f.listing().filter { $0.hasPrefix(".") && $0.contains(".tmp-") }
        for name in strays {
            #expect(name.hasSuffix(".tmp-\(pid)"), "kill \(k): \(name) is not the killed process's")
            #expect(throws: Never.self, "kill \(k): \(name) is not complete") { try ModelFile.load(path: f.path(name)) }
        }
        return Set(strays)
    }

    /// The lock files in `f` (".NAME.lock") a killed writer left: empty, and no lock any more
    /// (the kernel dropped it with the process); the next writer of the target removes them.
    func staleLocks(_ f: Folder, k: Int) -> Set<String> {
        let locks = f.listing().filter { $0.hasPrefix(".") && $0.hasSuffix(".lock") }
        for name in locks {
            #expect(f.bytes(name)?.isEmpty == true, "kill \(k): \(name) is not empty")
        }
        return Set(locks)
    }

    @Test func foldKilledAtManyPointsLeavesTheOldOutputOrTheNewOne() throws {
        let f = try Folder()
        defer { f.cleanUp() }
        let input = try Data(contentsOf: Self.repository.appendingPathComponent("models/mlp-fashion.pb"))
        let previous = try Data(contentsOf: Self.repository.appendingPathComponent("models/toy-regression.pb"))
        try f.put(input, "model.pb")
        let fold = ["fold", f.path("model.pb"), "--probe-images", "300", "--random-probes", "50", "-o", f.path("folded.pb")]
        let started = Date()
        let full = try ChildProcess.runBNC(fold, outputs: f.logs)
        let duration = Date().timeIntervalSince(started)
        #expect(full.status == 0, "\(full.stderr)")
        let reference = try #require(f.bytes("folded.pb"))

        var replaced = 0
        for k in 1...Self.foldKills {
            try f.put(previous, "folded.pb")
            let child = try ChildProcess.spawn(CLIRunner.executable.path, fold, outputs: f.logs)
            usleep(useconds_t(duration * 1.1 * Double(k) / Double(Self.foldKills + 1) * 1e6))
            child.kill()
            _ = try child.wait()
            let strays = try completeTemporaries(f, pid: child.pid, k: k)
            let locks = staleLocks(f, k: k)
            #expect(f.listing().subtracting(strays).subtracting(locks) == ["model.pb", "folded.pb"], "kill \(k): \(f.listing().sorted())")
            for name in strays { f.remove(name) }
            #expect(f.bytes("model.pb") == input, "kill \(k): the input changed")
            let out = f.bytes("folded.pb")
            #expect(out == previous || out == reference, "kill \(k): folded.pb is neither the previous file nor the folded model")
            if out == reference { replaced += 1 }
            #expect(throws: Never.self) { try ModelFile.load(path: f.path("folded.pb")) }
        }
        // The next run takes the left lock and removes it.
        let last = try ChildProcess.runBNC(fold, outputs: f.logs)
        #expect(last.status == 0, "\(last.stderr)")
        #expect(f.listing() == ["model.pb", "folded.pb"])
    }

    // MARK: Failed writes

    /// The toy model (28 KB) to fold, and an older file at the output path.
    func foldSetup(_ f: Folder) throws -> (previous: Data, arguments: [String]) {
        try f.put(try Data(contentsOf: Self.repository.appendingPathComponent("models/toy-regression.pb")), "model.pb")
        let previous = Data("an older file".utf8)
        try f.put(previous, "out.pb")
        return (previous, ["fold", f.path("model.pb"), "--random-probes", "10", "-o", f.path("out.pb")])
    }

    /// One line `bnc: <path>: <problem>` containing `fragment`, exit status 2.
    func expectOneLine(_ r: ChildProcess.Exit, _ path: String, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == 2, "\(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stderr.hasPrefix("bnc: \(path): ") && r.stderr.contains(fragment), "\(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)", sourceLocation: sourceLocation)
    }

    @Test(.disabled(if: ChildProcess.threadSanitized, "ThreadSanitizer's runtime dies of SIGBUS under a file size limit"))
    func fileSizeLimitLeavesThePreviousFileAndNoTemporaryOne() throws {
        let f = try Folder()
        defer { f.cleanUp() }
        let (previous, fold) = try foldSetup(f)
        // 8 blocks (4–8 KiB) < the 35 KB folded model; SIGXFSZ ignored, so write(2) fails with EFBIG.
        let r = try ChildProcess.runBNC(fold, shellSetup: "ulimit -f 8; trap '' XFSZ", outputs: f.logs)
        expectOneLine(r, f.path("out.pb"), "File too large; the previous file is unchanged")
        #expect(f.bytes("out.pb") == previous)
        #expect(f.listing() == ["model.pb", "out.pb"])
        // Training: the first checkpoint cannot be written; no checkpoint, no model, no temporary file.
        let t = try ChildProcess.runBNC(["train", "--dataset", "toy", "--epochs", "2", "-o", f.path("t.pb")],
                                        shellSetup: "ulimit -f 8; trap '' XFSZ", outputs: f.logs)
        expectOneLine(t, f.path("t.pb.ckpt"), "File too large")
        #expect(f.listing() == ["model.pb", "out.pb"])
    }

    /// Whether this process may mount a tmpfs (root in a privileged container or a VM).
    static let tmpfsWorks: Bool = {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/bin/mount"), let f = try? Folder() else { return false }
        defer { f.cleanUp() }
        let mounted = (try? ChildProcess.spawn("/bin/mount", ["-t", "tmpfs", "-o", "size=16k", "tmpfs", f.work.path], outputs: f.logs).wait().status) == 0
        if mounted { _ = try? ChildProcess.spawn("/bin/umount", [f.work.path], outputs: f.logs).wait() }
        return mounted
    }()

    @Test(.enabled(if: tmpfsWorks, "needs root and mount(8): a 16 KiB tmpfs is the full disk"))
    func fullDiskLeavesThePreviousFileAndNoTemporaryOne() throws {
        let f = try Folder()
        defer { f.cleanUp() }
        let disk = f.root.appendingPathComponent("disk")
        try FileManager.default.createDirectory(at: disk, withIntermediateDirectories: true)
        let mount = try ChildProcess.spawn("/bin/mount", ["-t", "tmpfs", "-o", "size=16k", "tmpfs", disk.path], outputs: f.logs).wait()
        try #require(mount.status == 0, "\(mount.stderr)")
        defer { _ = try? ChildProcess.spawn("/bin/umount", [disk.path], outputs: f.logs).wait() }
        let previous = Data("an older file".utf8)
        let out = disk.appendingPathComponent("out.pb")
        try previous.write(to: out)
        let input = Self.repository.appendingPathComponent("models/toy-regression.pb").path
        let r = try ChildProcess.runBNC(["fold", input, "--random-probes", "10", "-o", out.path], outputs: f.logs)
        expectOneLine(r, out.path, "No space left on device; the previous file is unchanged")
        #expect(FileManager.default.contents(atPath: out.path) == previous)
        #expect(try FileManager.default.contentsOfDirectory(atPath: disk.path) == ["out.pb"])
    }

    @Test func missingFolderAndReadOnlyTargetAreRefused() throws {
        let f = try Folder()
        defer { f.cleanUp() }
        let (previous, fold) = try foldSetup(f)
        let missing = f.path("no/such/folder/out.pb")
        let r = try ChildProcess.runBNC(Array(fold.dropLast()) + [missing], outputs: f.logs)
        expectOneLine(r, missing, "directory '\(f.path("no/such/folder"))' does not exist")

        chmod(f.path("out.pb"), 0o444)
        let ro = try ChildProcess.runBNC(fold, outputs: f.logs)
        expectOneLine(ro, f.path("out.pb"), "is read-only (mode 0444); bnc does not replace it")
        #expect(f.bytes("out.pb") == previous)
        #expect(f.listing() == ["model.pb", "out.pb"])
    }

    @Test func foldNeverReplacesItsInputUnlessInPlace() throws {
        let f = try Folder()
        defer { f.cleanUp() }
        _ = try foldSetup(f)
        let input = try #require(f.bytes("model.pb"))
        let same = try ChildProcess.runBNC(["fold", f.path("model.pb"), "-o", f.path("model.pb")], outputs: f.logs)
        expectOneLine(same, f.path("model.pb"), "is the input model; bnc fold does not replace its input unless --in-place is given")
        // Also through another name for the same file.
        try FileManager.default.createSymbolicLink(atPath: f.path("link.pb"), withDestinationPath: f.path("model.pb"))
        let link = try ChildProcess.runBNC(["fold", f.path("link.pb"), "-o", f.path("model.pb")], outputs: f.logs)
        expectOneLine(link, f.path("model.pb"), "is the input model")
        #expect(f.bytes("model.pb") == input)

        let inPlace = try ChildProcess.runBNC(["fold", f.path("model.pb"), "--in-place", "--random-probes", "10"], outputs: f.logs)
        #expect(inPlace.status == 0, "\(inPlace.stderr)")
        let folded = try ModelFile.load(path: f.path("model.pb"))
        #expect(!folded.graph.nodes.contains { $0.opType == "BatchNormalization" })
        let conflicting = try CLIRunner.run(["fold", f.path("model.pb"), "--in-place", "-o", f.path("x.pb")])
        #expect(conflicting.status != 0 && conflicting.stderr.contains("--in-place writes the folded model over"))
    }
}
