import BNCModelFile
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One size policy (issue 19, rows 4, 9, 11, 13): sizes from flags are range-checked at their
/// natural width and bounded by the data and the machine before anything is allocated;
/// long work shows progress on a terminal.
@Suite struct SizePolicyTests {
    typealias Folder = NothingLostTests.Folder

    /// An address-space limit (4 GiB) under which the runs must end with one line, not a
    /// failed allocation; sanitizer builds reserve terabytes, so they run without it.
    static let limit = ChildProcess.sanitized ? "true" : "ulimit -v 4194304"

    /// Row 4: batch sizes and layer widths that used to abort ("failed to allocate …", exit
    /// 134) are refused with one line; the memory refusal names both figures.
    @Test(arguments: [
        (["train", "--batch-size", "99999999999"], "bnc train: --batch-size must be at most 1048576"),
        (["train", "--arch", "d99999999-d10"], "bnc train: --arch layer 1 'd99999999': 99999999 units is more than bnc allows"),
        (["train", "--dataset", "toy", "--arch", "d100000-d100000-d1"], "bnc: --arch d100000-d100000-d1: training 10000400001 parameters at batch 32 needs"),
        (["train", "--dataset", "toy", "--batch-size", "1048576"], "bnc: --batch-size 1048576: is more than the 500 training examples"),
        (["calibrate", "MODEL", "--batch-size", "99999999999"], "bnc calibrate: --batch-size must be between 1 and 1048576"),
    ])
    func hugeSizesAreRefusedWithOneLine(_ args: [String], _ start: String) throws {
        let f = try Folder()
        defer { f.cleanUp() }
        let model = NothingLostTests.repository.appendingPathComponent("models/toy-regression.pb").path
        let r = try ChildProcess.runBNC(args.map { $0 == "MODEL" ? model : $0 } + ["-o", f.path("out.pb")], shellSetup: Self.limit, outputs: f.logs)
        CLISupport.expectOneLine(r, prefix: start)
        if start.contains("needs") { #expect(r.stderr.contains("available"), "\(r.stderr)") }
        #expect(f.listing().isEmpty)
    }

    /// Calibration's batch is bounded by the examples (the same single pass), so a batch of
    /// 2²⁰ runs in little memory and gives the same statistics.
    @Test func calibrationBatchIsBoundedByTheExamples() throws {
        let f = try Folder()
        defer { f.cleanUp() }
        let model = NothingLostTests.repository.appendingPathComponent("models/toy-regression.pb").path
        let small = try ChildProcess.runBNC(["calibrate", model, "--batch-size", "500", "-o", f.path("a.pb")], outputs: f.logs)
        #expect(small.status == 0, "\(small.stderr)")
        let huge = try ChildProcess.runBNC(["calibrate", model, "--batch-size", "1048576", "-o", f.path("b.pb")], shellSetup: Self.limit, outputs: f.logs)
        #expect(huge.status == 0, "\(huge.stderr)")
        #expect(f.bytes("a.pb") == f.bytes("b.pb"))
    }

    /// Row 9: integer flags do not wrap: 2³² + 1 epochs is refused, not run as "epoch 2/1".
    @Test(arguments: [["--epochs", "4294967297"], ["--stop-after", "4294967297"], ["--epochs", "1000001"]])
    func integerFlagsAreRangeChecked(_ flags: [String]) throws {
        let f = try Folder()
        defer { f.cleanUp() }
        // A run that starts instead of being refused is killed after 20 s (and fails).
        let r = try ChildProcess.runBNC(["train", "--dataset", "toy", "-o", f.path("m.pb")] + flags, outputs: f.logs, timeout: 20)
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.hasPrefix("bnc train: \(flags[0]) must be between 1 and 1000000"), "\(r.stderr)")
        #expect(r.stdout.isEmpty)
    }

    /// Row 11: a validation split that leaves fewer than 2 training examples is refused,
    /// naming the count it had.
    @Test func validationMustLeaveExamplesToTrainOn() throws {
        let f = try Folder()
        defer { f.cleanUp() }
        let data = f.root.appendingPathComponent("mnist")
        try CLISupport.writeMNISTFolder(data, train: 200)
        let common = ["train", "--data", data.path, "--arch", "d8-bn-relu-d10", "--epochs", "1", "-o", f.path("m.pb")]
        let r = try ChildProcess.runBNC(common + ["--validation", "5000", "--limit", "100"], outputs: f.logs)
        CLISupport.expectOneLine(r, prefix: "bnc: --validation 5000: leaves fewer than 2 of the 100 examples (--limit 100) to train on; use at most --validation 98")
        #expect(r.stdout.isEmpty && f.listing().isEmpty)
        let ok = try ChildProcess.runBNC(common + ["--validation", "98", "--limit", "100"], outputs: f.logs)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("2 examples, 98 validation"), "\(ok.stdout)")
    }

    /// Row 13: a proof with a billion probes shows its progress on a terminal (standard
    /// error), and Ctrl-C stops it with one line: nothing written.
    @Test func longProofsShowProgressAndStopOnCtrlC() throws {
        let f = try Folder()
        defer { f.cleanUp() }
        let model = NothingLostTests.repository.appendingPathComponent("models/toy-regression.pb").path
        let run = try TerminalRun.start(["fold", model, "--random-probes", "1000000000", "-o", f.path("out.pb")], outputs: f.logs)
        var seen = ""
        #expect(run.waitForTerminal(containing: "probes [", into: &seen), "no progress on the terminal: \(seen)")
        #expect(seen.contains("/1000000000 probes") || seen.contains("/1000000100 probes"), "\(seen)")
        run.interrupt()
        let end = run.finish(seen: seen)
        #expect(end.status == 130, "status \(String(describing: end.status)), signal \(String(describing: end.signal))")
        #expect(end.terminal.contains("bnc: interrupted; nothing written"), "\(end.terminal)")
        #expect(f.listing().isEmpty, "\(f.listing())")
    }
}
