import BNCData
import Testing

@testable import BNCTraining

/// Which parameters L2 weight decay touches (issue 19, test strength): dense and conv
/// weights, never biases or BN's γ and β. One SGD step (no momentum, learning rate η) with
/// decay λ and one without, from the same weights on the same batch: every weight differs by
/// η·λ·w, every other tensor is bit for bit the same.
@Suite struct WeightDecayTests {
    @Test func onlyDenseAndConvWeightsDecay() throws {
        let specs = try ArchitectureSpec.parse("c2-bn-relu-flat-d4-relu-d3", activation: .relu, imageInput: true)
        let data = blobs(count: 6, shape: [1, 4, 4], seed: 3)
        let lr: Float = 0.1, lambda: Float = 0.5
        var after: [[String: [Float]]] = []
        var before: [String: [Float]] = [:]
        for decay in [0, lambda] {
            let net = try Network(inputShape: [1, 4, 4], layers: specs, task: .classification, initializer: .he, seed: 9)
            before = Dictionary(uniqueKeysWithValues: net.namedTensors().map { ($0.name, $0.values) })
            let trainer = try Trainer(network: net, options: TrainingOptions(
                epochs: 1, batchSize: 6, optimizer: .sgd(learningRate: lr, momentum: 0), weightDecay: decay, seed: 1))
            _ = try trainer.trainEpoch(data)
            #expect(trainer.steps == 1)
            after.append(Dictionary(uniqueKeysWithValues: net.namedTensors().map { ($0.name, $0.values) }))
        }
        let names = after[0].keys.sorted()
        #expect(names.contains("conv1.weight") && names.contains("dense1.bias") && names.contains("bn1.scale") && names.contains("bn1.bias"))
        for name in names {
            let plain = after[0][name]!, decayed = after[1][name]!, w = before[name]!
            if name.hasSuffix(".weight") {
                // w − η(g + λw) − (w − ηg) = −ηλw, up to the rounding of g + λw (a few ulps
                // of |g| + |λw| ≤ 2, times η): 1e-6 absolute.
                for i in w.indices {
                    #expect(abs((plain[i] - decayed[i]) - lr * lambda * w[i]) < 1e-6, "\(name)[\(i)]")
                }
                #expect(plain != decayed, "\(name) did not decay")
            } else {
                #expect(plain == decayed, "\(name) decayed")
            }
        }
    }
}
