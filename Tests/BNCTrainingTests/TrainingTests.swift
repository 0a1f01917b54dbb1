import BNCData
import BNCGraph
import BNCOps
import BNCKernels
import Testing
@testable import BNCTraining

/// Training loop behaviour on small synthetic data: learning, determinism, checkpoint resume,
/// optimizer rules.
struct TrainingTests {
    func trainer(_ arch: String, input: [Int], task: Task, optimizer: OptimizerKind, batch: Int, seed: UInt64 = 3,
                 activation: Activation = .relu, initializer: WeightInitializer = .he,
                 bn: BatchNormSettings = BatchNormSettings()) throws -> Trainer {
        let specs = try ArchitectureSpec.parse(arch, activation: activation, imageInput: input.count == 3)
        let net = try Network(inputShape: input, layers: specs, batchNorm: bn, task: task, initializer: initializer, seed: seed)
        return try Trainer(network: net, options: TrainingOptions(epochs: 3, batchSize: batch, optimizer: optimizer, seed: seed))
    }

    @Test func mlpLearnsBlobs() throws {
        let data = blobs(count: 300, shape: [8], seed: 1)
        let t = try trainer("d16-bn-act-d3", input: [8], task: .classification, optimizer: .adam(learningRate: 0.01), batch: 20)
        let before = try t.evaluate(data)
        var losses: [Double] = []
        for _ in 0..<3 { losses.append(try t.trainEpoch(data)) }
        let after = try t.evaluate(data)
        #expect(losses[2] < losses[0])
        #expect(after.loss < before.loss)
        #expect((after.accuracy ?? 0) > 0.95, "accuracy \(after.accuracy ?? -1)")
    }

    @Test func cnnLearnsImageBlobs() throws {
        let data = blobs(count: 90, shape: [1, 6, 6], seed: 2)
        let t = try trainer("c4-bn-act-p2-d8-bn-act-d3", input: [1, 6, 6], task: .classification,
                            optimizer: .sgd(learningRate: 0.1, momentum: 0.9), batch: 15)
        for _ in 0..<3 { _ = try t.trainEpoch(data) }
        let after = try t.evaluate(data)
        #expect((after.accuracy ?? 0) > 0.9, "accuracy \(after.accuracy ?? -1)")
    }

    /// The tutorial's net (BN on the input, 7 tanh layers, N(0, 1) init) fits the parabola.
    /// BN momentum 0.9 so that the moving statistics catch up within the few steps.
    @Test func toyRegressionLossFalls() throws {
        let data = toyExamples(count: 200, seed: 4)
        let t = try trainer("toy", input: [1], task: .regression, optimizer: .adam(learningRate: 0.01), batch: 20,
                            activation: .tanh, initializer: .normal, bn: BatchNormSettings(momentum: 0.9))
        let before = try t.evaluate(data)
        for _ in 0..<6 { _ = try t.trainEpoch(data) }
        let after = try t.evaluate(data)
        #expect(after.accuracy == nil)
        #expect(after.loss < 0.8 * before.loss, "MSE \(before.loss) → \(after.loss)")
    }

    @Test func sameSeedSameModelDifferentSeedDifferentModel() throws {
        let data = blobs(count: 64, shape: [5], seed: 9)
        func run(_ seed: UInt64) throws -> Model {
            let t = try trainer("d7-bn-act-drop0.2-d3", input: [5], task: .classification,
                                optimizer: .adam(learningRate: 0.01), batch: 10, seed: seed)
            for _ in 0..<2 { _ = try t.trainEpoch(data) }
            return ModelExport.model(t.network)
        }
        let a = try run(5), b = try run(5), c = try run(6)
        #expect(a == b)
        #expect(a != c)
    }

    /// A run checkpointed after epoch 1 and resumed in a fresh trainer ends with exactly the
    /// model of an uninterrupted run (for both optimizers with state).
    @Test(arguments: [OptimizerKind.adam(learningRate: 0.01), .sgd(learningRate: 0.001, momentum: 0.9)])
    func resumeGivesIdenticalModel(_ optimizer: OptimizerKind) throws {
        let data = toyExamples(count: 120, seed: 8)
        let arch = "bn-d8-bn-act-d8-bn-act-drop0.1-d1"
        let full = try trainer(arch, input: [1], task: .regression, optimizer: optimizer, batch: 16)
        for _ in 0..<3 { _ = try full.trainEpoch(data) }

        let first = try trainer(arch, input: [1], task: .regression, optimizer: optimizer, batch: 16)
        _ = try first.trainEpoch(data)
        let checkpoint = Checkpoint.model(first, config: "cfg")
        try ModelValidator.validate(checkpoint)

        // A fresh process: different initial weights on purpose (seed is part of config in the CLI).
        let resumed = try trainer(arch, input: [1], task: .regression, optimizer: optimizer, batch: 16)
        try Checkpoint.restore(checkpoint, into: resumed, config: "cfg")
        #expect(resumed.epochsCompleted == 1 && resumed.steps == first.steps)
        for _ in 0..<2 { _ = try resumed.trainEpoch(data) }
        let a = ModelExport.model(resumed.network), b = ModelExport.model(full.network)
        #expect(a.graph.initializers.allSatisfy { $0.floats!.allSatisfy(\.isFinite) }, "diverged: equality would be vacuous")
        #expect(a == b)
    }

    @Test func restoreRefusesOtherSettings() throws {
        let t = try trainer("d4-bn-act-d1", input: [1], task: .regression, optimizer: .adam(learningRate: 0.01), batch: 4)
        let checkpoint = Checkpoint.model(t, config: "lr=0.01")
        #expect(throws: TrainingError.self) { try Checkpoint.restore(checkpoint, into: t, config: "lr=0.1") }
        var broken = checkpoint
        broken.graph.initializers.removeAll { $0.name == "dense1.weight.m" }
        #expect(throws: TrainingError.self) { try Checkpoint.restore(broken, into: t, config: "lr=0.01") }
        #expect(throws: TrainingError.self) { try Checkpoint.restore(ModelExport.model(t.network), into: t, config: "lr=0.01") }
    }

    @Test func sgdMomentumAndAdamFollowTheirFormulas() throws {
        let store = ParameterStore()
        let w = store.register(name: "w", dims: [2], decays: true)
        let b = store.register(name: "b", dims: [1], decays: false)
        store.allocate()
        store.pointer(w).update(from: [1, -2], count: 2)
        store.pointer(b).update(from: [0.5], count: 1)
        let sgd = Optimizer(.sgd(learningRate: 0.1, momentum: 0.9), weightDecay: 0.01, store: store)
        for _ in 0..<2 {
            store.gradients.update(from: [0.2, 0.4, -1], count: 3)
            sgd.update()
        }
        // Reference in Double: g' = g + λw for weights only; v = 0.9v − 0.1g'; w += v.
        var wd: [Double] = [1, -2, 0.5], v: [Double] = [0, 0, 0]
        for _ in 0..<2 {
            for i in 0..<3 {
                let g = [0.2, 0.4, -1.0][i] + (i < 2 ? 0.01 * wd[i] : 0)
                v[i] = 0.9 * v[i] - 0.1 * g
                wd[i] += v[i]
            }
        }
        for i in 0..<3 { #expect(abs(Double(store.values[i]) - wd[i]) < 1e-6) }

        let adam = Optimizer(.adam(learningRate: 0.01), weightDecay: 0, store: store)
        let start = (0..<3).map { Double(store.values[$0]) }
        var m = [0.0, 0, 0], s = [0.0, 0, 0], x = start
        for t in 1...3 {
            let grads = [0.3 * Double(t), -0.1, 2.0]
            store.gradients.update(from: grads.map(Float.init), count: 3)
            adam.update()
            let alpha = 0.01 * (1 - pow09(0.999, t)).squareRoot() / (1 - pow09(0.9, t))
            for i in 0..<3 {
                m[i] = 0.9 * m[i] + 0.1 * grads[i]
                s[i] = 0.999 * s[i] + 0.001 * grads[i] * grads[i]
                x[i] -= alpha * m[i] / (s[i].squareRoot() + 1e-7)
            }
        }
        for i in 0..<3 { #expect(abs(Double(store.values[i]) - x[i]) < 1e-6, "adam \(i)") }
    }

    func pow09(_ b: Double, _ t: Int) -> Double { (0..<t).reduce(1.0) { r, _ in r * b } }

    @Test func movingStatisticsTrackBatchesWithOldValueMomentum() throws {
        // One BN on the input; after one training step with momentum m the moving mean is
        // (1 − m)·batch mean (it starts at 0) and the variance m·1 + (1 − m)·batch variance.
        for unbiased in [false, true] {
            let specs = try ArchitectureSpec.parse("bn-d2", activation: .relu)
            let settings = BatchNormSettings(epsilon: 1e-3, momentum: 0.9, unbiasedVariance: unbiased)
            let net = try Network(inputShape: [2], layers: specs, batchNorm: settings, task: .regression,
                                  initializer: .glorot, seed: 1)
            net.reserve(batch: 4)
            var x: [Float] = [1, 10, 2, 20, 3, 30, 6, 40]
            _ = try x.withUnsafeMutableBufferPointer { try net.forward($0.baseAddress!, batch: 4, mode: .training) }
            let tensors = Dictionary(uniqueKeysWithValues: net.namedTensors().map { ($0.name, $0.values) })
            let mean0 = 3.0, var0 = (4.0 + 1 + 0 + 9) / 4
            let mean1 = 25.0, var1 = (225.0 + 25 + 25 + 225) / 4
            let k = unbiased ? 4.0 / 3 : 1
            #expect(abs(Double(tensors["bn1.mean"]![0]) - 0.1 * mean0) < 1e-5)
            #expect(abs(Double(tensors["bn1.mean"]![1]) - 0.1 * mean1) < 1e-4)
            #expect(abs(Double(tensors["bn1.var"]![0]) - (0.9 + 0.1 * var0 * k)) < 1e-5)
            #expect(abs(Double(tensors["bn1.var"]![1]) - (0.9 + 0.1 * var1 * k)) < 1e-3)
        }
    }
}
