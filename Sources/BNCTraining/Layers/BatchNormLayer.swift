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
    /// The processes whose shards this BN normalizes together in training (`BatchNormSync.global`);
    /// nil: each batch (or shard) by itself.
    var group: ProcessGroup?
    /// Values per channel the last training forward normalized over (all processes' when
    /// synchronized): the m backward divides by.
    private var batchCount = 0
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
            if let group, group.size > 1 {
                try synchronizedForward(x, batch: batch, gamma: gamma, beta: beta, group: group)
                return output.pointer
            }
            let m = batch * spatial
            // An empty shard of a data-parallel step with per-process statistics: nothing
            // to normalize, and no statistics to fold into the moving averages.
            if m == 0 { return output.pointer }
            guard m >= 2 else {
                throw TrainingError(
                    place: "layer '\(name)' (BatchNormalization)",
                    problem: "a training batch with \(m) value per channel has no variance; use batches of at least 2 examples")
            }
            BatchNorm.trainingForward(x, batch: batch, channels: channels, spatial: spatial, scale: gamma, shift: beta,
                                      epsilon: settings.epsilon, activation: activation, mean: batchMean.pointer,
                                      variance: batchVariance.pointer, invStd: invStd.pointer,
                                      normalized: normalized.pointer, output: output.pointer)
            batchCount = m
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
        let gamma = scale.map { UnsafePointer(store.pointer($0)) }
        let dgamma = scale.map { store.gradient($0) } ?? dgammaScratch.pointer
        let dbeta = shift.map { store.gradient($0) } ?? dbetaScratch.pointer
        guard let group, group.size > 1 else {
            BatchNorm.trainingBackward(
                gradient: dy, output: output.pointer, normalized: normalized.pointer, batch: batch, channels: channels,
                spatial: spatial, scale: gamma, invStd: invStd.pointer, activation: activation,
                inputGradient: inputGradient.pointer, scaleGradient: dgamma, shiftGradient: dbeta)
            return needInputGradient ? inputGradient.pointer : nil
        }
        // Synchronized: this shard's Σdz and Σdz·x̂ are its share of the γ and β gradients
        // (the trainer's one gradient reduction adds the shares); dx needs the sums over
        // the whole batch, combined here, and divides by the whole batch's count.
        BatchNorm.backwardSums(gradient: dy, output: output.pointer, normalized: normalized.pointer, batch: batch,
                               channels: channels, spatial: spatial, activation: activation, into: inputGradient.pointer,
                               sumDz: dbeta, sumDzXhat: dgamma)
        guard needInputGradient else { return nil }
        var local = [Double](repeating: 0, count: 2 * channels)
        for c in 0..<channels {
            local[c] = Double(dbeta[c])
            local[channels + c] = Double(dgamma[c])
        }
        let total = group.sumInRankOrder(local)
        for c in 0..<channels {
            dbetaScratch.pointer[c] = Float(total[c])
            dgammaScratch.pointer[c] = Float(total[channels + c])
        }
        BatchNorm.backwardApply(inputGradient.pointer, normalized: normalized.pointer, batch: batch, channels: channels,
                                spatial: spatial, scale: gamma, invStd: invStd.pointer, sumDz: dbetaScratch.pointer,
                                sumDzXhat: dgammaScratch.pointer, count: batchCount)
        return inputGradient.pointer
    }

    /// Training forward with statistics over every process's shard: this shard's count, μ
    /// and M2 per channel are gathered and combined in rank order (`BatchNorm.combineStatistics`),
    /// so every process normalizes with, and folds into its moving averages, the same global
    /// mean and variance, with the global count (also for the unbiased correction).
    private func synchronizedForward(
        _ x: UnsafeMutablePointer<Float>, batch: Int, gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?,
        group: ProcessGroup
    ) throws(TrainingError) {
        let c = channels
        // [count, μ (C), M2 (C)] of this shard.
        var local = [Double](repeating: 0, count: 1 + 2 * c)
        local[0] = Double(batch * spatial)
        local.withUnsafeMutableBufferPointer { p in
            BatchNorm.partStatistics(x, batch: batch, channels: c, spatial: spatial, roundedMean: batchMean.pointer,
                                     mean: p.baseAddress! + 1, squaredDeviations: p.baseAddress! + 1 + c)
        }
        let all = group.allGather(local)
        let parts = group.size, stride = 1 + 2 * c
        var counts = [Int](repeating: 0, count: parts)
        var means = [Double](repeating: 0, count: parts * c), m2s = means
        for p in 0..<parts {
            counts[p] = Int(all[p * stride])
            for ch in 0..<c {
                means[p * c + ch] = all[p * stride + 1 + ch]
                m2s[p * c + ch] = all[p * stride + 1 + c + ch]
            }
        }
        var mean = [Double](repeating: 0, count: c), m2 = mean
        let m = BatchNorm.combineStatistics(parts: parts, channels: c, count: counts, mean: means, squaredDeviations: m2s,
                                            combinedMean: &mean, combinedSquaredDeviations: &m2)
        guard m >= 2 else {
            throw TrainingError(
                place: "layer '\(name)' (BatchNormalization)",
                problem: "a training batch with \(m) value per channel over all \(parts) processes has no variance; use global batches of at least 2 examples")
        }
        for ch in 0..<c { batchMean.pointer[ch] = Float(mean[ch]) }
        BatchNorm.finishStatistics(squaredDeviations: m2, count: m, channels: c, epsilon: settings.epsilon,
                                   variance: batchVariance.pointer, invStd: invStd.pointer)
        BatchNorm.normalize(x, batch: batch, channels: c, spatial: spatial, mean: batchMean.pointer, invStd: invStd.pointer,
                            scale: gamma, shift: beta, activation: activation, normalized: normalized.pointer,
                            output: output.pointer)
        batchCount = m
        BatchNorm.updateMovingStatistics(runningMean: runningMean.pointer, runningVariance: runningVariance.pointer,
                                         batchMean: batchMean.pointer, batchVariance: batchVariance.pointer,
                                         channels: c, momentum: settings.momentum, count: m,
                                         unbiased: settings.unbiasedVariance)
    }
}
