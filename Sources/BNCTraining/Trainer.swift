import BNCData
import BNCKernels

/// Hyper-parameters of a training run.
public struct TrainingOptions: Equatable, Sendable {
    public var epochs: Int
    public var batchSize: Int
    public var optimizer: OptimizerKind
    /// L2 weight decay λ (see `OptimizerKind`).
    public var weightDecay: Float
    /// Seeds weights (stream 0), the shuffle of each epoch and dropout masks (derived per epoch).
    public var seed: UInt64

    public init(epochs: Int, batchSize: Int, optimizer: OptimizerKind, weightDecay: Float = 0, seed: UInt64) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.optimizer = optimizer
        self.weightDecay = weightDecay
        self.seed = seed
    }
}

/// Progress within an epoch, for progress bars.
public struct StepProgress: Sendable {
    public var epoch: Int
    public var step: Int, steps: Int
    public var samples: Int
    /// Mean training loss of the epoch so far.
    public var runningLoss: Double
    public var seconds: Double
}

/// Loss (and accuracy for classification) of a network on a data set, in inference mode.
public struct Evaluation: Equatable, Sendable {
    /// Mean cross-entropy, or mean squared error for regression.
    public var loss: Double
    /// Fraction of correctly classified examples; nil for regression.
    public var accuracy: Double?
}

/// Mini-batch training of a `Network` with its loss (softmax cross-entropy for classes, MSE
/// for values) and optimizer.
///
/// Determinism: epoch e shuffles with `SeededGenerator(seed: derived(seed, e))` and dropout
/// draws from another stream derived the same way, so an epoch's work depends only on the
/// weights and optimizer state at its start. That is what lets a checkpoint (weights, moving
/// statistics, optimizer state, epoch count) resume to the same bits as an uninterrupted run.
/// A final batch of one example is skipped when the network has BN (it cannot be normalized).
///
/// Data-parallel (`DataParallel`): `options.batchSize` is the global batch. Every process
/// draws the same shuffled order and takes its contiguous share of each global batch
/// (`DataParallel.share`: the epoch's partial last batch as even as possible, possibly
/// empty), so every process runs the same steps and makes the same collective calls. A
/// step's loss is scaled by 1/(global batch), and the gradients and loss are summed over
/// the processes in one reduction of the flat gradient buffer before the optimizer runs:
/// every process then holds the same weights and optimizer state. Evaluation and the
/// population statistics are sharded the same way and their sums reduced.
public final class Trainer {
    public let network: Network
    public let options: TrainingOptions
    /// The processes of a data-parallel run; nil for one process.
    public let parallel: DataParallel?
    /// Examples per process in a full step (the global batch / processes).
    public let processBatch: Int
    let optimizer: Optimizer
    /// Epochs completed.
    public internal(set) var epochsCompleted = 0
    /// Called after every step when set (recording for reports); nil costs nothing.
    public var observer: (any TrainingObserver)?

    private let x = FloatBuffer(count: 0)
    private let dOutput = FloatBuffer(count: 0)
    private let probabilities = FloatBuffer(count: 0)
    private let labels = Buffer<Int32>(count: 0)
    private let values = FloatBuffer(count: 0)
    private let classes = Buffer<Int32>(count: 0)
    private var order: [Int] = []
    /// The last finite mean batch loss and its optimizer step, for the message when one is not.
    private var lastFinite: (step: Int, loss: Double)?

    public init(network: Network, options: TrainingOptions, parallel: DataParallel? = nil) throws(TrainingError) {
        guard options.batchSize >= 1 else { throw TrainingError(place: "--batch-size", problem: "must be at least 1") }
        let processes = parallel?.group.size ?? 1
        if let problem = DataParallel.indivisibleBatch(options.batchSize, over: processes) { throw problem }
        self.network = network
        self.options = options
        self.parallel = processes > 1 ? parallel : nil
        processBatch = options.batchSize / processes
        optimizer = Optimizer(options.optimizer, weightDecay: options.weightDecay, store: network.store)
        network.shareBatchNormStatistics(over: self.parallel?.batchNorm == .global ? self.parallel?.group : nil)
        reserve(processBatch)
    }

    /// Processes in the run (1 without `DataParallel`).
    public var processes: Int { parallel?.group.size ?? 1 }

    /// Optimizer updates applied so far.
    public var steps: Int { optimizer.step }

    private func reserve(_ batch: Int) {
        network.reserve(batch: batch)
        x.reserve(batch * network.inputShape.reduce(1, *))
        dOutput.reserve(batch * network.outputCount)
        probabilities.reserve(batch * network.outputCount)
        labels.reserve(batch)
        values.reserve(batch)
        classes.reserve(batch)
    }

    /// A seed for (stream, epoch) derived from the run's seed.
    static func derivedSeed(_ seed: UInt64, stream: UInt64, epoch: Int) -> UInt64 {
        var g = SeededGenerator(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
        var s = g.next()
        for _ in 0...epoch { s = g.next() }
        return s
    }

    /// Trains one epoch (the next one) over `data`; returns the mean training loss.
    public func trainEpoch(_ data: Examples, progress: ((StepProgress) -> Void)? = nil) throws(TrainingError) -> Double {
        try checkCompatible(data)
        let epoch = epochsCompleted
        var shuffle = SeededGenerator(seed: Trainer.derivedSeed(options.seed, stream: 1, epoch: epoch))
        network.dropoutRandom.generator = SeededGenerator(seed: Trainer.derivedSeed(options.seed, stream: 2, epoch: epoch))
        if order.count != data.count { order = Array(0..<data.count) }
        for i in 0..<data.count { order[i] = i }
        shuffle.shuffle(&order)
        let b = options.batchSize
        let starts = batchStarts(data.count)
        try checkShards(starts, count: data.count)
        let clock = ContinuousClock()
        let start = clock.now
        var totalLoss = 0.0, samples = 0
        for (step, s) in starts.enumerated() {
            let global = min(s + b, data.count) - s
            let share = DataParallel.share(parallel?.group.rank ?? 0, of: global, among: processes)
            let indices = order[(s + share.lowerBound)..<(s + share.upperBound)]
            // The loss of the whole global batch (summed over the processes): every process
            // sees the same value, so all stop at the same step.
            let loss = try trainStep(data, indices, globalCount: global, before: share.lowerBound)
            guard loss.isFinite else {
                throw diverged(loss / Double(global), epoch: epoch + 1, step: step + 1, steps: starts.count)
            }
            lastFinite = (optimizer.step, loss / Double(global))
            totalLoss += loss
            samples += global
            if let observer { try observer.trainer(self, didFinishStep: optimizer.step, batchLoss: loss / Double(global)) }
            if let progress {
                let elapsed = clock.now - start
                progress(StepProgress(epoch: epoch, step: step + 1, steps: starts.count, samples: samples,
                                      runningLoss: totalLoss / Double(samples), seconds: elapsed.seconds))
            }
        }
        if let parallel {
            if parallel.batchNorm == .local { network.broadcastMovingStatistics(from: 0, over: parallel.group) }
            let differing = parallel.group.ranksDiffering(from: network.stateDigest())
            guard differing.isEmpty else {
                throw TrainingError(
                    place: "epoch \(epoch + 1)",
                    problem: "process\(differing.count == 1 ? "" : "es") \(differing.map(String.init).joined(separator: ", ")) no longer hold\(differing.count == 1 ? "s" : "") the weights of process 0 (a fault of bnc or of the machine); the last checkpoint is from before this epoch")
            }
        }
        epochsCompleted += 1
        return samples > 0 ? totalLoss / Double(samples) : 0
    }

    /// The error that stops training at a non-finite loss (Keras's TerminateOnNaN): the step,
    /// the value, and the last finite loss before it.
    private func diverged(_ loss: Double, epoch: Int, step: Int, steps: Int) -> TrainingError {
        let last = lastFinite.map { "last finite loss \($0.loss) at step \($0.step)" } ?? "no step before it had a finite loss"
        return TrainingError(
            place: "epoch \(epoch), step \(step) of \(steps) (step \(optimizer.step) overall)",
            problem: "the training loss is \(loss.isNaN ? "NaN" : loss > 0 ? "+Inf" : "-Inf") (\(last))", kind: .diverged)
    }

    /// Refuses, before the first step, a data-parallel epoch in which BN with per-process
    /// statistics (`BatchNormSync.local`) would get one example on a process: every process
    /// computes the same verdict, so none is left waiting.
    private func checkShards(_ starts: [Int], count: Int) throws(TrainingError) {
        guard let parallel, parallel.batchNorm == .local, network.hasPerFeatureBatchNorm,
              let last = starts.last else { return }
        let n = parallel.group.size
        for global in Set([min(options.batchSize, count - starts[0]), count - last]) {
            let sizes = (0..<n).map { DataParallel.share($0, of: global, among: n).count }
            if let rank = sizes.firstIndex(of: 1) {
                throw TrainingError(
                    place: "--bn-sync local",
                    problem: "a global batch of \(global) over \(n) processes gives process \(rank) one example (shares \(sizes.map(String.init).joined(separator: ", "))), which a BN cannot normalize by itself; use --bn-sync global, or a batch size and example count that leave every process 0 or at least 2 examples")
            }
        }
    }

    /// The first position (in the epoch's shuffled order) of each batch of an epoch over
    /// `count` examples.
    func batchStarts(_ count: Int) -> [Int] {
        var starts = Array(stride(from: 0, to: count, by: options.batchSize))
        if let last = starts.last, count - last == 1, !network.batchNormLayers.isEmpty, starts.count > 1 {
            starts.removeLast()
        }
        return starts
    }

    /// Optimizer steps in one epoch over `count` examples (a last batch of one is skipped
    /// when the network has BN).
    public func stepsPerEpoch(examples count: Int) -> Int { batchStarts(count).count }

    /// One optimizer step on the examples at `indices`, this process's share of a global
    /// batch of `globalCount` examples starting `before` examples into it; returns the SUM of
    /// the global batch's losses.
    func trainStep(
        _ data: Examples, _ indices: ArraySlice<Int>, globalCount: Int, before: Int
    ) throws(TrainingError) -> Double {
        let n = indices.count
        data.copyInputs(indices, into: x.pointer)
        data.copyTargets(indices, labels: labels.pointer, values: values.pointer)
        network.setShard(before: before, after: globalCount - before - n)
        let out = try network.forward(x.pointer, batch: n, mode: .training)
        var loss = lossAndGradient(out, batch: n, gradient: dOutput.pointer, scaleCount: globalCount)
        network.backward(dOutput.pointer, batch: n)
        if let parallel {
            // One reduction: every gradient and, in the slot after them, the loss.
            let store = network.store
            store.lossSlot.pointee = Float(loss)
            parallel.group.sum(store.gradients, count: store.count + 1)
            loss = Double(store.lossSlot.pointee)
        }
        optimizer.update()
        return loss
    }

    /// Sum of losses of the batch; writes ∂(mean loss)/∂output when `gradient` is given, the
    /// mean over `scaleCount` examples (the global batch; default this batch).
    private func lossAndGradient(
        _ out: UnsafeMutablePointer<Float>, batch n: Int, gradient: UnsafeMutablePointer<Float>?, scaleCount: Int? = nil
    ) -> Double {
        let k = network.outputCount
        let total = scaleCount ?? n
        if network.isClassifier {
            return Loss.softmaxCrossEntropy(logits: out, labels: labels.pointer, rows: n, columns: k,
                                            probabilities: probabilities.pointer, gradient: gradient,
                                            gradientScale: 1 / Float(total))
        } else {
            return Loss.squaredError(prediction: out, target: values.pointer, count: n * k, gradient: gradient,
                                     gradientScale: 1 / Float(total * k))
        }
    }

    /// Loss and accuracy in inference mode (moving BN statistics), in batches of the
    /// training batch size (per process). Data-parallel: each process evaluates its
    /// contiguous share of `data` and the sums are reduced (inference-mode BN shares nothing).
    public func evaluate(_ data: Examples) throws(TrainingError) -> Evaluation {
        try checkCompatible(data)
        let b = processBatch
        let share = DataParallel.share(parallel?.group.rank ?? 0, of: data.count, among: processes)
        var total = 0.0, correct = 0
        var s = share.lowerBound
        while s < share.upperBound {
            let e = min(s + b, share.upperBound)
            let indices = ArraySlice(s..<e)
            let n = e - s
            data.copyInputs(indices, into: x.pointer)
            data.copyTargets(indices, labels: labels.pointer, values: values.pointer)
            let out = try network.forward(x.pointer, batch: n, mode: .inference)
            total += lossAndGradient(out, batch: n, gradient: nil)
            if network.isClassifier {
                Softmax.argmax(out, rows: n, columns: network.outputCount, into: classes.pointer)
                for i in 0..<n where classes.pointer[i] == labels.pointer[i] { correct += 1 }
            }
            s = e
        }
        if let parallel {
            let sums = parallel.group.sumInRankOrder([total, Double(correct)])
            total = sums[0]
            correct = Int(sums[1])
        }
        let count = max(data.count, 1)
        return Evaluation(
            loss: total / Double(count * (network.isClassifier ? 1 : network.outputCount)),
            accuracy: network.isClassifier ? Double(correct) / Double(count) : nil)
    }

    private func checkCompatible(_ data: Examples) throws(TrainingError) {
        guard data.inputShape == network.inputShape else {
            throw TrainingError(place: "data", problem: "examples have shape \(data.inputShape), the network takes \(network.inputShape)")
        }
        switch data.targets {
        case .classes(_, let k):
            guard network.isClassifier else {
                throw TrainingError(place: "data", problem: "has \(k) classes, but the network is a regression (it does not end in Softmax) with \(network.outputCount) output\(network.outputCount == 1 ? "" : "s")")
            }
            guard k == network.outputCount else {
                throw TrainingError(place: "data", problem: "has \(k) classes, but the network's last layer has \(network.outputCount) outputs")
            }
        case .values:
            guard !network.isClassifier else {
                throw TrainingError(place: "data", problem: "regression targets, but the network is a classifier")
            }
        }
    }
}

extension Network {
    /// Whether the task is classification.
    public var isClassifier: Bool { task == .classification }
}

extension Duration {
    /// The duration in seconds as a Double.
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) * 1e-18
    }
}
