import ArgumentParser

/// The `bnc` command: train batch-normalized networks, fold BN away, run inference.
public struct BNC: ParsableCommand {
    public static let version = "0.1.0"

    public static let configuration = CommandConfiguration(
        commandName: "bnc",
        abstract: "Train batch-normalized networks, fold batch normalization away, and run inference on ONNX model files.",
        discussion: """
            Model files are ONNX (IR 8, opset 15). bnc reads ONNX files from other tools that use \
            its operators: Gemm, MatMul, Add, Conv, BatchNormalization, Relu, Sigmoid, Tanh, \
            MaxPool, Flatten, Reshape, Softmax, Identity, Dropout.

            Bad input exits with status 2 and one line naming the file, the place and the problem.
            """,
        version: BNC.version,
        subcommands: [
            Train.self, FoldCommand.self, InferCommand.self, Inspect.self, Calibrate.self, Verify.self, Convert.self,
            BenchModel.self, ReportCommand.self,
        ])

    public init() {}
}
