import BNCData
import BNCGraph
import BNCOps
import BNCKernels
import Testing
@testable import BNCTraining

/// The exported inference graph: structure and names of the contract, validity, metadata,
/// round trip through `ModelImport`, and BN calibration.
struct ExportTests {
    func network(_ arch: String, input: [Int], task: Task = .classification, center: Bool = true, scale: Bool = true) throws -> Network {
        let specs = try ArchitectureSpec.parse(arch, activation: .relu, center: center, scale: scale, imageInput: input.count == 3)
        return try Network(inputShape: input, layers: specs, task: task, initializer: .he, seed: 2)
    }

    @Test func mlpPresetGraph() throws {
        let net = try network("mlp", input: [784])
        let model = ModelExport.model(net, metadata: [(MetadataKey.trainArch, "mlp")])
        try ModelValidator.validate(model)
        let g = model.graph
        #expect(g.nodes.map(\.name) == ["dense1", "bn1", "relu1", "dense2", "bn2", "relu2", "dense3", "softmax"])
        #expect(g.nodes.map(\.opType) == ["Gemm", "BatchNormalization", "Relu", "Gemm", "BatchNormalization", "Relu", "Gemm", "Softmax"])
        #expect(g.nodes[0].inputs == ["input", "dense1.weight"])  // no bias before BN
        #expect(g.nodes[6].inputs == ["relu2", "dense3.weight", "dense3.bias"])
        #expect(try g.nodes[0].int("transB", default: 0) == 1)
        #expect(g.initializer(named: "dense1.weight")?.dims == [100, 784])
        #expect(g.nodes[1].inputs == ["dense1", "bn1.scale", "bn1.bias", "bn1.mean", "bn1.var"])
        #expect(try g.nodes[1].int("training_mode", default: 1) == 0)
        #expect(try g.nodes[1].float("epsilon", default: 0) == 1e-3)
        #expect(try g.nodes[1].float("momentum", default: 0) == 0.99)
        #expect(g.inputs == [ValueInfo(name: "input", shape: [.param("N"), .value(784)])])
        #expect(g.outputs == [ValueInfo(name: "probabilities", shape: [.param("N"), .value(10)])])
        #expect(try g.nodes[7].int("axis", default: -1) == 1)
        #expect(model[metadata: MetadataKey.bnVarianceEstimator] == "biased")
        #expect(model[metadata: MetadataKey.bnMomentumConvention] == BatchNormSettings.momentumConvention)
        #expect(model[metadata: MetadataKey.trainArch] == "mlp")
        #expect(ModelExport.model(net, metadata: [(MetadataKey.trainArch, "mlp")]) == model)
    }

    @Test func cnnPresetGraph() throws {
        let net = try network("cnn", input: [1, 28, 28])
        let model = ModelExport.model(net)
        try ModelValidator.validate(model)
        let g = model.graph
        #expect(g.nodes.map(\.opType) == [
            "Conv", "BatchNormalization", "Relu", "MaxPool", "Conv", "BatchNormalization", "Relu", "MaxPool",
            "Flatten", "Gemm", "BatchNormalization", "Relu", "Gemm", "Softmax",
        ])
        #expect(g.nodes.map(\.name).prefix(4) == ["conv1", "bn1", "relu1", "pool1"])
        #expect(g.initializer(named: "conv2.weight")?.dims == [64, 32, 3, 3])
        #expect(try g.nodes[0].ints("pads") == [1, 1, 1, 1])
        #expect(try g.nodes[0].int("group", default: 0) == 1)
        #expect(g.initializer(named: "dense1.weight")?.dims == [128, 64 * 7 * 7])
        #expect(g.inputs[0].shape == [.param("N"), .value(1), .value(28), .value(28)])
        #expect(try g.nodes[8].int("axis", default: 0) == 1)
    }

    @Test func regressionGraphWithoutLearnedScaleAndShift() throws {
        let net = try network("bn-d4-bn-relu-d1", input: [1], task: .regression, center: false, scale: false)
        let model = ModelExport.model(net)
        try ModelValidator.validate(model)
        #expect(model.graph.outputs.map(\.name) == ["prediction"])
        #expect(model.graph.nodes.last?.outputs == ["prediction"])
        #expect(model.graph.nodes.first?.opType == "BatchNormalization")
        #expect(model.graph.initializer(named: "bn2.scale")?.floats == [1, 1, 1, 1])
        #expect(model.graph.initializer(named: "bn2.bias")?.floats == [0, 0, 0, 0])
        #expect(!model.graph.nodes.contains { $0.opType == "Softmax" })
    }

    @Test func dropoutIsOmitted() throws {
        let model = ModelExport.model(try network("d5-relu-drop0.5-d3", input: [4]))
        try ModelValidator.validate(model)
        #expect(model.graph.nodes.map(\.opType) == ["Gemm", "Relu", "Gemm", "Softmax"])
        #expect(model.graph.nodes[2].inputs[0] == "relu1")
    }

    /// Export → import gives a network with the same inference outputs, bit for bit.
    @Test(arguments: [("d6-bn-relu-d3", [5]), ("c3-bn-relu-p2-d4-bn-sigmoid-d3", [2, 6, 6]), ("bn-d4-tanh-d1", [1])])
    func importRoundTrip(_ arch: String, _ input: [Int]) throws {
        let task: Task = arch.hasSuffix("d1") ? .regression : .classification
        let net = try network(arch, input: input, task: task)
        // Train a step so statistics and weights are not at their initial values.
        let data = task == .regression ? toyExamples(count: 8, seed: 1) : blobs(count: 8, shape: input, seed: 1)
        let t = try Trainer(network: net, options: TrainingOptions(epochs: 1, batchSize: 4, optimizer: .adam(learningRate: 0.01), seed: 1))
        _ = try t.trainEpoch(data)
        let imported = try ModelImport.network(from: ModelExport.model(net)).network
        #expect(ModelExport.model(imported) == ModelExport.model(net))
        var x = randomFloats(3 * input.reduce(1, *), seed: 4)
        var y = x
        net.reserve(batch: 3)
        imported.reserve(batch: 3)
        let a = try x.withUnsafeMutableBufferPointer { Array(UnsafeBufferPointer(start: try net.forward($0.baseAddress!, batch: 3, mode: .inference), count: 3 * net.outputCount)) }
        let b = try y.withUnsafeMutableBufferPointer { Array(UnsafeBufferPointer(start: try imported.forward($0.baseAddress!, batch: 3, mode: .inference), count: 3 * net.outputCount)) }
        #expect(a == b)
    }

    @Test func importRejectsBranches() throws {
        var model = ModelExport.model(try network("d4-relu-d3", input: [2]))
        model.graph.nodes[2].inputs[0] = "dense1"  // skip the Relu: no longer a chain
        #expect(throws: TrainingError.self) { try ModelImport.network(from: model) }
    }

    /// Calibration sets each BN's moving statistics to the exact mean and (biased) variance
    /// of its input over the data, computed here directly in Double.
    @Test func calibrationComputesPopulationStatistics() throws {
        let net = try network("d3-bn-relu-d4-bn-relu-d2", input: [4])
        let data = blobs(count: 50, shape: [4], classes: 2, seed: 6)
        let results = try net.calibrateBatchNorm(on: data, batchSize: 7)
        #expect(results.map(\.unit) == ["bn1", "bn2"])
        // Reference for bn1: dense1 outputs (no bias) over all 50 examples.
        let w = net.namedTensors().first { $0.name == "dense1.weight" }!.values
        var x = [Float](repeating: 0, count: 50 * 4)
        x.withUnsafeMutableBufferPointer { data.copyInputs(ArraySlice(0..<50), into: $0.baseAddress!) }
        for c in 0..<3 {
            let v = (0..<50).map { i in (0..<4).reduce(0.0) { $0 + Double(x[i * 4 + $1]) * Double(w[c * 4 + $1]) } }
            let mean = v.reduce(0, +) / 50
            let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 50
            #expect(abs(Double(results[0].mean[c]) - mean) < 1e-5 * (1 + abs(mean)))
            #expect(abs(Double(results[0].variance[c]) - variance) < 1e-5 * (1 + variance))
        }
        // bn2's statistics were computed through the calibrated bn1: recalibrating changes nothing.
        let again = try net.calibrateBatchNorm(on: data, batchSize: 50)
        #expect(again[1].maxMeanShift < 1e-5 && again[1].maxVarianceRatioChange < 1e-5)
    }
}
