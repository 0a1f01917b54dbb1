/// Everything a report is drawn from, as `bnc train --compare` writes it
/// (`<model>.compare.json`) and `bnc report` reads it back. JSON keys are snake_case; a
/// number that was not finite (a diverged loss) is written as null.
public struct ComparisonMetrics: Codable, Equatable, Sendable {
    /// The value of `format`.
    public static let formatName = "bnc-compare-metrics"
    /// The version this bnc writes and reads.
    public static let currentVersion = 1

    public var format: String
    public var version: Int
    public var settings: RunSettings
    /// The runs compared: without BN, then with BN (one run for `bnc train --json` output).
    public var runs: [RunMetrics]

    public init(settings: RunSettings, runs: [RunMetrics]) {
        format = ComparisonMetrics.formatName
        version = ComparisonMetrics.currentVersion
        self.settings = settings
        self.runs = runs
    }
}

/// What the network learns.
public enum TaskKind: String, Codable, Sendable {
    case classification, regression

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(String.self)
        guard let kind = TaskKind(rawValue: raw) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "is '\(raw)'; expected classification or regression")
        }
        self = kind
    }
}

/// The settings shared by the runs (nil when unknown, e.g. from `bnc train --json` lines).
public struct RunSettings: Codable, Equatable, Sendable {
    public var task: TaskKind
    /// "toy regression", "Fashion-MNIST", or a folder.
    public var dataset: String?
    /// The architecture as asked for (preset name or spec).
    public var arch: String?
    public var activation: String?
    public var initializer: String?
    /// e.g. "adam lr=0.01".
    public var optimizer: String?
    public var weightDecay: Double?
    public var batchSize: Int?
    public var epochs: Int?
    public var seed: UInt64?
    public var bnMomentum: Double?
    public var bnEpsilon: Double?
    public var bnVariance: String?
    /// The BN statistics saved for inference: "population" (exact, after training) or "moving".
    public var bnStatistics: String?
    public var trainExamples: Int?
    public var validationExamples: Int?
    /// Examples run through the network to record the values entering the activations.
    public var probeExamples: Int?
    /// Which examples those are, in words.
    public var probe: String?
    /// The command line that made the run.
    public var command: String?

    public init(task: TaskKind) { self.task = task }

    enum CodingKeys: String, CodingKey {
        case task, dataset, arch, activation, initializer, optimizer, seed, epochs, probe, command
        case weightDecay = "weight_decay", batchSize = "batch_size", bnMomentum = "bn_momentum"
        case bnEpsilon = "bn_epsilon", bnVariance = "bn_variance", bnStatistics = "bn_statistics"
        case trainExamples = "train_examples"
        case validationExamples = "validation_examples", probeExamples = "probe_examples"
    }
}

/// One training run.
public struct RunMetrics: Codable, Equatable, Sendable {
    /// "without BN", "with BN", or a file name.
    public var label: String
    /// Whether the network has BN (nil when unknown).
    public var batchNorm: Bool?
    /// The layers, e.g. "d30-relu-d30-relu-d1".
    public var arch: String?
    public var parameters: Int?
    /// SHA-256 of the dense/conv weights (names and values) before the first step: equal
    /// for the two runs of a comparison.
    public var initialWeightsSHA256: String?
    /// The model file written.
    public var model: String?
    /// Mean training loss of each step's batch, step 1 first.
    public var stepLoss: [Double?]
    public var epochs: [EpochMetrics]
    public var test: TestMetrics?
    /// The activations whose inputs were recorded, in network order.
    public var activations: [ActivationInfo]
    /// Distributions of the values entering each activation at a few steps.
    public var snapshots: [Snapshot]
    /// Mean value entering the first units of each activation, over time.
    public var unitMeans: UnitMeans?

    public init(label: String, batchNorm: Bool?) {
        self.label = label
        self.batchNorm = batchNorm
        stepLoss = []
        epochs = []
        activations = []
        snapshots = []
    }

    enum CodingKeys: String, CodingKey {
        case label, arch, parameters, model, epochs, test, activations, snapshots
        case batchNorm = "batch_norm", initialWeightsSHA256 = "initial_weights_sha256", stepLoss = "step_loss"
        case unitMeans = "unit_means"
    }
}

/// Figures at the end of one epoch.
public struct EpochMetrics: Codable, Equatable, Sendable {
    public var epoch: Int
    /// Mean training loss over the epoch's batches.
    public var trainLoss: Double?
    public var validationLoss: Double?
    /// Fraction correct (classification only).
    public var validationAccuracy: Double?
    /// Test-set figures after the epoch (`bnc train --test-every-epoch`).
    public var testLoss: Double?
    public var testAccuracy: Double?
    public var seconds: Double?

    public init(epoch: Int, trainLoss: Double?, validationLoss: Double?, validationAccuracy: Double?, seconds: Double?) {
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.validationLoss = validationLoss
        self.validationAccuracy = validationAccuracy
        self.seconds = seconds
    }

    enum CodingKeys: String, CodingKey {
        case epoch, seconds
        case trainLoss = "train_loss", validationLoss = "val_loss", validationAccuracy = "val_accuracy"
        case testLoss = "test_loss", testAccuracy = "test_accuracy"
    }
}

/// The test-set evaluation after training.
public struct TestMetrics: Codable, Equatable, Sendable {
    /// With the BN statistics the model was saved with.
    public var loss: Double?
    public var accuracy: Double?
    /// With BN's moving averages, when the model was saved with exact population statistics.
    public var movingAverageLoss: Double?
    public var movingAverageAccuracy: Double?

    public init(loss: Double?, accuracy: Double?) {
        self.loss = loss
        self.accuracy = accuracy
    }

    enum CodingKeys: String, CodingKey {
        case loss, accuracy
        case movingAverageLoss = "moving_average_loss", movingAverageAccuracy = "moving_average_accuracy"
    }
}

/// An activation whose input is recorded.
public struct ActivationInfo: Codable, Equatable, Sendable {
    /// Unit name, e.g. "relu2" (the same in both runs).
    public var name: String
    /// "relu", "tanh", "sigmoid".
    public var activation: String
    /// The unit that feeds it: "bn3" (γ·x̂ + β) or "dense2" (x·Wᵀ + b).
    public var source: String
    public var afterBatchNorm: Bool
    /// Per-example shape: (K) or (C, H, W).
    public var shape: [Int]

    public init(name: String, activation: String, source: String, afterBatchNorm: Bool, shape: [Int]) {
        self.name = name
        self.activation = activation
        self.source = source
        self.afterBatchNorm = afterBatchNorm
        self.shape = shape
    }

    enum CodingKeys: String, CodingKey {
        case name, activation, source, shape
        case afterBatchNorm = "after_batch_norm"
    }
}

/// The distributions of the values entering every activation after `step` optimizer steps
/// (0 = the initial weights).
public struct Snapshot: Codable, Equatable, Sendable {
    public var step: Int
    /// One per `RunMetrics.activations` entry, same order.
    public var layers: [Distribution]

    public init(step: Int, layers: [Distribution]) {
        self.step = step
        self.layers = layers
    }
}

/// Counts of values in equal bins spanning [min, max] (the smallest and largest value).
public struct Histogram: Codable, Equatable, Sendable {
    public var min: Double
    public var max: Double
    public var counts: [Int]

    public init(min: Double, max: Double, counts: [Int]) {
        self.min = min
        self.max = max
        self.counts = counts
    }
}

/// Summary of many values (the inputs of one activation over the probe examples).
public struct Distribution: Codable, Equatable, Sendable {
    /// Finite values summarized.
    public var count: Int
    /// Values that were NaN or ±∞ (left out of everything else).
    public var nonFinite: Int
    public var mean: Double?
    /// Population standard deviation.
    public var std: Double?
    /// Share of values ≤ 0: a ReLU passes nothing (and no gradient) for them.
    public var nonPositive: Double?
    /// Share of values beyond `saturationThreshold` in magnitude (tanh 2, sigmoid 4), where the
    /// activation's slope is below 0.08 (tanh) or 0.02 (sigmoid); nil for ReLU.
    public var saturated: Double?
    public var saturationThreshold: Double?
    public var histogram: Histogram?

    public init(count: Int, nonFinite: Int, mean: Double?, std: Double?, nonPositive: Double?, saturated: Double?,
                saturationThreshold: Double?, histogram: Histogram?) {
        self.count = count
        self.nonFinite = nonFinite
        self.mean = mean
        self.std = std
        self.nonPositive = nonPositive
        self.saturated = saturated
        self.saturationThreshold = saturationThreshold
        self.histogram = histogram
    }

    enum CodingKeys: String, CodingKey {
        case count, mean, std, saturated, histogram
        case nonFinite = "non_finite", nonPositive = "non_positive", saturationThreshold = "saturation_threshold"
    }
}

/// The mean value entering the first few units of each activation, at a series of steps.
public struct UnitMeans: Codable, Equatable, Sendable {
    /// Steps at which the means were taken (0 = initial weights).
    public var steps: [Int]
    public var layers: [UnitMeansLayer]

    public init(steps: [Int], layers: [UnitMeansLayer]) {
        self.steps = steps
        self.layers = layers
    }
}

/// Means for the first units of one activation: `means[u][t]` for unit u at `steps[t]`.
public struct UnitMeansLayer: Codable, Equatable, Sendable {
    /// The activation's name (as in `ActivationInfo.name`).
    public var activation: String
    public var means: [[Double?]]

    public init(activation: String, means: [[Double?]]) {
        self.activation = activation
        self.means = means
    }
}
