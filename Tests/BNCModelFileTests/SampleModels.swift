import BNCGraph

/// Deterministic models for the format tests.
enum SampleModels {
    /// A tiny linear congruential generator: tests need reproducible, not good, randomness.
    struct LCG {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 1_000_000
        }
        mutating func floats(_ n: Int) -> [Float] { (0..<n).map { _ in next() } }
    }

    static func bn(_ name: String, channels c: Int, input: String, rng: inout LCG) -> (Node, [Tensor]) {
        let node = Node(
            name: name, opType: "BatchNormalization",
            inputs: [input, "\(name).scale", "\(name).bias", "\(name).mean", "\(name).var"],
            outputs: ["\(name).out"],
            attributes: [Attribute("epsilon", .float(1e-3)), Attribute("momentum", .float(0.99)),
                         Attribute("training_mode", .int(0))])
        let tensors = [
            Tensor(name: "\(name).scale", dims: [c], floats: rng.floats(c).map { 1 + $0 / 2 }),
            Tensor(name: "\(name).bias", dims: [c], floats: rng.floats(c)),
            Tensor(name: "\(name).mean", dims: [c], floats: rng.floats(c)),
            Tensor(name: "\(name).var", dims: [c], floats: rng.floats(c).map { 0.5 + abs($0) }),
        ]
        return (node, tensors)
    }

    /// conv(1→4, 3×3, pad 1) → BN → Relu → Flatten → Gemm(4·8·8 → 10) → BN → Softmax.
    /// Input `input` is N×1×8×8; output `probabilities` is N×10.
    static func convDense(seed: UInt64 = 1) -> Model {
        var rng = LCG(state: seed)
        var nodes: [Node] = []
        var inits: [Tensor] = []
        nodes.append(Node(name: "conv1", opType: "Conv", inputs: ["input", "conv1.weight", "conv1.bias"], outputs: ["conv1.out"],
                          attributes: [Attribute("kernel_shape", .ints([3, 3])), Attribute("pads", .ints([1, 1, 1, 1])),
                                       Attribute("strides", .ints([1, 1]))]))
        inits.append(Tensor(name: "conv1.weight", dims: [4, 1, 3, 3], floats: rng.floats(36)))
        inits.append(Tensor(name: "conv1.bias", dims: [4], floats: rng.floats(4)))
        let (bn1, t1) = bn("bn1", channels: 4, input: "conv1.out", rng: &rng)
        nodes.append(bn1); inits += t1
        nodes.append(Node(name: "relu1", opType: "Relu", inputs: ["bn1.out"], outputs: ["relu1.out"]))
        nodes.append(Node(name: "flatten", opType: "Flatten", inputs: ["relu1.out"], outputs: ["flat"],
                          attributes: [Attribute("axis", .int(1))]))
        nodes.append(Node(name: "dense1", opType: "Gemm", inputs: ["flat", "dense1.weight"], outputs: ["dense1.out"],
                          attributes: [Attribute("transB", .int(1))]))
        inits.append(Tensor(name: "dense1.weight", dims: [10, 256], floats: rng.floats(2560)))
        let (bn2, t2) = bn("bn2", channels: 10, input: "dense1.out", rng: &rng)
        nodes.append(bn2); inits += t2
        nodes.append(Node(name: "softmax", opType: "Softmax", inputs: ["bn2.out"], outputs: ["probabilities"],
                          attributes: [Attribute("axis", .int(1))]))
        let graph = Graph(
            name: "sample", nodes: nodes, initializers: inits,
            inputs: [ValueInfo(name: "input", shape: [.param("N"), .value(1), .value(8), .value(8)])],
            outputs: [ValueInfo(name: "probabilities", shape: [.param("N"), .value(10)])])
        return Model(graph: graph, producerVersion: "test", docString: "sample model",
                     metadata: [MetadataEntry(key: "bnc.bn.variance_estimator", value: "biased")])
    }
}
