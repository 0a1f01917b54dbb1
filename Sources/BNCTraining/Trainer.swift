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
public final class Trainer {
    public let network: Network
    public let options: TrainingOptions
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

    public init(network: Network, options: TrainingOptions) throws(TrainingError) {
        guard options.batchSize >= 1 else { throw TrainingError(place: "--batch-size", problem: "must be at least 1") }
        self.network = network
        self.options = options
        optimizer = Optimizer(options.optimizer, weightDecay: options.weightDecay, store: network.store)
        reserve(options.batchSize)
    }

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
        let clock = ContinuousClock()
        let start = clock.now
        var totalLoss = 0.0, samples = 0
        for (step, s) in starts.enumerated() {
            let indices = order[s..<min(s + b, data.count)]
            let n = indices.count
            let loss = try trainStep(data, indices)
            guard loss.isFinite else {
                throw diverged(loss / Double(n), epoch: epoch + 1, step: step + 1, steps: starts.count)
            }
            lastFinite = (optimizer.step, loss / Double(n))
            totalLoss += loss
            samples += n
            if let observer { try observer.trainer(self, didFinishStep: optimizer.step, batchLoss: loss / Double(n)) }
            if let progress {
                let elapsed = clock.now - start
                progress(StepProgress(epoch: epoch, step: step + 1, steps: starts.count, samples: samples,
                                      runningLoss: totalLoss / Double(samples), seconds: elapsed.seconds))
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

    /// One optimizer step on the examples at `indices`; returns the SUM of their losses.
    func trainStep(_ data: Examples, _ indices: ArraySlice<Int>) throws(TrainingError) -> Double {
        let n = indices.count
        data.copyInputs(indices, into: x.pointer)
        data.copyTargets(indices, labels: labels.pointer, values: values.pointer)
        let out = try network.forward(x.pointer, batch: n, mode: .training)
        let loss = lossAndGradient(out, batch: n, gradient: dOutput.pointer)
        network.backward(dOutput.pointer, batch: n)
        optimizer.update()
        return loss
    }

    /// Sum of losses of the batch; writes ∂(mean loss)/∂output when `gradient` is given.
    private func lossAndGradient(_ out: UnsafeMutablePointer<Float>, batch n: Int, gradient: UnsafeMutablePointer<Float>?) -> Double {
        let k = network.outputCount
        if network.isClassifier {
            return Loss.softmaxCrossEntropy(logits: out, labels: labels.pointer, rows: n, columns: k,
                                            probabilities: probabilities.pointer, gradient: gradient,
                                            gradientScale: 1 / Float(n))
        } else {
            return Loss.squaredError(prediction: out, target: values.pointer, count: n * k, gradient: gradient,
                                     gradientScale: 1 / Float(n * k))
        }
    }

    /// Loss and accuracy in inference mode (moving BN statistics), in batches of the training
    /// batch size.
    public func evaluate(_ data: Examples) throws(TrainingError) -> Evaluation {
        try checkCompatible(data)
        let b = options.batchSize
        var total = 0.0, correct = 0
        var s = 0
        while s < data.count {
            let e = min(s + b, data.count)
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
