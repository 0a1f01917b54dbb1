import BNCData
import BNCKernels
import Testing
@testable import BNCTraining

/// Every layer's backward pass against central finite differences of an independent Double
/// forward (`ReferenceNetwork`), h = 1e-6; convolutions on oneDNN (`DNNLTrainingConvolution`)
/// where it is available (also under `ONEDNN_MAX_CPU_ISA=AVX2` in `tools/test`). Each layer of interest sits after a dense "probe"
/// layer, so its input gradient is checked through the probe's weight gradient.
/// Tolerance per tensor: |analytic − numeric| ≤ 2e-3·max|numeric| + 1e-5 (Float analytic
/// gradients vs Double differences).
struct GradientTests {
    struct Case: Sendable, CustomStringConvertible {
        var arch: String
        var input: [Int]
        var task: Task = .classification
        var batch = 4
        var center = true, scale = true
        var description: String { "\(arch) input \(input) center \(center) scale \(scale)" }
    }

    static let cases: [Case] = [
        Case(arch: "d6-bn-relu-d3", input: [5]),
        Case(arch: "d6-bn-sigmoid-d3", input: [5], center: false),
        Case(arch: "d6-bn-tanh-d3", input: [5], scale: false),
        Case(arch: "d6-bn-d3", input: [5], center: false, scale: false),
        Case(arch: "bn-d5-tanh-d4-bn-relu-d1", input: [3], task: .regression, batch: 6),  // BN on the input
        Case(arch: "d5-relu-bn-d3", input: [4]),  // BN after the activation
        Case(arch: "d6-sigmoid-d5-tanh-d3", input: [4]),  // no BN: biases, standalone activations
        Case(arch: "d6-relu-drop0.4-d3", input: [4], batch: 5),
        Case(arch: "c3-bn-relu-p2-d3", input: [2, 5, 5], batch: 3),  // spatial BN, conv "same", pool, flatten
        Case(arch: "c3-bn-p2-d3", input: [2, 4, 4], batch: 2, center: false),
        Case(arch: "c3-bn-sigmoid-d3", input: [1, 4, 4], batch: 2, scale: false),
        Case(arch: "c2k2-bn-d2", input: [2, 3, 3], batch: 3, center: false, scale: false),
        Case(arch: "c4k3s2v-tanh-d3", input: [2, 7, 7], batch: 2),  // conv with bias, stride, valid
        Case(arch: "c2k3p1-relu-p2-c3k2-d2", input: [1, 6, 6], task: .regression, batch: 2),
        Case(arch: "c6-bn-relu-c5k3s2-d3", input: [4, 5, 5], batch: 3),  // depth 36 and 54: both convs on oneDNN
    ]

    @Test(arguments: cases)
    func backwardMatchesFiniteDifferences(_ t: Case) throws {
        let specs = try ArchitectureSpec.parse(t.arch, activation: .relu, center: t.center, scale: t.scale,
                                               imageInput: t.input.count == 3)
        let network = try Network(inputShape: t.input, layers: specs, task: t.task, initializer: .glorot, seed: 7)
        // Convolutions summing ≥ 32 products per output run on oneDNN's training primitives
        // wherever oneDNN is there (bnc's im2col otherwise): the check covers whichever runs.
        #expect(network.layers.compactMap { $0 as? ConvLayer }.allSatisfy {
                    ($0.direct != nil) == (DNNL.isAvailable && $0.geometry.columnRows >= ConvLayer.oneDNNDepth) },
                "\(network.layers.compactMap { ($0 as? ConvLayer)?.kernel })")
        // Non-trivial γ, β so their gradients and effects are exercised.
        for (name, _, values) in network.namedTensors() where name.hasSuffix(".scale") || name.hasSuffix(".bias") {
            if network.store.index(named: name) != nil {
                let r = randomFloats(values.count, seed: UInt64(name.utf8.count), scale: 0.3)
                try network.setTensor(name, r.map { name.hasSuffix(".scale") ? 1 + $0 : $0 })
            }
        }
        let n = t.batch, k = network.outputCount
        var x = randomFloats(n * t.input.reduce(1, *), seed: 99)
        let labels = (0..<n).map { $0 % k }
        let targets = randomFloats(n * k, seed: 5)
        var labels32 = labels.map(Int32.init)

        // Float analytic gradients.
        network.reserve(batch: n)
        var dOut = [Float](repeating: 0, count: n * k), probs = dOut
        let out = try x.withUnsafeMutableBufferPointer { try network.forward($0.baseAddress!, batch: n, mode: .training) }
        let floatLoss: Double
        if t.task == .classification {
            floatLoss = Loss.softmaxCrossEntropy(logits: out, labels: &labels32, rows: n, columns: k, probabilities: &probs,
                                                 gradient: &dOut, gradientScale: 1 / Float(n)) / Double(n)
        } else {
            floatLoss = Loss.squaredError(prediction: out, target: targets, count: n * k, gradient: &dOut,
                                          gradientScale: 1 / Float(n * k)) / Double(n * k)
        }
        network.backward(&dOut, batch: n)

        var ref = ReferenceNetwork(network)
        for (unit, layer) in zip(network.units.filter({ if case .dropout = $0.spec { return true }; return false }),
                                 network.layers.compactMap({ $0 as? DropoutLayer })) {
            ref.masks[unit.name] = layer.mask.array(n * layer.outputCount).map(Double.init)
        }
        let xd = x.map(Double.init)
        let td = targets.map(Double.init)
        func loss(_ r: ReferenceNetwork) -> Double { r.loss(xd, batch: n, labels: labels, targets: td) }
        #expect(abs(loss(ref) - floatLoss) < 1e-4 * (1 + abs(floatLoss)), "loss \(t)")

        let h = 1e-6
        for entry in network.store.entries {
            let analytic = Array(UnsafeBufferPointer(start: network.store.gradients + entry.offset, count: entry.count))
            var numeric = [Double](repeating: 0, count: entry.count)
            for i in 0..<entry.count {
                var plus = ref, minus = ref
                plus.parameters[entry.name]![i] += h
                minus.parameters[entry.name]![i] -= h
                numeric[i] = (loss(plus) - loss(minus)) / (2 * h)
            }
            let scale = numeric.map(abs).max() ?? 0
            var worst = 0.0
            for i in 0..<entry.count { worst = max(worst, abs(Double(analytic[i]) - numeric[i])) }
            #expect(worst <= 2e-3 * scale + 1e-5, "\(t): \(entry.name) max error \(worst), gradient scale \(scale)")
            #expect(scale > 0 || entry.name.hasSuffix(".bias"), "\(t): \(entry.name) has an all-zero gradient")
        }
    }

    @Test func singleValuePerChannelIsAnError() throws {
        let specs = try ArchitectureSpec.parse("d4-bn-relu-d2", activation: .relu)
        let network = try Network(inputShape: [3], layers: specs, task: .classification, initializer: .he, seed: 1)
        network.reserve(batch: 2)
        var x: [Float] = [1, 2, 3]
        #expect(throws: TrainingError.self) {
            try x.withUnsafeMutableBufferPointer { _ = try network.forward($0.baseAddress!, batch: 1, mode: .training) }
        }
        // Inference on one example is fine.
        let y = try x.withUnsafeMutableBufferPointer { try network.forward($0.baseAddress!, batch: 1, mode: .inference) }
        #expect(y[0].isFinite && y[1].isFinite)
    }

    @Test func spatialBatchOfOneImageTrains() throws {
        // One image still has H·W values per channel: not an error.
        let specs = try ArchitectureSpec.parse("c2-bn-relu-d2", activation: .relu, imageInput: true)
        let network = try Network(inputShape: [1, 3, 3], layers: specs, task: .classification, initializer: .he, seed: 1)
        network.reserve(batch: 1)
        var x = randomFloats(9, seed: 3)
        let y = try x.withUnsafeMutableBufferPointer { try network.forward($0.baseAddress!, batch: 1, mode: .training) }
        #expect(y[0].isFinite)
    }
}
