import BNCKernels

/// How a batch-norm layer keeps its moving statistics.
public struct BatchNormSettings: Equatable, Sendable {
    /// Added to the variance before the square root. Keras default 1e-3.
    public var epsilon: Float
    /// Weight of the OLD value in the moving averages (ONNX and Keras meaning):
    /// running = momentum·running + (1 − momentum)·batch. Keras default 0.99.
    public var momentum: Float
    /// Whether the moving variance is fed the unbiased batch variance (m/(m − 1) correction)
    /// instead of the biased one the batch is normalized with.
    public var unbiasedVariance: Bool

    public init(epsilon: Float = 1e-3, momentum: Float = 0.99, unbiasedVariance: Bool = false) {
        self.epsilon = epsilon
        self.momentum = momentum
        self.unbiasedVariance = unbiasedVariance
    }

    /// "biased" or "unbiased", as recorded in model metadata.
    public var varianceEstimator: String { unbiasedVariance ? "unbiased" : "biased" }
    /// The moving-average rule, as recorded in model metadata.
    public static let momentumConvention = "running = momentum*running + (1-momentum)*batch"
}

/// Batch normalization over (N, C, S): S = 1 after a dense layer (per feature), S = H·W after a
/// convolution (per channel), with an optional activation fused after it
/// (y = act(γ·x̂ + β)). Parameters γ (C) "scale" and β (C) "bias" when learned; moving mean
/// and variance (C) are state, not parameters.
final class BatchNormLayer: Layer {
    let name: String
    let channels: Int, spatial: Int
    let inputCount: Int, outputCount: Int
    let settings: BatchNormSettings
    let store: ParameterStore
    let scale: Int?, shift: Int?
    /// Fused activation (the network removes the separate activation layer).
    var activation: Activation = .identity
    /// Moving statistics (C).
    let runningMean: FloatBuffer, runningVariance: FloatBuffer
    private let batchMean: FloatBuffer, batchVariance: FloatBuffer, invStd: FloatBuffer
    private let a: FloatBuffer, b: FloatBuffer
    private let dgammaScratch: FloatBuffer, dbetaScratch: FloatBuffer
    /// γ = 1 and β = 0 stand-ins when they are not learned.
    private let ones: FloatBuffer, zeros: FloatBuffer
    /// Whether `a`, `b` must be recomputed (parameters or statistics changed).
    var coefficientsStale = true
    private let normalized = FloatBuffer(count: 0)
    private let output = FloatBuffer(count: 0)
    private let inputGradient = FloatBuffer(count: 0)

    init(name: String, channels: Int, spatial: Int, center: Bool, scale learnScale: Bool,
         settings: BatchNormSettings, store: ParameterStore) {
        self.name = name
        self.channels = channels
        self.spatial = spatial
        inputCount = channels * spatial
        outputCount = inputCount
        self.settings = settings
        self.store = store
        scale = learnScale ? store.register(name: "\(name).scale", dims: [channels], decays: false) : nil
        shift = center ? store.register(name: "\(name).bias", dims: [channels], decays: false) : nil
        runningMean = FloatBuffer(count: channels)
        runningVariance = FloatBuffer(count: channels)
        runningVariance.pointer.update(repeating: 1, count: channels)
        batchMean = FloatBuffer(count: channels)
        batchVariance = FloatBuffer(count: channels)
        invStd = FloatBuffer(count: channels)
        a = FloatBuffer(count: channels)
        b = FloatBuffer(count: channels)
        dgammaScratch = FloatBuffer(count: channels)
        dbetaScratch = FloatBuffer(count: channels)
        ones = FloatBuffer(count: channels)
        ones.pointer.update(repeating: 1, count: channels)
        zeros = FloatBuffer(count: channels)
    }

    /// Sets γ to 1 (called once after allocation, before training).
    func initializeParameters() {
        if let scale { store.pointer(scale).update(repeating: 1, count: channels) }
        if let shift { store.pointer(shift).update(repeating: 0, count: channels) }
    }

    func reserve(batch: Int) {
        normalized.reserve(batch * inputCount)
        output.reserve(batch * inputCount)
        inputGradient.reserve(batch * inputCount)
    }

    func forward(_ x: UnsafeMutablePointer<Float>, batch: Int, mode: Mode) throws(TrainingError) -> UnsafeMutablePointer<Float> {
        let gamma = scale.map { UnsafePointer(store.pointer($0)) }
        let beta = shift.map { UnsafePointer(store.pointer($0)) }
        switch mode {
        case .training:
            coefficientsStale = true
            let m = batch * spatial
            guard m >= 2 else {
                throw TrainingError(
                    place: "layer '\(name)' (BatchNormalization)",
                    problem: "a training batch with \(m) value per channel has no variance; use batches of at least 2 examples")
            }
            BatchNorm.trainingForward(x, batch: batch, channels: channels, spatial: spatial, scale: gamma, shift: beta,
                                      epsilon: settings.epsilon, activation: activation, mean: batchMean.pointer,
                                      variance: batchVariance.pointer, invStd: invStd.pointer,
                                      normalized: normalized.pointer, output: output.pointer)
            BatchNorm.updateMovingStatistics(runningMean: runningMean.pointer, runningVariance: runningVariance.pointer,
                                             batchMean: batchMean.pointer, batchVariance: batchVariance.pointer,
                                             channels: channels, momentum: settings.momentum, count: m,
                                             unbiased: settings.unbiasedVariance)
        case .inference:
            if coefficientsStale { prepareInference() }
            BatchNorm.affine(x, batch: batch, channels: channels, spatial: spatial, a: a.pointer, b: b.pointer,
                             activation: activation, into: output.pointer)
        }
        return output.pointer
    }

    /// Normalizes x with its own batch statistics, as in training, without touching the
    /// moving statistics (for `Network.probeActivationInputs`); `visit` sees γ·x̂ + β
    /// (N, C·S) before the fused activation. Overwrites the buffers the next training
    /// forward rewrites anyway.
    func probeForward(
        _ x: UnsafeMutablePointer<Float>, batch: Int, visit: (UnsafeBufferPointer<Float>) -> Void
    ) throws(TrainingError) -> UnsafeMutablePointer<Float> {
        let m = batch * spatial
        guard m >= 2 else {
            throw TrainingError(place: "layer '\(name)' (BatchNormalization)",
                                problem: "a probe batch with \(m) value per channel has no variance")
        }
        BatchNorm.trainingForward(
            x, batch: batch, channels: channels, spatial: spatial, scale: scale.map { UnsafePointer(store.pointer($0)) },
            shift: shift.map { UnsafePointer(store.pointer($0)) }, epsilon: settings.epsilon, activation: .identity,
            mean: batchMean.pointer, variance: batchVariance.pointer, invStd: invStd.pointer,
            normalized: normalized.pointer, output: output.pointer)
        let count = batch * outputCount
        visit(UnsafeBufferPointer(start: output.pointer, count: count))
        activation.forward(output.pointer, output.pointer, count: count)
        return output.pointer
    }

    /// a, b of y = x·a + b from the moving statistics (Double, rounded once), as the runtime
    /// computes them for the exported BatchNormalization node.
    func prepareInference() {
        coefficientsStale = false
        BatchNorm.inferenceCoefficients(
            scale: scale.map { UnsafePointer(store.pointer($0)) } ?? UnsafePointer(ones.pointer),
            bias: shift.map { UnsafePointer(store.pointer($0)) } ?? UnsafePointer(zeros.pointer),
            mean: runningMean.pointer, variance: runningVariance.pointer, epsilon: Double(settings.epsilon),
            channels: channels, a: a.pointer, b: b.pointer)
    }

    func backward(_ dy: UnsafeMutablePointer<Float>, batch: Int, needInputGradient: Bool) -> UnsafeMutablePointer<Float>? {
        // γ and β gradients are needed even for the first layer, so always run the kernel.
        BatchNorm.trainingBackward(
            gradient: dy, output: output.pointer, normalized: normalized.pointer, batch: batch, channels: channels,
            spatial: spatial, scale: scale.map { UnsafePointer(store.pointer($0)) }, invStd: invStd.pointer,
            activation: activation, inputGradient: inputGradient.pointer,
            scaleGradient: scale.map { store.gradient($0) } ?? dgammaScratch.pointer,
            shiftGradient: shift.map { store.gradient($0) } ?? dbetaScratch.pointer)
        return needInputGradient ? inputGradient.pointer : nil
    }
}
