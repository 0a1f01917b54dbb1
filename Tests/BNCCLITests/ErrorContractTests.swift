import Foundation
import Testing

/// One error contract (issue 19, row 16): every argument error exits 2 with one line that
/// names the command and the flag and ends by pointing at the help; negative numbers are
/// values; `--resume` names the setting that differs.
@Suite struct ErrorContractTests {
    @Test(arguments: [
        (["train", "--batch-size", "0"], "bnc train: --batch-size must be at least 2 (got 0)"),
        (["train", "--lr", "-1"], "bnc train: --lr must be a positive number (got -1.0)"),
        (["train", "--lr", "-1e-3"], "bnc train: --lr must be a positive number (got -0.001)"),
        (["train", "--weight-decay", "-0.5"], "bnc train: --weight-decay must be zero or positive (got -0.5)"),
        (["train", "--arch", "d10-x3"], "bnc train: --arch layer 2 'x3': unknown layer"),
        (["train", "--arch", "d0-d10"], "bnc train: --arch layer 1 'd0': dense needs a positive unit count"),
        (["train", "--arch", "d100-bn-relu-d7"], "bnc train: --arch must end with a dense layer of 10 units"),
        (["train", "--arch", "c8-d1", "--dataset", "toy"], "bnc train: --arch for the toy data set must be dense"),
        (["train", "--epochs", "abc"], "bnc train: The value 'abc' is invalid for '--epochs <epochs>'"),
        (["train", "--epochs", "99999999999999999999"], "bnc train: The value '99999999999999999999' is invalid for '--epochs <epochs>'"),
        (["train", "--bogus"], "bnc train: Unknown option '--bogus'"),
        (["train", "--json", "-1"], "bnc train: The option '--json' does not take any value"),
        (["fold"], "bnc fold: Missing expected argument '<model>'"),
        (["fold", "m.pb", "--tolerance", "-1"], "bnc fold: --tolerance -1.0 must be a positive number"),
        (["infer"], "bnc infer: Missing expected argument '<model>'"),
        (["infer", "m.pb", "x.idx", "--top-k", "-2"], "bnc infer: --top-k -2 must be at least 1"),
        (["calibrate", "m.pb", "--batch-size", "0"], "bnc calibrate: --batch-size must be between 1 and"),
        (["convert", "m.pb", "-o", ""], "bnc convert: -o needs a file name"),
        (["frobnicate"], "bnc: Unexpected argument 'frobnicate'"),
    ])
    func argumentErrorsExitTwoWithOneLine(_ args: [String], _ start: String) throws {
        let r = try CLIRunner.run(args)
        #expect(r.status == 2, "\(r.status): \(r.stderr)")
        #expect(r.stderr.hasPrefix(start), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "not one line: \(r.stderr)")
        #expect(r.stderr.hasSuffix("--help lists the options)\n") || r.stderr.hasSuffix("--help lists the commands)\n"), "\(r.stderr)")
        #expect(r.stdout.isEmpty)
    }

    /// Help and --version are not errors.
    @Test func helpAndVersionExitZero() throws {
        for args in [["--help"], ["train", "--help"], ["--version"]] {
            let r = try CLIRunner.run(args)
            #expect(r.status == 0 && !r.stdout.isEmpty && r.stderr.isEmpty, "\(args): \(r.stderr)")
        }
        let help = try CLIRunner.run(["--help"])
        #expect(help.stdout.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "  ", with: " ").contains("bad arguments exit with status 2 and one line"), "\(help.stdout)")
    }

    @Test func resumeNamesTheSettingThatDiffers() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try CLIRunner.run(["train", "--dataset", "toy", "--epochs", "2", "--stop-after", "1", "-o", "m.pb"], in: dir)
        try #require(first.status == 0, "\(first.stderr)")
        let changed = try CLIRunner.run(["train", "--dataset", "toy", "--epochs", "2", "--lr", "0.5", "--seed", "3", "--resume", "-o", "m.pb"], in: dir)
        #expect(changed.status == 2)
        #expect(changed.stderr.contains("lr=0.01 in the checkpoint, lr=0.5 now; seed=1 in the checkpoint, seed=3 now"), "\(changed.stderr)")
        #expect(!changed.stderr.contains("dataset=toy"), "the whole settings text: \(changed.stderr)")
        #expect(changed.stderr.split(separator: "\n").count == 1)
    }
}
