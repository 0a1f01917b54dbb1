import ArgumentParser
import BNCOps

/// The `bnc` command: train batch-normalized networks, fold BN away, run inference.
public struct BNC: ParsableCommand {
    public static let version = "0.1.0"

    public static let configuration = CommandConfiguration(
        commandName: "bnc",
        abstract: "Train batch-normalized networks, fold batch normalization away, and run inference on ONNX model files.",
        discussion: """
            Model files are ONNX: bnc writes IR 8, opset 15, and reads default-domain opsets \
            \(Registry.opsets.lowerBound)–\(Registry.opsets.upperBound) with these operators \
            (`bnc operators` lists their versions): \(Registry.names.joined(separator: ", ")).

            Bad input and bad arguments exit with status 2 and one line naming the file, the \
            place (node, tensor, byte offset, flag) and the problem; nothing is written or \
            replaced. Every output path is checked before work starts (a directory, a missing \
            folder, an input of the command, or a file another bnc is writing is refused); a \
            symbolic link is written through to its target, a device or pipe (/dev/null) \
            straight into. A failed check (a fold's proof, a digest, training that diverged) \
            exits with status 1; Ctrl-C says what was kept (status 130).
            """,
        version: BNC.version,
        subcommands: [
            Train.self, FoldCommand.self, InferCommand.self, Inspect.self, Calibrate.self, Verify.self, Convert.self,
            OperatorsCommand.self, BenchModel.self, ReportCommand.self,
        ])

    public init() {}
}
