import BNCKernels
import Testing

@testable import BNCTraining

/// `TrainingMemory` (the size policy's figure for train and calibrate) against the bytes the
/// layers, the parameter store, the optimizer and the trainer really hold once reserved for a
/// batch: never less, and at most 10 % (+ 4 KiB) more.
@Suite struct TrainingMemoryTests {
    /// Bytes of every `Buffer` an object holds directly (found by reflection, so private
    /// buffers count too).
    static func bufferBytes(_ object: Any) -> Int {
        var total = 0
        for child in Mirror(reflecting: object).children {
            var value: Any = child.value
            // An Optional stored property: unwrap it (Mirror shows the Optional itself).
            let wrapper = Mirror(reflecting: value)
            if wrapper.displayStyle == .optional {
                guard let wrapped = wrapper.children.first?.value else { continue }
                value = wrapped
            }
            if let b = value as? Buffer<Float> { total += b.capacity * 4 }
            if let b = value as? Buffer<Int32> { total += b.capacity * 4 }
            if let list = value as? [Buffer<Float>] { total += list.reduce(0) { $0 + $1.capacity * 4 } }
        }
        return total
    }

    /// The layers' buffers, the store's parameters and gradients, the optimizer's and the
    /// trainer's buffers.
    static func allocated(_ trainer: Trainer) -> Int {
        let network = trainer.network
        return network.layers.reduce(0) { $0 + bufferBytes($1) } + network.store.count * 2 * 4
            + bufferBytes(trainer.optimizer) + bufferBytes(trainer)
    }

    /// The oneDNN convolutions' workspaces (made by `reserve`).
    static func workspaces(_ trainer: Trainer) -> Int {
        trainer.network.layers.reduce(0) { $0 + (($1 as? ConvLayer)?.direct?.workspaceBytes ?? 0) }
    }

    @Test(arguments: [
        ("mlp", [784], 128), ("mlp", [784], 1), ("cnn", [1, 28, 28], 32), ("toy", [1], 32),
        ("d64-relu-drop0.3-d10", [20], 50), ("c8k5s2v-bn-relu-p2-c4-sigmoid-d10", [3, 17, 19], 7),
    ])
    func estimateCoversWhatTheLayersAllocate(_ arch: String, _ input: [Int], _ batch: Int) throws {
        for optimizer in [OptimizerKind.adam(learningRate: 0.001), .sgd(learningRate: 0.01, momentum: 0.9), .sgd(learningRate: 0.01, momentum: 0)] {
            let specs = try ArchitectureSpec.parse(arch, activation: .relu, imageInput: input.count == 3)
            let network = try Network(inputShape: input, layers: specs, task: .classification, initializer: .he, seed: 1)
            let trainer = try Trainer(network: network, options: TrainingOptions(epochs: 1, batchSize: batch, optimizer: optimizer, seed: 1))
            let actual = Self.allocated(trainer)
            let estimate = try TrainingMemory.estimate(inputShape: input, layers: specs, optimizerSlots: optimizer.stateSlots,
                                                       oneDNN: false)
            #expect(estimate.parameters == network.parameterCount)
            let figure = estimate.bytes(batch: batch)
            #expect(figure >= actual, "\(arch) batch \(batch) \(optimizer.text): estimate \(figure) < allocated \(actual)")
            #expect(figure <= actual + actual / 10 + 4096, "\(arch) batch \(batch) \(optimizer.text): estimate \(figure) ≫ allocated \(actual)")
            // The oneDNN convolutions' workspaces: within their bound (blocks of 16 channels
            // over-count narrow layers, up to 16× for one channel), and the bound is what the
            // default estimate adds.
            let bound = try TrainingMemory.estimate(inputShape: input, layers: specs, optimizerSlots: optimizer.stateSlots,
                                                    oneDNN: true).bytes(batch: batch) - figure
            let used = Self.workspaces(trainer)
            #expect(used <= bound, "\(arch) batch \(batch): oneDNN workspaces \(used) bytes exceed their bound \(bound)")
            #expect(DNNL.isAvailable == (used > 0) || !specs.contains { if case .conv = $0 { return true }; return false })
        }
    }

    @Test func hugeSizesSaturateInsteadOfOverflowing() throws {
        // 2²⁴ × 2²⁴ × 2²⁴ inputs: 2⁷² values per example, beyond Int.
        let specs = try ArchitectureSpec.parse("flat-d16777216-d10", activation: .relu)
        let m = try TrainingMemory.estimate(inputShape: [1 << 24, 1 << 24, 1 << 24], layers: specs, optimizerSlots: 2)
        #expect(m.bytesPerExample == Int.max && m.parameters == Int.max && m.bytes(batch: 1 << 20) == Int.max)
        #expect(TrainingMemory.multiply(Int.max / 2, 3) == Int.max && TrainingMemory.add(Int.max, 1) == Int.max)
        #expect(throws: TrainingError.self) { try ArchitectureSpec.parse("d16777217-d10", activation: .relu) }
    }
}
