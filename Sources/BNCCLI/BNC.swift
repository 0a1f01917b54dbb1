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

            Bad input exits with status 2 and one line naming the file, the place and the problem.
            """,
        version: BNC.version,
        subcommands: [
            Train.self, FoldCommand.self, InferCommand.self, Inspect.self, Calibrate.self, Verify.self, Convert.self,
            OperatorsCommand.self, BenchModel.self, ReportCommand.self,
        ])

    public init() {}
}
