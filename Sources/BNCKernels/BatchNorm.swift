/// Batch normalization (Ioffe & Szegedy 2015), inference and training, with an optional fused
/// activation after it.
///
/// Layout: x (N, C, S) row-major; S = H·W for a convolution's output (statistics over N·S
/// values per channel) and S = 1 for a dense layer's output (statistics over the batch).
/// m = N·S values per channel.
///
/// Training:  μ = mean(x), σ² = mean((x − μ)²) (biased), x̂ = (x − μ)/√(σ² + ε),
///            y = act(γ·x̂ + β).
/// Inference: y = act(x·a_c + b_c) with a_c = γ/√(var + ε), b_c = β − μ·a_c from the moving
///            statistics (`inferenceCoefficients`).
public enum BatchNorm {
    /// Spatial kernels over at least this many values split channels (or samples) over the
    /// two cores; each channel's sums are computed by one thread in a fixed order either way.
    public static let parallelThreshold = 65_536

    /// a_c = γ_c/√(var_c + ε), b_c = β_c − mean_c·a_c, computed in Double and rounded once.
    /// All arrays hold `channels` values.
    public static func inferenceCoefficients(
        scale: UnsafePointer<Float>, bias: UnsafePointer<Float>, mean: UnsafePointer<Float>,
        variance: UnsafePointer<Float>, epsilon: Double, channels: Int,
        a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>
    ) {
        for c in 0..<channels {
            let ac = Double(scale[c]) / (Double(variance[c]) + epsilon).squareRoot()
            a[c] = Float(ac)
            b[c] = Float(Double(bias[c]) - Double(mean[c]) * ac)
        }
    }

    /// y[n, c, s] = act(x[n, c, s]·a[c] + b[c]). In-place allowed (y == x). Large spatial
    /// batches split their samples over the cores unless `parallel` is false.
    @inlinable
    public static func affine(
        _ x: UnsafePointer<Float>, batch n: Int, channels: Int, spatial s: Int,
        a: UnsafePointer<Float>, b: UnsafePointer<Float>, activation: Activation = .identity,
        into y: UnsafeMutablePointer<Float>, parallel: Bool = true
    ) {
        if s == 1 {
            for i in 0..<n {
                let yr = y + i * channels
                if UnsafePointer(y) == x {
                    // In place: read through `yr` itself (see `Activation.map`).
                    activation.map(count: channels, into: yr) { yr[$0] * a[$0] + b[$0] }
                } else {
                    let xr = x + i * channels
                    activation.map(count: channels, into: yr) { xr[$0] * a[$0] + b[$0] }
                }
            }
            return
        }
        let split = parallel && n * s * channels >= BatchNorm.parallelThreshold
        Parallel.forEachSlice(split) { slice in
        let samples = Parallel.range(slice, of: n, split: split)
        for i in samples {
            for c in 0..<channels {
                let off = (i * channels + c) * s
                let yp = y + off
                let ac = a[c], bc = b[c]
                if UnsafePointer(y) == x {
                    activation.map(count: s, into: yp) { yp[$0] * ac + bc }
                } else {
                    let xp = x + off
                    activation.map(count: s, into: yp) { xp[$0] * ac + bc }
                }
            }
        }
        }
    }

    /// Training-mode forward over a batch.
    ///
    /// Writes (all per channel, `channels` values): `mean` μ, `variance` σ² (biased, /m),
    /// `invStd` 1/√(σ² + ε); and per element: `normalized` x̂ (N, C, S), `output` y (N, C, S)
    /// = act(γ·x̂ + β). `scale` γ nil means 1, `shift` β nil means 0. Requires m = N·S ≥ 2
    /// (callers report m = 1 as an error: the batch variance would be 0 and x̂ = 0).
    public static func trainingForward(
        _ x: UnsafePointer<Float>, batch n: Int, channels: Int, spatial s: Int,
        scale gamma: UnsafePointer<Float>?, shift beta: UnsafePointer<Float>?, epsilon: Float,
        activation: Activation = .identity,
        mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>,
        invStd: UnsafeMutablePointer<Float>,
        normalized xhat: UnsafeMutablePointer<Float>, output y: UnsafeMutablePointer<Float>
    ) {
        let m = n * s
        precondition(m >= 2, "BatchNorm.trainingForward: \(m) value(s) per channel")
        let invM = 1 / Double(m)
        if s == 1 {
            // Dense: accumulate per column across rows (vectorizes over C).
            mean.update(repeating: 0, count: channels)
            for i in 0..<n {
                let xr = x + i * channels
                for c in 0..<channels { mean[c] += xr[c] }
            }
            for c in 0..<channels { mean[c] = Float(Double(mean[c]) * invM) }
            variance.update(repeating: 0, count: channels)
            for i in 0..<n {
                let xr = x + i * channels
                for c in 0..<channels {
                    let d = xr[c] - mean[c]
                    variance[c] += d * d
                }
            }
            for c in 0..<channels {
                let v = Double(variance[c]) * invM
                variance[c] = Float(v)
                invStd[c] = Float(1 / (v + Double(epsilon)).squareRoot())
            }
            for i in 0..<n {
                let xr = x + i * channels, hr = xhat + i * channels, yr = y + i * channels
                for c in 0..<channels { hr[c] = (xr[c] - mean[c]) * invStd[c] }
                affineRow(hr, gamma: gamma, beta: beta, count: channels, activation: activation, into: yr)
            }
            return
        }
        // Channels are independent: split them over the two cores for large batches.
        let split = n * s * channels >= BatchNorm.parallelThreshold
        Parallel.forEachSlice(split) { slice in
        for c in Parallel.range(slice, of: channels, split: split) {
            var total = 0.0
            for i in 0..<n {
                total += Double(Reduce.sum(x + (i * channels + c) * s, count: s))
            }
            let mu = Float(total * invM)
            var sq = 0.0
            for i in 0..<n {
                sq += Double(Reduce.sumOfSquaredDeviations(x + (i * channels + c) * s, count: s, mean: mu))
            }
            let v = sq * invM
            let inv = Float(1 / (v + Double(epsilon)).squareRoot())
            mean[c] = mu
            variance[c] = Float(v)
            invStd[c] = inv
            let g = gamma?[c] ?? 1, b = beta?[c] ?? 0
            for i in 0..<n {
                let off = (i * channels + c) * s
                BatchNorm.forwardRun(x + off, count: s, mean: mu, invStd: inv, gamma: g, beta: b,
                                     activation: activation, normalized: xhat + off, output: y + off)
            }
        }
        }
    }

    /// y = act(γ·h + β) over one row of `count` features (h and y distinct); γ nil means 1,
    /// β nil means 0.
    @inlinable
    static func affineRow(
        _ h: UnsafePointer<Float>, gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?, count: Int,
        activation: Activation, into y: UnsafeMutablePointer<Float>
    ) {
        switch (gamma, beta) {
        case let (g?, b?): activation.map(count: count, into: y) { h[$0] * g[$0] + b[$0] }
        case let (g?, nil): activation.map(count: count, into: y) { h[$0] * g[$0] }
        case let (nil, b?): activation.map(count: count, into: y) { h[$0] + b[$0] }
        case (nil, nil): activation.forward(h, y, count: count)
        }
    }

    /// Training-mode backward.
    ///
    /// Given dy = ∂L/∂y (N, C, S) and the forward's `output` y (read only when `activation`
    /// is not identity), `normalized` x̂ and `invStd`:
    ///   dz = dy·act′(y);  `scaleGradient` ∂L/∂γ = Σ dz·x̂;  `shiftGradient` ∂L/∂β = Σ dz
    ///   (both always written, `channels` values), and
    ///   dx = γ·invStd·(dz − ∂L/∂β/m − x̂·∂L/∂γ/m)  (N, C, S), overwritten.
    /// dx may alias dy.
    public static func trainingBackward(
        gradient dy: UnsafePointer<Float>, output y: UnsafePointer<Float>, normalized xhat: UnsafePointer<Float>,
        batch n: Int, channels: Int, spatial s: Int, scale gamma: UnsafePointer<Float>?,
        invStd: UnsafePointer<Float>, activation: Activation = .identity,
        inputGradient dx: UnsafeMutablePointer<Float>,
        scaleGradient dgamma: UnsafeMutablePointer<Float>, shiftGradient dbeta: UnsafeMutablePointer<Float>
    ) {
        let m = n * s
        let invM = 1 / Float(m)
        if s == 1 {
            dgamma.update(repeating: 0, count: channels)
            dbeta.update(repeating: 0, count: channels)
            for i in 0..<n {
                let off = i * channels
                let dyr = dy + off, hr = xhat + off, dzr = dx + off
                if activation == .identity {
                    if UnsafePointer(dzr) != dyr { dzr.update(from: dyr, count: channels) }
                } else {
                    activation.backward(output: y + off, gradient: dyr, into: dzr, count: channels)
                }
                for c in 0..<channels {
                    dbeta[c] += dzr[c]
                    dgamma[c] += dzr[c] * hr[c]
                }
            }
            for i in 0..<n {
                let off = i * channels
                let hr = xhat + off, dzr = dx + off
                if let gamma {
                    for c in 0..<channels {
                        dzr[c] = gamma[c] * invStd[c] * (dzr[c] - dbeta[c] * invM - hr[c] * dgamma[c] * invM)
                    }
                } else {
                    for c in 0..<channels {
                        dzr[c] = invStd[c] * (dzr[c] - dbeta[c] * invM - hr[c] * dgamma[c] * invM)
                    }
                }
            }
            return
        }
        let split = n * s * channels >= BatchNorm.parallelThreshold
        Parallel.forEachSlice(split) { slice in
        for c in Parallel.range(slice, of: channels, split: split) {
            var sumDz = 0.0, sumDzH = 0.0
            for i in 0..<n {
                let off = (i * channels + c) * s
                let dyp = dy + off, hp = xhat + off, dzp = dx + off
                let (a, b): (Float, Float)
                if activation == .relu {
                    // One pass: dz = y > 0 ? dy : 0 and its sums (same order as sumAndDot).
                    (a, b) = Reduce.reluMaskSumAndDot(y + off, dyp, hp, into: dzp, count: s)
                } else {
                    BatchNorm.activationBackwardRun(activation, y + off, dyp, dzp, count: s)
                    (a, b) = Reduce.sumAndDot(dzp, hp, count: s)
                }
                sumDz += Double(a)
                sumDzH += Double(b)
            }
            dbeta[c] = Float(sumDz)
            dgamma[c] = Float(sumDzH)
            let k = (gamma?[c] ?? 1) * invStd[c]
            let mb = Float(sumDz) * invM, mg = Float(sumDzH) * invM
            for i in 0..<n {
                let off = (i * channels + c) * s
                let hp = xhat + off, dzp = dx + off
                BatchNorm.backwardRun(dzp, hp, count: s, k: k, mb: mb, mg: mg)
            }
        }
        }
    }

    /// x̂ = (x − μ)·inv, y = act(γ·x̂ + β) over one contiguous run (one channel of one sample).
    @inline(never)
    static func forwardRun(
        _ x: UnsafePointer<Float>, count s: Int, mean mu: Float, invStd inv: Float, gamma g: Float, beta b: Float,
        activation: Activation, normalized h: UnsafeMutablePointer<Float>, output y: UnsafeMutablePointer<Float>
    ) {
        for j in 0..<s { h[j] = (x[j] - mu) * inv }
        activation.map(count: s, into: y) { h[$0] * g + b }
    }

    /// dz = dy·act′(y) over one run (a copy for identity; in place allowed).
    @inline(never)
    static func activationBackwardRun(
        _ activation: Activation, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
        _ dz: UnsafeMutablePointer<Float>, count s: Int
    ) {
        activation.backward(output: y, gradient: dy, into: dz, count: s)
    }

    /// dx = k·(dz − mb − x̂·mg) in place over one run.
    @inline(never)
    static func backwardRun(
        _ dz: UnsafeMutablePointer<Float>, _ h: UnsafePointer<Float>, count s: Int, k: Float, mb: Float, mg: Float
    ) {
        for j in 0..<s { dz[j] = k * (dz[j] - mb - h[j] * mg) }
    }

    /// Exponential moving average with ONNX/Keras momentum (weight of the OLD value):
    /// running = momentum·running + (1 − momentum)·batch. The batch variance (biased, /m) is
    /// multiplied by m/(m − 1) first when `unbiased`.
    public static func updateMovingStatistics(
        runningMean: UnsafeMutablePointer<Float>, runningVariance: UnsafeMutablePointer<Float>,
        batchMean: UnsafePointer<Float>, batchVariance: UnsafePointer<Float>, channels: Int,
        momentum: Float, count m: Int, unbiased: Bool
    ) {
        let correction: Float = unbiased && m > 1 ? Float(Double(m) / Double(m - 1)) : 1
        let keep = momentum, take = 1 - momentum
        for c in 0..<channels {
            runningMean[c] = keep * runningMean[c] + take * batchMean[c]
            runningVariance[c] = keep * runningVariance[c] + take * (batchVariance[c] * correction)
        }
    }
}
