import Foundation
@testable import BNCReport

/// Made-up but plausible metrics of a comparison, deterministic: a run without BN whose loss
/// starts near 1e8 (log axis) and one with BN near 10.
enum SampleMetrics {
    /// A reproducible value in [-1, 1) from (a, b).
    static func noise(_ a: Int, _ b: Int) -> Double {
        var z = UInt64(truncatingIfNeeded: a &* 0x9E37_79B9 &+ b &* 0x85EB_CA6B &+ 12345)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 52) - 1
    }

    static func distribution(_ seed: Int, count: Int, bins: Int, spread: Double, activation: String) -> Distribution {
        let values = (0..<count).map { Float(spread * (noise(seed, $0) + noise(seed + 1, $0) + noise(seed + 2, $0))) }
        return values.withUnsafeBufferPointer {
            Distribution.of($0, bins: bins, saturationThreshold: Distribution.saturationThreshold(activation: activation))
        }
    }

    static func make(task: TaskKind = .regression, steps: Int = 600, epochs: Int = 6, activation: String = "relu",
                     layers: Int = 3, gapAt: Int? = nil) -> ComparisonMetrics {
        var settings = RunSettings(task: task)
        settings.dataset = "made-up data"
        settings.arch = "toy"
        settings.activation = activation
        settings.epochs = epochs
        settings.batchSize = 32
        settings.seed = 1
        settings.probe = "200 validation examples"
        settings.probeExamples = 200
        settings.command = "bnc train --compare <made up>"
        let snapshotSteps = [0, steps / 10, steps / 2, steps]
        let meanSteps = Array(stride(from: 0, through: steps, by: 5))
        var runs: [RunMetrics] = []
        for (r, bn) in [false, true].enumerated() {
            var run = RunMetrics(label: bn ? "with BN" : "without BN", batchNorm: bn)
            let start = bn ? 12.0 : 1e8
            run.stepLoss = (1...steps).map { s in
                if let gapAt, !bn, s >= gapAt, s < gapAt + 7 { return nil }
                return start * exp(-Double(s) / 60) + 3 + 2 * noise(r, s).magnitude
            }
            run.epochs = (1...epochs).map { e in
                let acc = task == .classification ? 0.5 + 0.4 * Double(e) / Double(epochs) - (bn ? 0 : 0.05) : nil
                return EpochMetrics(epoch: e, trainLoss: 5 / Double(e), validationLoss: (bn ? 4 : 40) / Double(e) + 1,
                                    validationAccuracy: acc, seconds: 0.5)
            }
            run.test = TestMetrics(loss: 1.5, accuracy: task == .classification ? 0.88 : nil)
            run.parameters = 1234 + r
            run.initialWeightsSHA256 = String(repeating: "ab", count: 32)
            run.activations = (1...layers).map { l in
                ActivationInfo(name: "\(activation)\(l)", activation: activation, source: bn ? "bn\(l + 1)" : "dense\(l)",
                               afterBatchNorm: bn, shape: [30])
            }
            run.snapshots = snapshotSteps.enumerated().map { k, step in
                Snapshot(step: step, layers: (0..<layers).map { l in
                    distribution(100 * r + 10 * k + l, count: 900, bins: 40, spread: bn ? 1 : pow(10, Double(l)), activation: activation)
                })
            }
            run.unitMeans = UnitMeans(steps: meanSteps, layers: run.activations.enumerated().map { l, a in
                UnitMeansLayer(activation: a.name, means: (0..<5).map { u in
                    meanSteps.map { s in (bn ? 0.1 : 10) * (Double(u) - 2 + 0.3 * sin(Double(s) / 40 + Double(l))) }
                })
            })
            runs.append(run)
        }
        return ComparisonMetrics(settings: settings, runs: runs)
    }
}
