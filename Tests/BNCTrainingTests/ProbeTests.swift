import BNCData
import BNCGraph
import BNCKernels
import Testing
@testable import BNCTraining

/// The recording hooks `bnc train --compare` uses: the step observer and the activation
/// probe. They must report the right values and leave training's bits alone.
struct ProbeTests {
    func network(_ arch: String, input: [Int], task: Task = .regression, batchNorm: Bool = true, seed: UInt64 = 7,
                 initializer: WeightInitializer = .normal, activation: Activation = .relu) throws -> Network {
        let specs = try ArchitectureSpec.parse(arch, activation: activation, batchNorm: batchNorm, imageInput: input.count == 3)
        return try Network(inputShape: input, layers: specs, task: task, initializer: initializer, seed: seed)
    }

    /// Probes after every step (on more examples than a batch, so buffers grow) and records
    /// the step losses.
    final class ProbingObserver: TrainingObserver {
        let probe: Examples
        var losses: [Double] = []
        var steps: [Int] = []
        var probed = 0
        init(probe: Examples) { self.probe = probe }
        func trainer(_ trainer: Trainer, didFinishStep step: Int, batchLoss: Double) throws(TrainingError) {
            losses.append(batchLoss)
            steps.append(step)
            try trainer.network.probeActivationInputs(probe) { _, values in probed += values.count }
        }
    }

    /// With dropout (random draws), BN (moving statistics) and Adam state, a run probed after
    /// every step ends with exactly the model of a run without an observer.
    @Test(arguments: ["bn-d8-bn-act-d8-bn-act-drop0.2-d1", "d8-act-d8-act-d1"])
    func probingLeavesTrainingBitsAlone(_ arch: String) throws {
        let data = toyExamples(count: 90, seed: 3)
        let probe = toyExamples(count: 70, seed: 4)
        func train(observed: Bool) throws -> (Model, ProbingObserver?, [Double]) {
            let net = try network(arch, input: [1])
            let t = try Trainer(network: net, options: TrainingOptions(epochs: 2, batchSize: 16, optimizer: .adam(learningRate: 0.01), seed: 5))
            let observer = observed ? ProbingObserver(probe: probe) : nil
            t.observer = observer
            if let observer { try net.probeActivationInputs(probe) { _, values in observer.probed += values.count } }
            var epochLosses: [Double] = []
            for _ in 0..<2 { epochLosses.append(try t.trainEpoch(data)) }
            _ = try t.evaluate(probe)
            return (ModelExport.model(net), observer, epochLosses)
        }
        let (plain, _, _) = try train(observed: false)
        let (probed, observer, epochLosses) = try train(observed: true)
        #expect(plain == probed)
        let o = try #require(observer)
        #expect(o.steps == Array(1...12))  // 90 examples in batches of 16: 6 steps per epoch
        #expect(o.probed > 0)
        // The batch losses average (weighted by batch size) to the epoch loss.
        let sizes = [16, 16, 16, 16, 16, 10]
        for epoch in 0..<2 {
            let sum = zip(o.losses[(epoch * 6)..<(epoch * 6 + 6)], sizes).reduce(0.0) { $0 + $1.0 * Double($1.1) }
            #expect(abs(sum / 90 - epochLosses[epoch]) <= 1e-9 * max(1, epochLosses[epoch]))
        }
    }

    /// The values entering each activation, against a Double reference built from the
    /// exported tensors: dense x·Wᵀ (+ b), BN with the probe batch's statistics γ·x̂ + β.
    @Test func probeValuesMatchAReference() throws {
        let data = blobs(count: 40, shape: [5], seed: 11)
        let probe = blobs(count: 12, shape: [5], seed: 12)
        for batchNorm in [true, false] {
            let net = try network("d4-bn-act-d3-bn-act-d3", input: [5], task: .classification, batchNorm: batchNorm)
            let t = try Trainer(network: net, options: TrainingOptions(epochs: 1, batchSize: 10, optimizer: .adam(learningRate: 0.05), seed: 1))
            _ = try t.trainEpoch(data)  // γ, β and the biases move away from 1 and 0
            let before = net.namedTensors().map(\.values)
            var got: [(ActivationSite, [Float])] = []
            try net.probeActivationInputs(probe) { site, values in got.append((site, Array(values))) }
            // Nothing training keeps changed (moving statistics included).
            #expect(net.namedTensors().map(\.values) == before)

            let tensors = Dictionary(uniqueKeysWithValues: net.namedTensors().map { ($0.name, $0.values) })
            var x: [[Double]] = (0..<12).map { i in
                var row = [Float](repeating: 0, count: 5)
                probe.copyInputs(ArraySlice([i]), into: &row)
                return row.map(Double.init)
            }
            #expect(got.map(\.0.name) == ["relu1", "relu2"])
            #expect(got.map(\.0.source) == (batchNorm ? ["bn1", "bn2"] : ["dense1", "dense2"]))
            #expect(got.map(\.0.afterBatchNorm) == [batchNorm, batchNorm])
            for (layer, units) in [(1, 4), (2, 3)] {
                let w = try #require(tensors["dense\(layer).weight"]).map(Double.init)  // (units, in)
                let inputs = x[0].count
                var z = x.map { row in
                    (0..<units).map { u in (0..<inputs).reduce(0.0) { $0 + row[$1] * w[u * inputs + $1] } + Double(tensors["dense\(layer).bias"]?[u] ?? 0) }
                }
                if batchNorm {
                    let gamma = try #require(tensors["bn\(layer).scale"]), beta = try #require(tensors["bn\(layer).bias"])
                    for u in 0..<units {
                        let mean = z.reduce(0.0) { $0 + $1[u] } / 12
                        let variance = z.reduce(0.0) { $0 + ($1[u] - mean) * ($1[u] - mean) } / 12
                        for i in 0..<12 {
                            z[i][u] = Double(gamma[u]) * (z[i][u] - mean) / (variance + 1e-3).squareRoot() + Double(beta[u])
                        }
                    }
                }
                let values = got[layer - 1].1
                #expect(values.count == 12 * units)
                #expect(got[layer - 1].0.shape == [units])
                for i in 0..<12 {
                    for u in 0..<units {
                        // Float sums of ≤ 5 terms and a Float BN: well within 1e-4 of the scale.
                        #expect(abs(Double(values[i * units + u]) - z[i][u]) <= 1e-4 * max(1, abs(z[i][u])))
                    }
                }
                x = z.map { $0.map { max($0, 0) } }  // ReLU
            }
        }
    }

    /// Convolutions: one site per activation with its (C, H, W) shape, fed by the conv or BN.
    @Test func convolutionSitesHaveChannelShapes() throws {
        let data = blobs(count: 8, shape: [1, 6, 6], seed: 2)
        for batchNorm in [true, false] {
            let net = try network("c3-bn-act-p2-d4-bn-act-d3", input: [1, 6, 6], task: .classification, batchNorm: batchNorm,
                                  initializer: .he)
            var sites: [ActivationSite] = []
            var counts: [Int] = []
            try net.probeActivationInputs(data) { site, values in
                sites.append(site)
                counts.append(values.count)
            }
            #expect(sites == net.activationSites)
            #expect(sites.map(\.shape) == [[3, 6, 6], [4]])
            #expect(sites.map(\.source) == (batchNorm ? ["bn1", "bn2"] : ["conv1", "dense1"]))
            #expect(counts == [8 * 3 * 36, 8 * 4])
        }
    }

    /// A network and its --no-bn twin from the same seed start from the same dense/conv
    /// weights (BN layers and biases draw nothing), for every preset.
    @Test(arguments: [("toy", [1]), ("mlp", [784]), ("cnn", [1, 28, 28])])
    func twinsWithAndWithoutBNStartFromTheSameWeights(_ arch: String, _ input: [Int]) throws {
        for initializer in [WeightInitializer.normal, .he, .glorot] {
            let with = try network(arch, input: input, batchNorm: true, seed: 9, initializer: initializer)
            let without = try network(arch, input: input, batchNorm: false, seed: 9, initializer: initializer)
            let a = with.namedTensors().filter { $0.name.hasSuffix(".weight") }
            let b = without.namedTensors().filter { $0.name.hasSuffix(".weight") }
            #expect(!a.isEmpty)
            #expect(a.map(\.name) == b.map(\.name))
            #expect(a.map(\.values) == b.map(\.values))
            // The twin without BN has the biases BN's β replaced; they start at 0.
            let biases = without.namedTensors().filter { $0.name.hasPrefix("dense") || $0.name.hasPrefix("conv") }
                .filter { $0.name.hasSuffix(".bias") }
            #expect(biases.count == a.count)
            #expect(biases.allSatisfy { $0.values.allSatisfy { $0 == 0 } })
            #expect(with.activationSites.map(\.name) == without.activationSites.map(\.name))
        }
    }
}
