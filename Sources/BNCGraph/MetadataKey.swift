/// Keys bnc writes in `metadata_props`. All start with "bnc."; other tools ignore them.
///
/// Batch-norm conventions are recorded because frameworks disagree (PyTorch's momentum
/// weighs the new batch and its running_var is unbiased; Keras and ONNX weigh the old
/// value): a reader should never have to guess how the stored statistics were made.
public enum MetadataKey {
    /// "biased" (divide by m) or "unbiased" (m/(m−1) correction) moving-variance estimator.
    public static let bnVarianceEstimator = "bnc.bn.variance_estimator"
    /// Text of the moving-average rule, e.g. "running = momentum*running + (1-momentum)*batch".
    public static let bnMomentumConvention = "bnc.bn.momentum_convention"
    /// Momentum used in training (the node attribute carries it too).
    public static let bnMomentum = "bnc.bn.momentum"
    /// Epsilon used in training (the node attribute carries it too).
    public static let bnEpsilon = "bnc.bn.epsilon"
    /// Where the stored mean and variance come from: "moving average" (the EMA of training's
    /// batch statistics) or "population: …" (exact statistics over the training examples with
    /// the final weights, as in Ioffe & Szegedy's Algorithm 2).
    public static let bnStatistics = "bnc.bn.statistics"

    /// How raw input pixels map to the model input, e.g. "x/255".
    public static let inputScaling = "bnc.input.scaling"
    /// Class names or "regression".
    public static let task = "bnc.task"

    /// Training provenance.
    public static let trainDataset = "bnc.train.dataset"
    public static let trainArch = "bnc.train.arch"
    public static let trainEpochs = "bnc.train.epochs"
    public static let trainSeed = "bnc.train.seed"
    public static let trainOptimizer = "bnc.train.optimizer"
    public static let trainBatchSize = "bnc.train.batch_size"
    public static let trainTestAccuracy = "bnc.train.test_accuracy"
    public static let trainTestLoss = "bnc.train.test_loss"

    /// SHA-256 (hex) of the graph's initializers; see BNCModelFile's `TensorDigest`.
    public static let integritySHA256 = "bnc.integrity.sha256"

    /// Prefix of keys recording folded BN parameters: "bnc.fold.<bn node name>".
    public static let foldPrefix = "bnc.fold."
}
