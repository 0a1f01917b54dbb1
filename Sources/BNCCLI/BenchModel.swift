import ArgumentParser
import BNCGraph
import BNCModelFile

/// `bnc bench-model` (hidden): writes a synthetic model of a given size for benchmarks
/// (tools/bench/run --format). Weights are deterministic pseudo-random Floats.
struct BenchModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-model",
        abstract: "Write a synthetic dense+BN model of about N megabytes (for tools/bench/run --format).",
        shouldDisplay: false)

    @Option(help: "Approximate size of the weights in megabytes (10^6 bytes).")
    var megabytes = 100

    @Option(name: .shortAndLong, help: "Output file.")
    var output: String

    func validate() throws {
        guard (1...1500).contains(megabytes) else {
            throw ValidationError("--megabytes must be between 1 and 1500, e.g. --megabytes 100")
        }
    }

    func run() throws {
        let layers = 5
        let width = Int((Double(megabytes) * 1e6 / 4 / Double(layers)).squareRoot())
        var state: UInt32 = 12345
        func next() -> Float {
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(Int32(bitPattern: state)) / Float(Int32.max) * 0.05
        }
        var nodes: [Node] = []
        var inits: [Tensor] = []
        var x = "input"
        for l in 1...layers {
            let w = "dense\(l).weight"
            inits.append(Tensor(name: w, dims: [width, width], floats: (0..<(width * width)).map { _ in next() }))
            nodes.append(Node(name: "dense\(l)", opType: "Gemm", inputs: [x, w], outputs: ["h\(l)"],
                              attributes: [Attribute("transB", .int(1))]))
            let bn = "bn\(l)"
            inits += [
                Tensor(name: "\(bn).scale", dims: [width], floats: [Float](repeating: 1, count: width)),
                Tensor(name: "\(bn).bias", dims: [width], floats: [Float](repeating: 0, count: width)),
                Tensor(name: "\(bn).mean", dims: [width], floats: (0..<width).map { _ in next() }),
                Tensor(name: "\(bn).var", dims: [width], floats: (0..<width).map { _ in 1 + abs(next()) }),
            ]
            nodes.append(Node(name: bn, opType: "BatchNormalization",
                              inputs: ["h\(l)", "\(bn).scale", "\(bn).bias", "\(bn).mean", "\(bn).var"],
                              outputs: ["n\(l)"], attributes: [Attribute("epsilon", .float(1e-3))]))
            nodes.append(Node(name: "relu\(l)", opType: "Relu", inputs: ["n\(l)"], outputs: ["a\(l)"]))
            x = "a\(l)"
        }
        let graph = Graph(name: "bench", nodes: nodes, initializers: inits,
                          inputs: [ValueInfo(name: "input", shape: [.param("N"), .value(Int64(width))])],
                          outputs: [ValueInfo(name: x, shape: [.param("N"), .value(Int64(width))])])
        try ModelFile.save(Model(graph: graph, producerVersion: BNC.version), to: output)
        print("wrote \(output): \(layers) layers of \(width)×\(width)")
    }
}
