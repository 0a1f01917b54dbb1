import BNCData
import BNCGraph
import BNCRuntime

/// Evidence that a fold did not change what a model computes: the unfolded and the folded
/// graph run side by side (same `Executor`, same kernels) on probe inputs, and their
/// outputs are compared.
///
/// **Tolerance.** The default, `defaultTolerance` = 1e-5 of the output scale (the largest
/// |output| of the unfolded model over all probes), is set by Float rounding, not by
/// taste. Folding rounds each folded weight once: W' = fl(s·W) differs from s·W by at most
/// 2⁻²⁴ ≈ 6e-8 relative, and the unfolded run rounds differently (its BN affine a = fl(γ/σ),
/// and the product W·x before scaling). Those per-weight errors enter a K-term dot product
/// (K = 784 for the first MLP layer) with random signs, so they grow like √K·6e-8 ≈ 2e-6
/// of Σ|w x| in the worst layer, and less relative to the output scale. A wrong fold (a
/// wrong axis, a missed ε, a shifted padding) moves outputs by a sizeable fraction of the
/// scale. 1e-5 sits between the two with a margin on both sides (the measured differences
/// of correct and wrong folds: docs/benchmarks.md, "Measured figures behind the code").
public struct FoldProof: Equatable, Sendable {
    public static let defaultTolerance = 1e-5

    /// Largest |y_folded − y_unfolded| over all probes and all graph outputs.
    public var maxAbsDiff: Double
    /// `maxAbsDiff / outputScale`.
    public var maxRelDiff: Double
    /// Largest |y_unfolded| over all probes (the denominator of `maxRelDiff`).
    public var outputScale: Double
    /// Fraction of probes whose argmax (predicted class) agrees; 1 for single-output models.
    public var argmaxAgreement: Double
    /// Number of probe inputs, and how many were real (caller-given) vs seeded random.
    public var probes: Int
    public var realProbes: Int
    public var randomProbes: Int
    public var tolerance: Double

    public init(
        maxAbsDiff: Double, maxRelDiff: Double, outputScale: Double, argmaxAgreement: Double, probes: Int,
        realProbes: Int, randomProbes: Int, tolerance: Double
    ) {
        self.maxAbsDiff = maxAbsDiff
        self.maxRelDiff = maxRelDiff
        self.outputScale = outputScale
        self.argmaxAgreement = argmaxAgreement
        self.probes = probes
        self.realProbes = realProbes
        self.randomProbes = randomProbes
        self.tolerance = tolerance
    }

    /// Whether the folded model is within `tolerance`.
    public var passed: Bool { maxRelDiff <= tolerance }

    /// Runs both graphs on `images` (real probes: `count` × the graph's input size, already
    /// scaled the way the model expects) and on `randomProbes` seeded uniform inputs in
    /// `randomRange`. Throws when a graph cannot be run (`memoryLimit` goes to `Executor`).
    /// Probes run in chunks of at most `Executor.defaultMemoryBudget` bytes of input, so
    /// memory stays flat whatever the probe count. An output that is NaN in either model
    /// counts as an infinite difference: NaN = NaN proves nothing.
    public static func run(
        original: Graph, folded: Graph, images: [Float] = [], randomProbes: Int = 100,
        randomRange: ClosedRange<Float> = 0...1, seed: UInt64 = 0x5EED_F01D, tolerance: Double = defaultTolerance,
        memoryLimit: Int = Executor.defaultMemoryLimit, opset: Int = Int(Model.opsetWritten)
    ) throws(ModelError) -> FoldProof {
        let a = try Executor(graph: original, opset: opset, maxBatch: 256, memoryLimit: memoryLimit)
        let b = try Executor(graph: folded, opset: opset, maxBatch: 256, memoryLimit: memoryLimit)
        guard a.inputCount == b.inputCount, a.outputShapes == b.outputShapes else {
            throw ModelError(.unsupportedModel, place: "graph",
                             problem: "the folded graph's input/output shapes (\(b.inputShape), \(b.outputShapes)) differ from the original's (\(a.inputShape), \(a.outputShapes))")
        }
        let n = a.inputCount, k = a.outputCount
        guard images.count % max(1, n) == 0 else {
            throw ModelError(.unsupportedModel, place: "probe images",
                             problem: "\(images.count) values are not a whole number of \(n)-value inputs")
        }
        let realCount = images.count / max(1, n)
        let count = realCount + randomProbes
        let chunk = max(1, min(256, Executor.defaultMemoryBudget / max(1, n * MemoryLayout<Float>.size)))
        var rng = SeededGenerator(seed: seed)
        var maxAbs = 0.0, scale = 0.0, agree = 0
        var probes: [Float] = []
        var done = 0
        while done < count {
            let m = min(chunk, count - done)
            probes.removeAll(keepingCapacity: true)
            for p in done..<(done + m) {
                if p < realCount {
                    probes += images[(p * n)..<((p + 1) * n)]
                } else {
                    for _ in 0..<n {
                        probes.append(randomRange.lowerBound + (randomRange.upperBound - randomRange.lowerBound) * rng.nextUniformFloat())
                    }
                }
            }
            // Every graph output is compared; the argmax is taken on the first.
            let allA = a.runAll(probes), allB = b.runAll(probes)
            for (ya, yb) in zip(allA, allB) {
                for i in ya.indices {
                    let u = Double(ya[i]), v = Double(yb[i])
                    if !u.isFinite || !v.isFinite {
                        if u.isNaN || v.isNaN || u != v { maxAbs = .infinity }
                        continue
                    }
                    maxAbs = max(maxAbs, abs(u - v))
                    scale = max(scale, abs(u))
                }
            }
            for p in 0..<m where argmax(allA[0], p * k, k) == argmax(allB[0], p * k, k) { agree += 1 }
            done += m
        }
        let rel = maxAbs == 0 ? 0 : maxAbs / (scale > 0 ? scale : 1)
        return FoldProof(
            maxAbsDiff: maxAbs, maxRelDiff: rel, outputScale: scale,
            argmaxAgreement: count == 0 ? 1 : Double(agree) / Double(count),
            probes: count, realProbes: realCount, randomProbes: randomProbes, tolerance: tolerance)
    }

    private static func argmax(_ y: [Float], _ start: Int, _ k: Int) -> Int {
        var best = 0
        for j in 1..<max(1, k) where y[start + j] > y[start + best] { best = j }
        return best
    }
}
