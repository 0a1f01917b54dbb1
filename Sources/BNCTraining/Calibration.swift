/// How much one BN's moving statistics moved when replaced by exact population statistics.
public struct BatchNormCalibration: Sendable {
    public var unit: String
    /// Largest |new − old| mean over channels, in units of the new standard deviation.
    public var maxMeanShift: Double
    /// Largest |new/old − 1| of the variance over channels.
    public var maxVarianceRatioChange: Double
    public var mean: [Float], variance: [Float]
}

extension Network {
    /// Replaces every BN's moving mean and variance by the exact statistics of its input over
    /// all of `data`, with the current weights, in inference mode (the moving averages of
    /// training are only estimates made with older weights).
    ///
    /// BN layers are calibrated in order, each pass using the already calibrated ones before it.
    /// Sums are Double, shifted by the old mean for accuracy; the variance is the population
    /// (biased, /M) one, times M/(M − 1) when the network records the unbiased estimator.
    ///
    /// With `group`, each process runs its contiguous share of `data` and the sums are added
    /// in rank order (the shift, the old moving mean, is the same on every process), so every
    /// process ends with the same statistics; a process with an empty share still joins.
    public func calibrateBatchNorm(
        on data: Examples, batchSize: Int, group: ProcessGroup? = nil
    ) throws(TrainingError) -> [BatchNormCalibration] {
        guard data.inputShape == inputShape else {
            throw TrainingError(place: "data", problem: "examples have shape \(data.inputShape), the network takes \(inputShape)")
        }
        guard data.count >= 2 else { throw TrainingError(place: "data", problem: "needs at least 2 examples") }
        reserve(batch: batchSize)
        let x = FloatBuffer(count: batchSize * data.inputCount)
        var results: [BatchNormCalibration] = []
        for (unitName, bn) in batchNormLayers {
            guard let index = layers.firstIndex(where: { $0 === bn }) else { continue }
            let c = bn.channels, s = bn.spatial
            let shift = bn.runningMean.array(c).map(Double.init)
            var s1 = [Double](repeating: 0, count: c), s2 = s1
            let share = DataParallel.share(group?.rank ?? 0, of: data.count, among: group?.size ?? 1)
            var start = share.lowerBound
            while start < share.upperBound {
                let end = min(start + batchSize, share.upperBound)
                data.copyInputs(ArraySlice(start..<end), into: x.pointer)
                var h = x.pointer
                for layer in layers[0..<index] { h = try layer.forward(h, batch: end - start, mode: .inference) }
                for i in 0..<(end - start) {
                    for ch in 0..<c {
                        let p = h + (i * c + ch) * s
                        let mu = shift[ch]
                        var a = 0.0, b = 0.0
                        for j in 0..<s {
                            let d = Double(p[j]) - mu
                            a += d
                            b += d * d
                        }
                        s1[ch] += a
                        s2[ch] += b
                    }
                }
                start = end
            }
            if let group, group.size > 1 {
                let total = group.sumInRankOrder(s1 + s2)
                s1 = Array(total[0..<c])
                s2 = Array(total[c...])
            }
            let m = Double(data.count * s)
            let oldMean = bn.runningMean.array(c), oldVar = bn.runningVariance.array(c)
            var mean = [Float](repeating: 0, count: c), variance = mean
            var meanShift = 0.0, varChange = 0.0
            for ch in 0..<c {
                let dm = s1[ch] / m
                var v = max(0, s2[ch] / m - dm * dm)
                if batchNorm.unbiasedVariance { v *= m / (m - 1) }
                mean[ch] = Float(shift[ch] + dm)
                variance[ch] = Float(v)
                let sd = (v + Double(batchNorm.epsilon)).squareRoot()
                meanShift = max(meanShift, abs(Double(mean[ch]) - Double(oldMean[ch])) / sd)
                varChange = max(varChange, abs(v / max(Double(oldVar[ch]), 1e-30) - 1))
            }
            bn.runningMean.assign(mean)
            bn.runningVariance.assign(variance)
            bn.coefficientsStale = true
            results.append(BatchNormCalibration(unit: unitName, maxMeanShift: meanShift, maxVarianceRatioChange: varChange,
                                                mean: mean, variance: variance))
        }
        return results
    }
}
