import BNCData
import BNCGraph
import BNCKernels
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
/// Deep CNNs stay inside it too: their many layers add roundings, but each layer's error
/// is relative to its own scale and BN-free convolutions keep scales near 1; the CNN
/// fixtures (ResNet-50 … EfficientNet, full size, random weights with calibrated BN
/// statistics) measure 3e-7–3.3e-6 (docs/cnn-fixtures.md).
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
    /// The folded graph is the original (nothing was folded), so no probe is needed.
    public var identical: Bool

    public init(
        maxAbsDiff: Double, maxRelDiff: Double, outputScale: Double, argmaxAgreement: Double, probes: Int,
        realProbes: Int, randomProbes: Int, tolerance: Double, identical: Bool = false
    ) {
        self.maxAbsDiff = maxAbsDiff
        self.maxRelDiff = maxRelDiff
        self.outputScale = outputScale
        self.argmaxAgreement = argmaxAgreement
        self.probes = probes
        self.realProbes = realProbes
        self.randomProbes = randomProbes
        self.tolerance = tolerance
        self.identical = identical
    }

    /// The proof of a fold that changed nothing.
    public static func unchanged(tolerance: Double) -> FoldProof {
        FoldProof(maxAbsDiff: 0, maxRelDiff: 0, outputScale: 0, argmaxAgreement: 1, probes: 0, realProbes: 0,
                  randomProbes: 0, tolerance: tolerance, identical: true)
    }

    /// Whether the folded model is within `tolerance` on at least one probe (a changed graph
    /// compared on no input is not proven), or is the original.
    public var passed: Bool { identical || (probes > 0 && maxRelDiff <= tolerance) }

    /// How the random probes are drawn, seeded.
    public enum Distribution: Equatable, Sendable, CustomStringConvertible {
        /// Uniform in a range: images as bnc's 28×28 models read them (x/255 → [0, 1]).
        case uniform(ClosedRange<Float>)
        /// Standard normal N(0, 1): what a normalized image or feature input looks like.
        case normal
        public var description: String {
            switch self {
            case .uniform(let r): return "uniform [\(r.lowerBound), \(r.upperBound)]"
            case .normal: return "normal N(0, 1)"
            }
        }
    }

    /// How random probes are drawn and with which seed (`run` records them).
    public var distribution: Distribution = .uniform(0...1)
    public var seed: UInt64 = 0

    /// The default random probe count for a model whose runtime inputs hold `elements`
    /// values per sample: 100 for inputs up to 4096 values (bnc's MLPs and small CNNs: a run
    /// costs microseconds), else 8. A wrong fold (axis, group slice, ε, sign, padding) moves
    /// every output of every input by a sizeable fraction of the scale, so a few probes show
    /// it; at a ResNet-50's ≈ 0.3–1 s per image and model in bnc, 8 probes keep the proof of
    /// both models near 10 s.
    public static func defaultRandomProbes(elementsPerSample elements: Int) -> Int {
        elements <= 4096 ? 100 : 8
    }

    /// Runs both graphs (`GraphRunner`, any number of runtime inputs of any rank) on
    /// `images` (real probes for a graph with one runtime input: `count` × its per-sample
    /// size, already scaled the way the model expects) and on `randomProbes` seeded inputs
    /// drawn from `distribution` (default: uniform in `randomRange`), and compares every graph
    /// output. A probe is one sample: dim 0 of every input (symbolic, or fixed at 1) is the
    /// probe's batch index, other symbolic dims are read as 1; an input whose dim 0 is fixed
    /// at k > 1 takes one probe of k samples per run. Probes run in chunks of at most
    /// `Executor.defaultMemoryBudget` bytes of input, so memory stays flat whatever the probe
    /// count. An output that is NaN in either model counts as an infinite difference: NaN = NaN
    /// proves nothing. Throws when a graph cannot be run or takes non-FLOAT inputs.
    /// `progress` is called after each chunk with (probes done, probes in all).
    public static func run(
        original: Graph, folded: Graph, images: [Float] = [], randomProbes: Int = 100,
        randomRange: ClosedRange<Float> = 0...1, distribution: Distribution? = nil, seed: UInt64 = 0x5EED_F01D,
        tolerance: Double = defaultTolerance, memoryLimit: Int = Executor.defaultMemoryLimit, opset: Int = Int(Model.opsetWritten),
        progress: ((Int, Int) -> Void)? = nil
    ) throws(ModelError) -> FoldProof {
        let distribution = distribution ?? .uniform(randomRange)
        let inputs = original.runtimeInputs
        let signature = { (g: Graph) in g.runtimeInputs.map { "\($0.name):\($0.elemType):\($0.shapeDescription)" } }
        guard signature(folded) == signature(original), folded.outputs.map(\.name) == original.outputs.map(\.name) else {
            throw ModelError(.unsupportedModel, place: "graph",
                             problem: "the folded graph's inputs or outputs (\(signature(folded)), \(folded.outputs.map(\.name))) differ from the original's (\(signature(original)), \(original.outputs.map(\.name)))")
        }
        // Per input: the shape of one probe (dim 0 is the probe index unless fixed at k > 1).
        var shapes: [[Int]] = []
        var stacked = true
        for v in inputs {
            guard v.elemType == DataType.float else {
                throw ModelError(.unsupportedModel, place: "graph input '\(v.name)'",
                                 problem: "is \(DataType.name(v.elemType)); the fold proof draws FLOAT probes only")
            }
            guard let dims = v.shape, !dims.isEmpty else {
                throw ModelError(.unsupportedModel, place: "graph input '\(v.name)'", problem: "has no shape (\(v.shapeDescription)); the proof needs one to draw probes")
            }
            var shape = dims.map { d -> Int in if case .value(let n) = d, n >= 1 { return Int(n) } else { return 1 } }
            if case .value(let k) = dims[0], k > 1 { stacked = false } else { shape[0] = 1 }
            shapes.append(shape)
        }
        let perProbe = shapes.map { $0.reduce(1, *) }
        let n = perProbe.reduce(0, +)
        guard images.isEmpty || (inputs.count == 1 && images.count % max(1, n) == 0) else {
            throw ModelError(.unsupportedModel, place: "probe images",
                             problem: inputs.count == 1 ? "\(images.count) values are not a whole number of \(n)-value inputs"
                                                        : "image probes need a graph with one runtime input; it has \(inputs.count)")
        }
        let a = GraphRunner(graph: original, opset: opset), b = GraphRunner(graph: folded, opset: opset)
        a.memoryLimit = memoryLimit
        b.memoryLimit = memoryLimit
        let realCount = images.count / max(1, n)
        let count = realCount + randomProbes
        let chunk = stacked ? max(1, min(256, Executor.defaultMemoryBudget / max(1, n * MemoryLayout<Float>.size))) : 1
        var rng = SeededGenerator(seed: seed)
        var maxAbs = 0.0, scale = 0.0, agree = 0
        var done = 0
        while done < count {
            let m = min(chunk, count - done)
            var data = perProbe.map { _ in [Float]() }
            for p in done..<(done + m) {
                for (k, size) in perProbe.enumerated() {
                    if p < realCount {
                        data[k] += images[(p * size)..<((p + 1) * size)]
                        continue
                    }
                    switch distribution {
                    case .uniform(let r):
                        for _ in 0..<size { data[k].append(r.lowerBound + (r.upperBound - r.lowerBound) * rng.nextUniformFloat()) }
                    case .normal:
                        for _ in 0..<size { data[k].append(Float(rng.nextGaussian())) }
                    }
                }
            }
            var feeds: [String: Tensor] = [:]
            for (k, v) in inputs.enumerated() {
                var dims = shapes[k]
                if stacked { dims[0] = m }
                feeds[v.name] = Tensor(name: v.name, dims: dims, floats: data[k])
            }
            // Every graph output is compared; the argmax is taken on the first.
            let allA = try a.run(feeds), allB = try b.run(feeds)
            for (ya, yb) in zip(allA, allB) {
                guard let u = ya.floats, let v = yb.floats, u.count == v.count else {
                    if ya != yb { maxAbs = .infinity }
                    continue
                }
                for i in u.indices {
                    let x = Double(u[i]), y = Double(v[i])
                    if !x.isFinite || !y.isFinite {
                        if x.isNaN || y.isNaN || x != y { maxAbs = .infinity }
                        continue
                    }
                    maxAbs = max(maxAbs, abs(x - y))
                    scale = max(scale, abs(x))
                }
            }
            if let ya = allA.first?.floats, let yb = allB.first?.floats, ya.count == yb.count, ya.count >= m, m > 0 {
                let k = ya.count / m
                var ca = [Int32](repeating: 0, count: m), cb = ca
                ya.withUnsafeBufferPointer { Softmax.argmax($0.baseAddress!, rows: m, columns: k, into: &ca) }
                yb.withUnsafeBufferPointer { Softmax.argmax($0.baseAddress!, rows: m, columns: k, into: &cb) }
                agree += zip(ca, cb).filter { $0 == $1 }.count
            }
            done += m
            progress?(done, count)
        }
        let rel = maxAbs == 0 ? 0 : maxAbs / (scale > 0 ? scale : 1)
        var proof = FoldProof(
            maxAbsDiff: maxAbs, maxRelDiff: rel, outputScale: scale,
            argmaxAgreement: count == 0 ? 1 : Double(agree) / Double(count),
            probes: count, realProbes: realCount, randomProbes: randomProbes, tolerance: tolerance)
        proof.distribution = distribution
        proof.seed = seed
        return proof
    }
}
