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
                // The affine, then the activation in place, both while the row is in L1:
                // fused, the loop over three or four pointers stayed scalar (see
                // `Elementwise.addRowBias`).
                if UnsafePointer(y) == x {
                    for c in 0..<channels { yr[c] = yr[c] * a[c] + b[c] }
                } else {
                    let xr = x + i * channels
                    for c in 0..<channels { yr[c] = xr[c] * a[c] + b[c] }
                }
                activation.forwardInPlace(yr, count: channels)
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

    /// Training-mode forward over a batch: `statistics`, `finishStatistics` and `normalize`
    /// in one pass (channel by channel for S > 1, so each channel's values are read while
    /// they are in cache). A data-parallel run calls the three pieces itself and combines
    /// the processes' statistics in between (`combineStatistics`).
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
        if s == 1 {
            withUnsafeTemporaryAllocation(of: Double.self, capacity: channels) { m2 in
                statistics(x, batch: n, channels: channels, spatial: 1, mean: mean, squaredDeviations: m2.baseAddress!)
                finishStatistics(squaredDeviations: m2.baseAddress!, count: m, channels: channels, epsilon: epsilon,
                                 variance: variance, invStd: invStd)
            }
            normalize(x, batch: n, channels: channels, spatial: 1, mean: mean, invStd: invStd, scale: gamma, shift: beta,
                      activation: activation, normalized: xhat, output: y)
            return
        }
        let invM = 1 / Double(m)
        // Channels are independent: split them over the two cores for large batches.
        let split = n * s * channels >= BatchNorm.parallelThreshold
        Parallel.forEachSlice(split) { slice in
        for c in Parallel.range(slice, of: channels, split: split) {
            let (mu, sq) = channelStatistics(x, batch: n, channels: channels, spatial: s, channel: c)
            let (v, inv) = finishChannel(squaredDeviations: sq, invM: invM, epsilon: epsilon)
            mean[c] = mu
            variance[c] = v
            invStd[c] = inv
            normalizeChannel(x, batch: n, channels: channels, spatial: s, channel: c, mean: mu, invStd: inv,
                             gamma: gamma?[c] ?? 1, beta: beta?[c] ?? 0, activation: activation, normalized: xhat, output: y)
        }
        }
    }

    /// Per-channel statistics of the m = N·S values of a batch, or of one process's share of
    /// it: `mean` μ (Float, the value normalization subtracts) and `squaredDeviations`
    /// M2 = Σ (x − μ)² about that μ (Double; per-run sums are Float, as `trainingForward`
    /// computes them). m = 0 (an empty share) gives zeros.
    public static func statistics(
        _ x: UnsafePointer<Float>, batch n: Int, channels: Int, spatial s: Int,
        mean: UnsafeMutablePointer<Float>, squaredDeviations m2: UnsafeMutablePointer<Double>
    ) {
        let m = n * s
        guard m > 0 else {
            mean.update(repeating: 0, count: channels)
            m2.update(repeating: 0, count: channels)
            return
        }
        if s == 1 {
            columnMeans(x, rows: n, columns: channels, into: mean)
            withUnsafeTemporaryAllocation(of: Float.self, capacity: channels) { buffer in
                let sq = buffer.baseAddress!
                sq.update(repeating: 0, count: channels)
                for i in 0..<n {
                    let xr = x + i * channels
                    for c in 0..<channels {
                        let d = xr[c] - mean[c]
                        sq[c] += d * d
                    }
                }
                for c in 0..<channels { m2[c] = Double(sq[c]) }
            }
            return
        }
        let split = n * s * channels >= BatchNorm.parallelThreshold
        Parallel.forEachSlice(split) { slice in
            for c in Parallel.range(slice, of: channels, split: split) {
                (mean[c], m2[c]) = channelStatistics(x, batch: n, channels: channels, spatial: s, channel: c)
            }
        }
    }

    /// One process's part of a batch's statistics, as `combineStatistics` takes them: per
    /// channel the part's mean μ (Double) and M2 = Σ (x − μ)² about it, by the corrected
    /// two-pass method: with μ̃ the rounded mean `statistics` computes (also written, to
    /// `roundedMean`), d = x − μ̃ is exact in Float for x near μ̃, and
    ///   μ = μ̃ + Σd/m,  M2 = Σd² − (Σd)²/m
    /// are accurate to rounding of σ-sized numbers however large |μ| is. (M2 about μ̃ with μ̃
    /// as the mean would add 2(μ̃ − μ_all)·m(μ − μ̃) per part when combined, and the Float
    /// sums μ̃ comes from are off by ulp(|μ|)-sized amounts, which enter the combination
    /// through the differences of the parts' means.) m = 0 gives zeros.
    public static func partStatistics(
        _ x: UnsafePointer<Float>, batch n: Int, channels: Int, spatial s: Int,
        roundedMean: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Double>,
        squaredDeviations m2: UnsafeMutablePointer<Double>
    ) {
        let m = n * s
        guard m > 0 else {
            roundedMean.update(repeating: 0, count: channels)
            mean.update(repeating: 0, count: channels)
            m2.update(repeating: 0, count: channels)
            return
        }
        let invM = 1 / Double(m)
        if s == 1 {
            columnMeans(x, rows: n, columns: channels, into: roundedMean)
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * channels) { buffer in
                let d1 = buffer.baseAddress!, d2 = d1 + channels
                d1.update(repeating: 0, count: 2 * channels)
                for i in 0..<n {
                    let xr = x + i * channels
                    for c in 0..<channels {
                        let d = xr[c] - roundedMean[c]
                        d1[c] += d
                        d2[c] += d * d
                    }
                }
                for c in 0..<channels {
                    let sd = Double(d1[c])
                    mean[c] = Double(roundedMean[c]) + sd * invM
                    m2[c] = max(0, Double(d2[c]) - sd * sd * invM)
                }
            }
            return
        }
        let split = n * s * channels >= BatchNorm.parallelThreshold
        Parallel.forEachSlice(split) { slice in
            for c in Parallel.range(slice, of: channels, split: split) {
                let mu = channelMean(x, batch: n, channels: channels, spatial: s, channel: c)
                var sd = 0.0, sq = 0.0
                for i in 0..<n {
                    let (a, b) = Reduce.sumsOfDeviations(x + (i * channels + c) * s, count: s, mean: mu)
                    sd += Double(a)
                    sq += Double(b)
                }
                roundedMean[c] = mu
                mean[c] = Double(mu) + sd * invM
                m2[c] = max(0, sq - sd * sd * invM)
            }
        }
    }

    /// Per-column means of a (rows, columns) matrix, rows ≥ 1: Float sums down the rows
    /// (vectorized over columns), then ×1/rows in Double and rounded once.
    @inline(__always)
    static func columnMeans(_ x: UnsafePointer<Float>, rows n: Int, columns: Int, into mean: UnsafeMutablePointer<Float>) {
        let invM = 1 / Double(n)
        mean.update(repeating: 0, count: columns)
        for i in 0..<n {
            let xr = x + i * columns
            for c in 0..<columns { mean[c] += xr[c] }
        }
        for c in 0..<columns { mean[c] = Float(Double(mean[c]) * invM) }
    }

    /// σ² = M2/m (biased; Double, rounded once) into `variance` and 1/√(σ² + ε) into
    /// `invStd`, per channel; m ≥ 1 is the count the M2 are over (the whole batch's).
    public static func finishStatistics(
        squaredDeviations m2: UnsafePointer<Double>, count m: Int, channels: Int, epsilon: Float,
        variance: UnsafeMutablePointer<Float>, invStd: UnsafeMutablePointer<Float>
    ) {
        let invM = 1 / Double(m)
        for c in 0..<channels {
            (variance[c], invStd[c]) = finishChannel(squaredDeviations: m2[c], invM: invM, epsilon: epsilon)
        }
    }

    /// x̂ = (x − μ)·invStd and y = act(γ·x̂ + β) with given per-channel μ and invStd (a
    /// batch's own, or those combined over the processes of a data-parallel run).
    public static func normalize(
        _ x: UnsafePointer<Float>, batch n: Int, channels: Int, spatial s: Int,
        mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>,
        scale gamma: UnsafePointer<Float>?, shift beta: UnsafePointer<Float>?, activation: Activation = .identity,
        normalized xhat: UnsafeMutablePointer<Float>, output y: UnsafeMutablePointer<Float>
    ) {
        if s == 1 {
            for i in 0..<n {
                let xr = x + i * channels, hr = xhat + i * channels, yr = y + i * channels
                for c in 0..<channels { hr[c] = (xr[c] - mean[c]) * invStd[c] }
                affineRow(hr, gamma: gamma, beta: beta, count: channels, activation: activation, into: yr)
            }
            return
        }
        let split = n * s * channels >= BatchNorm.parallelThreshold
        Parallel.forEachSlice(split) { slice in
            for c in Parallel.range(slice, of: channels, split: split) {
                normalizeChannel(x, batch: n, channels: channels, spatial: s, channel: c, mean: mean[c], invStd: invStd[c],
                                 gamma: gamma?[c] ?? 1, beta: beta?[c] ?? 0, activation: activation, normalized: xhat,
                                 output: y)
            }
        }
    }

    /// Combines per-process statistics into those of the whole batch, in the order given
    /// (process order, so every process computes the same bits): counts `count[p]`, means
    /// `mean[p][c]` and M2 `squaredDeviations[p][c]` about that mean (`partStatistics`),
    /// `parts` × `channels` row-major.
    /// Chan, Golub & LeVeque's pairwise update (1979) in Double:
    ///   δ = μ_b − μ_a, n = n_a + n_b, μ = μ_a + δ·n_b/n, M2 = M2_a + M2_b + δ²·n_a·n_b/n,
    /// which never subtracts sums of squares, so it is exact to rounding whatever the mean
    /// (the naive Σx² − m·μ² loses every digit when |μ| ≫ σ). Empty parts are skipped.
    /// Writes the combined mean (Double) and M2 per channel; returns the total count.
    public static func combineStatistics(
        parts: Int, channels: Int, count: UnsafePointer<Int>, mean: UnsafePointer<Double>,
        squaredDeviations m2: UnsafePointer<Double>,
        combinedMean: UnsafeMutablePointer<Double>, combinedSquaredDeviations: UnsafeMutablePointer<Double>
    ) -> Int {
        combinedMean.update(repeating: 0, count: channels)
        combinedSquaredDeviations.update(repeating: 0, count: channels)
        var total = 0
        for p in 0..<parts where count[p] > 0 {
            let nb = Double(count[p])
            let na = Double(total)
            let n = na + nb
            for c in 0..<channels {
                let mb = mean[p * channels + c], qb = m2[p * channels + c]
                if total == 0 {
                    combinedMean[c] = mb
                    combinedSquaredDeviations[c] = qb
                } else {
                    let delta = mb - combinedMean[c]
                    combinedMean[c] += delta * nb / n
                    combinedSquaredDeviations[c] += qb + delta * delta * na * nb / n
                }
            }
            total += count[p]
        }
        return total
    }

    /// μ̃ of channel c over the N runs of S values: a Double sum of Float run sums, rounded once.
    @inline(__always)
    static func channelMean(_ x: UnsafePointer<Float>, batch n: Int, channels: Int, spatial s: Int, channel c: Int) -> Float {
        var total = 0.0
        for i in 0..<n {
            total += Double(Reduce.sum(x + (i * channels + c) * s, count: s))
        }
        return Float(total * (1 / Double(n * s)))
    }

    /// μ̃ and M2 about it of one channel over the N runs of S values.
    @inline(__always)
    static func channelStatistics(
        _ x: UnsafePointer<Float>, batch n: Int, channels: Int, spatial s: Int, channel c: Int
    ) -> (mean: Float, squaredDeviations: Double) {
        let mu = channelMean(x, batch: n, channels: channels, spatial: s, channel: c)
        var sq = 0.0
        for i in 0..<n {
            sq += Double(Reduce.sumOfSquaredDeviations(x + (i * channels + c) * s, count: s, mean: mu))
        }
        return (mu, sq)
    }

    /// (σ², 1/√(σ² + ε)) of one channel from M2 and 1/m.
    @inline(__always)
    static func finishChannel(squaredDeviations sq: Double, invM: Double, epsilon: Float) -> (variance: Float, invStd: Float) {
        let v = sq * invM
        return (Float(v), Float(1 / (v + Double(epsilon)).squareRoot()))
    }

    /// Normalizes channel c of every sample (S > 1).
    @inline(__always)
    static func normalizeChannel(
        _ x: UnsafePointer<Float>, batch n: Int, channels: Int, spatial s: Int, channel c: Int, mean mu: Float,
        invStd inv: Float, gamma g: Float, beta b: Float, activation: Activation,
        normalized xhat: UnsafeMutablePointer<Float>, output y: UnsafeMutablePointer<Float>
    ) {
        for i in 0..<n {
            let off = (i * channels + c) * s
            BatchNorm.forwardRun(x + off, count: s, mean: mu, invStd: inv, gamma: g, beta: b,
                                 activation: activation, normalized: xhat + off, output: y + off)
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

    /// Training-mode backward: `backwardSums` and `backwardApply` in one pass (channel by
    /// channel for S > 1). A data-parallel run calls the two pieces itself and adds the
    /// processes' sums in between.
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
        if s == 1 {
            backwardSums(gradient: dy, output: y, normalized: xhat, batch: n, channels: channels, spatial: 1,
                         activation: activation, into: dx, sumDz: dbeta, sumDzXhat: dgamma)
            backwardApply(dx, normalized: xhat, batch: n, channels: channels, spatial: 1, scale: gamma, invStd: invStd,
                          sumDz: dbeta, sumDzXhat: dgamma, count: m)
            return
        }
        let invM = 1 / Float(m)
        let split = n * s * channels >= BatchNorm.parallelThreshold
        Parallel.forEachSlice(split) { slice in
        for c in Parallel.range(slice, of: channels, split: split) {
            let (sumDz, sumDzH) = channelBackwardSums(dy, y, xhat, batch: n, channels: channels, spatial: s, channel: c,
                                                      activation: activation, into: dx)
            dbeta[c] = sumDz
            dgamma[c] = sumDzH
            channelBackwardApply(dx, xhat, batch: n, channels: channels, spatial: s, channel: c,
                                 k: (gamma?[c] ?? 1) * invStd[c], mb: sumDz * invM, mg: sumDzH * invM)
        }
        }
    }

    /// dz = dy·act′(y) into `dz` (may alias dy; y read only when `activation` is not
    /// identity) and, per channel, `sumDz` Σ dz and `sumDzXhat` Σ dz·x̂ over this batch (or
    /// this process's share of it; an empty share gives zeros).
    public static func backwardSums(
        gradient dy: UnsafePointer<Float>, output y: UnsafePointer<Float>, normalized xhat: UnsafePointer<Float>,
        batch n: Int, channels: Int, spatial s: Int, activation: Activation = .identity,
        into dz: UnsafeMutablePointer<Float>,
        sumDz dbeta: UnsafeMutablePointer<Float>, sumDzXhat dgamma: UnsafeMutablePointer<Float>
    ) {
        if s == 1 {
            dgamma.update(repeating: 0, count: channels)
            dbeta.update(repeating: 0, count: channels)
            for i in 0..<n {
                let off = i * channels
                let dyr = dy + off, hr = xhat + off, dzr = dz + off
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
            return
        }
        let split = n * s * channels >= BatchNorm.parallelThreshold
        Parallel.forEachSlice(split) { slice in
            for c in Parallel.range(slice, of: channels, split: split) {
                (dbeta[c], dgamma[c]) = channelBackwardSums(dy, y, xhat, batch: n, channels: channels, spatial: s, channel: c,
                                                            activation: activation, into: dz)
            }
        }
    }

    /// dx = γ·invStd·(dz − Σdz/m − x̂·Σdz·x̂/m) in place over `dz`, with the sums and the
    /// count m of the whole batch (over every process of a data-parallel run).
    public static func backwardApply(
        _ dz: UnsafeMutablePointer<Float>, normalized xhat: UnsafePointer<Float>, batch n: Int, channels: Int,
        spatial s: Int, scale gamma: UnsafePointer<Float>?, invStd: UnsafePointer<Float>,
        sumDz dbeta: UnsafePointer<Float>, sumDzXhat dgamma: UnsafePointer<Float>, count m: Int
    ) {
        let invM = 1 / Float(m)
        if s == 1 {
            for i in 0..<n {
                let off = i * channels
                let hr = xhat + off, dzr = dz + off
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
                channelBackwardApply(dz, xhat, batch: n, channels: channels, spatial: s, channel: c,
                                     k: (gamma?[c] ?? 1) * invStd[c], mb: dbeta[c] * invM, mg: dgamma[c] * invM)
            }
        }
    }

    /// dz and (Σ dz, Σ dz·x̂) of channel c (S > 1): Double sums of Float run sums.
    @inline(__always)
    static func channelBackwardSums(
        _ dy: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ xhat: UnsafePointer<Float>, batch n: Int, channels: Int,
        spatial s: Int, channel c: Int, activation: Activation, into dz: UnsafeMutablePointer<Float>
    ) -> (Float, Float) {
        var sumDz = 0.0, sumDzH = 0.0
        for i in 0..<n {
            let off = (i * channels + c) * s
            let dyp = dy + off, hp = xhat + off, dzp = dz + off
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
        return (Float(sumDz), Float(sumDzH))
    }

    /// dx = k·(dz − mb − x̂·mg) over channel c of every sample, in place.
    @inline(__always)
    static func channelBackwardApply(
        _ dz: UnsafeMutablePointer<Float>, _ xhat: UnsafePointer<Float>, batch n: Int, channels: Int, spatial s: Int,
        channel c: Int, k: Float, mb: Float, mg: Float
    ) {
        for i in 0..<n {
            let off = (i * channels + c) * s
            BatchNorm.backwardRun(dz + off, xhat + off, count: s, k: k, mb: mb, mg: mg)
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
