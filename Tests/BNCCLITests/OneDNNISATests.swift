import BNCData
import BNCGraph
import BNCModelFile
import Foundation
import Testing

/// oneDNN picks its kernels by the CPU's instruction set once per process, so the AVX2 path
/// (what a machine without AVX-512 runs) is checked in child processes of the built bnc:
/// `ONEDNN_MAX_CPU_ISA=AVX2` caps it, `ONEDNN_VERBOSE=1` names the kernel of every call, and
/// `BNC_ONEDNN=0` gives bnc's own im2col kernels for comparison.
@Suite struct OneDNNISATests {
    /// 8×8 images → conv 3×3 1→8 + BN + ReLU + 2×2 max-pool → conv 3×3 8→16 (stride 2) + ReLU
    /// → Flatten → Gemm 64→5.
    static func model() -> Model {
        var state: UInt64 = 17
        func random(_ n: Int, _ lo: Float, _ hi: Float) -> [Float] {
            (0..<n).map { _ in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return lo + (hi - lo) * Float(state >> 40) / Float(1 << 24)
            }
        }
        let inits = [
            Tensor(name: "k1", dims: [8, 1, 3, 3], floats: random(72, -1, 1)),
            Tensor(name: "s", dims: [8], floats: random(8, 0.5, 2)), Tensor(name: "b", dims: [8], floats: random(8, -1, 1)),
            Tensor(name: "m", dims: [8], floats: random(8, -0.5, 0.5)), Tensor(name: "v", dims: [8], floats: random(8, 0.2, 2)),
            Tensor(name: "k2", dims: [16, 8, 3, 3], floats: random(1152, -0.3, 0.3)),
            Tensor(name: "kb2", dims: [16], floats: random(16, -0.5, 0.5)),
            Tensor(name: "W", dims: [5, 64], floats: random(320, -0.3, 0.3)),
        ]
        let nodes = [
            Node(name: "c1", opType: "Conv", inputs: ["x", "k1"], outputs: ["c1"], attributes: [Attribute("pads", .ints([1, 1, 1, 1]))]),
            Node(name: "bn", opType: "BatchNormalization", inputs: ["c1", "s", "b", "m", "v"], outputs: ["n1"]),
            Node(name: "r1", opType: "Relu", inputs: ["n1"], outputs: ["r1"]),
            Node(name: "p1", opType: "MaxPool", inputs: ["r1"], outputs: ["p1"],
                 attributes: [Attribute("kernel_shape", .ints([2, 2])), Attribute("strides", .ints([2, 2]))]),
            Node(name: "c2", opType: "Conv", inputs: ["p1", "k2", "kb2"], outputs: ["c2"],
                 attributes: [Attribute("pads", .ints([1, 1, 1, 1])), Attribute("strides", .ints([2, 2]))]),
            Node(name: "r2", opType: "Relu", inputs: ["c2"], outputs: ["r2"]),
            Node(name: "f", opType: "Flatten", inputs: ["r2"], outputs: ["f"]),
            Node(name: "fc", opType: "Gemm", inputs: ["f", "W"], outputs: ["y"], attributes: [Attribute("transB", .int(1))]),
        ]
        let graph = Graph(name: "cnn", nodes: nodes, initializers: inits,
                          inputs: [ValueInfo(name: "x", shape: [.param("N"), .value(1), .value(8), .value(8)])],
                          outputs: [ValueInfo(name: "y", shape: [.param("N"), .value(5)])])
        return Model(graph: graph, metadata: [MetadataEntry(key: MetadataKey.inputScaling, value: "x/255")])
    }

    /// The "outputs" rows of `bnc infer --json` (oneDNN's verbose lines, on the same
    /// standard output, skipped).
    static func outputs(_ stdout: String) throws -> [[Double]] {
        let json = stdout.split(separator: "\n").filter { !$0.hasPrefix("onednn_verbose") }.joined(separator: "\n")
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        return (object?["outputs"] as? [[Double]]) ?? []
    }

    @Test func avx2PathAgreesWithBncsKernels() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("cnn.pb").path, images = dir.appendingPathComponent("images.idx").path
        try ModelFile.save(Self.model(), to: model)
        // 70 images: at least the executor's split threshold, so both threads call oneDNN.
        let pixels = (0..<(70 * 64)).map { (i: Int) -> UInt8 in
            let v: Int = (i * 37 + (i / 64) * 11) % 256
            return UInt8(v)
        }
        try AtomicFile.write(IDXFile(path: "", dims: [70, 8, 8], elements: .uint8(pixels)).encoded(), to: images)
        let args = ["infer", model, images, "--json"]
        for sub in ["avx2", "own"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        let avx2 = try ChildProcess.runBNC(args, shellSetup: "export ONEDNN_MAX_CPU_ISA=AVX2 ONEDNN_VERBOSE=1",
                                           outputs: dir.appendingPathComponent("avx2"))
        let own = try ChildProcess.runBNC(args, shellSetup: "export BNC_ONEDNN=0 ONEDNN_VERBOSE=1",
                                          outputs: dir.appendingPathComponent("own"))
        #expect(avx2.status == 0 && own.status == 0, "\(avx2.stderr) \(own.stderr)")
        // The convolutions ran on oneDNN's AVX2 kernels, never on AVX-512 ones.
        let convolutions = avx2.stdout.split(separator: "\n").filter { $0.hasPrefix("onednn_verbose,exec,cpu,convolution,") }
        #expect(!convolutions.isEmpty, "no oneDNN convolution ran: \(avx2.stdout.prefix(2000))")
        #expect(convolutions.allSatisfy { $0.contains("avx2") && !$0.contains("avx512") }, "\(convolutions.prefix(3))")
        // With BNC_ONEDNN=0 oneDNN runs nothing.
        #expect(!own.stdout.contains("onednn_verbose,exec"), "\(own.stdout.prefix(500))")
        // Same outputs within 2e-5 of the scale (each kernel is within 1e-5 of the exact
        // value: OneDNNConvolutionTests).
        let a = try Self.outputs(avx2.stdout), b = try Self.outputs(own.stdout)
        #expect(a.count == 70 && b.count == 70)
        let scale = max(1, b.joined().map(abs).max() ?? 1)
        let d = zip(a.joined(), b.joined()).map { abs($0 - $1) }.max() ?? .infinity
        #expect(d <= 2e-5 * scale, "AVX2 oneDNN vs im2col: max difference \(d) (scale \(scale))")
    }
}
