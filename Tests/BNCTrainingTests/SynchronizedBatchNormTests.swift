import BNCData
import BNCKernels
import Foundation
import Testing
@testable import BNCTraining

/// A BN layer synchronized over thread "processes" (`ThreadWorld`), each holding a shard of
/// one batch, against (a) the same layer alone on the concatenated batch and (b) central
/// finite differences of a Double reference of BN on the concatenated batch.
///
/// Tolerances. (a) sync vs alone: the same kernels, only the order of the Float/Double sums
/// of the statistics and of Σdz, Σdz·x̂ differs (≤ a few ulp of Float on values of size 1:
/// 1e-5 mixed error is 40× that). (b) against finite differences: the reference's error is
/// the O(h²) truncation, h = 1e-4 → 1e-8, and Double rounding 1e-16/h = 1e-12; the Float
/// gradient carries the rounding of m-term sums of O(1) terms, m ≤ 54: ≈ 54·6e-8 = 3e-6 of
/// the largest term; 2e-5 mixed error is 6× that. A BN that divides by its shard's count
/// instead of the global one is off by O(1).
struct SynchronizedBatchNormTests {
    struct Case: CustomStringConvertible, Sendable {
        var shards: [Int]
        var channels: Int, spatial: Int
        var activation: Activation
        var unbiased: Bool
        var description: String { "shards \(shards) c\(channels) s\(spatial) \(activation) unbiased \(unbiased)" }
    }

    static let cases: [Case] = [
        Case(shards: [3, 1, 5], channels: 4, spatial: 1, activation: .tanh, unbiased: true),    // one example on a rank
        Case(shards: [4, 0, 2], channels: 3, spatial: 1, activation: .identity, unbiased: false), // an empty shard
        Case(shards: [1, 1], channels: 2, spatial: 1, activation: .sigmoid, unbiased: true),    // global batch of 2
        Case(shards: [2, 1, 0], channels: 3, spatial: 6, activation: .tanh, unbiased: true),    // per channel over H·W
        Case(shards: [3, 2], channels: 2, spatial: 5, activation: .relu, unbiased: false),
    ]

    /// What one rank saw: outputs, input gradients and its share of the γ/β gradients, and
    /// the moving statistics and collective calls afterwards.
    struct RankResult: Sendable {
        var y: [Float], dx: [Float], dgamma: [Float], dbeta: [Float]
        var runningMean: [Float], runningVariance: [Float]
        var calls: [String]
    }

    struct Inputs {
        var x: [Float], dy: [Float], gamma: [Float], beta: [Float]
        var settings: BatchNormSettings
    }

    static func inputs(_ t: Case) -> Inputs {
        var rng = SeededGenerator(seed: UInt64(t.shards.reduce(0, +) * 97 + t.channels * 13 + t.spatial))
        func floats(_ count: Int, _ lo: Float, _ hi: Float) -> [Float] {
            (0..<count).map { _ in lo + (hi - lo) * rng.nextUniformFloat() }
        }
        let n = t.shards.reduce(0, +)
        let count = n * t.channels * t.spatial
        return Inputs(x: floats(count, -2, 3), dy: floats(count, -1, 1), gamma: floats(t.channels, 0.5, 1.5),
                      beta: floats(t.channels, -1, 1), settings: BatchNormSettings(momentum: 0.9, unbiasedVariance: t.unbiased))
    }

    /// One forward and backward of a BN layer on `x` (n examples), synchronized over `group`
    /// when given.
    static func step(_ t: Case, _ inputs: Inputs, x: [Float], dy: [Float], n: Int, group: ProcessGroup?) throws -> RankResult {
        let store = ParameterStore()
        let bn = BatchNormLayer(name: "bn", channels: t.channels, spatial: t.spatial, center: true, scale: true,
                                settings: inputs.settings, store: store)
        store.allocate()
        bn.activation = t.activation
        store.pointer(bn.scale!).update(from: inputs.gamma, count: t.channels)
        store.pointer(bn.shift!).update(from: inputs.beta, count: t.channels)
        bn.runningMean.assign([Float](repeating: 0.5, count: t.channels))
        bn.runningVariance.assign([Float](repeating: 2, count: t.channels))
        bn.group = group
        bn.reserve(batch: max(n, 1))
        let k = n * t.channels * t.spatial
        var xs = x, dys = dy
        let y = try xs.withUnsafeMutableBufferPointer { p in
            let out = try bn.forward(p.baseAddress ?? UnsafeMutablePointer(bitPattern: 8)!, batch: n, mode: .training)
            return Array(UnsafeBufferPointer(start: out, count: k))
        }
        let dx = dys.withUnsafeMutableBufferPointer { p in
            let out = bn.backward(p.baseAddress ?? UnsafeMutablePointer(bitPattern: 8)!, batch: n, needInputGradient: true)!
            return Array(UnsafeBufferPointer(start: out, count: k))
        }
        return RankResult(
            y: y, dx: dx,
            dgamma: Array(UnsafeBufferPointer(start: store.gradient(bn.scale!), count: t.channels)),
            dbeta: Array(UnsafeBufferPointer(start: store.gradient(bn.shift!), count: t.channels)),
            runningMean: bn.runningMean.array(t.channels), runningVariance: bn.runningVariance.array(t.channels),
            calls: (group as? ThreadGroup)?.calls ?? [])
    }

    /// Runs the case on one thread per shard.
    static func synchronized(_ t: Case, _ inputs: Inputs) throws -> [RankResult] {
        let per = t.channels * t.spatial
        let offsets = t.shards.reduce(into: [0]) { $0.append($0.last! + $1 * per) }
        let world = ThreadWorld(size: t.shards.count)
        let x = inputs.x, dy = inputs.dy
        let shared = inputs
        return try world.run { group in
            let r = group.rank
            return try step(t, shared, x: Array(x[offsets[r]..<offsets[r + 1]]), dy: Array(dy[offsets[r]..<offsets[r + 1]]),
                            n: t.shards[r], group: group)
        }.map { try $0.get() }
    }

    @Test(arguments: cases)
    func matchesOneProcessOnTheConcatenatedBatch(_ t: Case) throws {
        let inputs = Self.inputs(t)
        let n = t.shards.reduce(0, +)
        let alone = try Self.step(t, inputs, x: inputs.x, dy: inputs.dy, n: n, group: nil)
        let ranks = try Self.synchronized(t, inputs)
        func err(_ a: [Float], _ b: [Float]) -> Double { maxError(a, b.map(Double.init)) }
        #expect(err(ranks.flatMap(\.y), alone.y) <= 1e-5, "y: \(err(ranks.flatMap(\.y), alone.y))")
        #expect(err(ranks.flatMap(\.dx), alone.dx) <= 1e-5, "dx: \(err(ranks.flatMap(\.dx), alone.dx))")
        // The γ and β gradients are the sums of the ranks' shares.
        let dgamma = (0..<t.channels).map { c in ranks.reduce(Float(0)) { $0 + $1.dgamma[c] } }
        let dbeta = (0..<t.channels).map { c in ranks.reduce(Float(0)) { $0 + $1.dbeta[c] } }
        #expect(err(dgamma, alone.dgamma) <= 1e-5, "dγ \(dgamma) vs \(alone.dgamma)")
        #expect(err(dbeta, alone.dbeta) <= 1e-5, "dβ \(dbeta) vs \(alone.dbeta)")
        for r in ranks {
            // Every rank holds the global moving statistics (global count in the unbiased
            // correction, pytorch#22192).
            #expect(err(r.runningMean, alone.runningMean) <= 1e-6, "moving mean \(r.runningMean) vs \(alone.runningMean)")
            #expect(err(r.runningVariance, alone.runningVariance) <= 1e-6,
                    "moving variance \(r.runningVariance) vs \(alone.runningVariance)")
            #expect(r.runningVariance == ranks[0].runningVariance && r.runningMean == ranks[0].runningMean)
            // The same collectives on every rank, the empty one included (pytorch#36530).
            #expect(r.calls == ranks[0].calls)
        }
        #expect(ranks[0].calls.count == 2, "one gather forward, one backward: \(ranks[0].calls)")
    }

    /// ∂L/∂x, ∂L/∂γ, ∂L/∂β of L = Σ dy·y (y = act(γ·x̂ + β) with the concatenated batch's
    /// statistics) by central differences in Double, against the synchronized layer.
    @Test(arguments: cases.filter { $0.activation != .relu })
    func gradientsMatchFiniteDifferencesOfTheWholeBatch(_ t: Case) throws {
        let inputs = Self.inputs(t)
        let n = t.shards.reduce(0, +)
        let c = t.channels, s = t.spatial
        let eps = Double(inputs.settings.epsilon)
        func loss(_ x: [Double], _ gamma: [Double], _ beta: [Double]) -> Double {
            var total = 0.0
            for ch in 0..<c {
                var mu = 0.0, v = 0.0
                for i in 0..<n { for j in 0..<s { mu += x[(i * c + ch) * s + j] } }
                mu /= Double(n * s)
                for i in 0..<n { for j in 0..<s { v += (x[(i * c + ch) * s + j] - mu) * (x[(i * c + ch) * s + j] - mu) } }
                v /= Double(n * s)
                for i in 0..<n {
                    for j in 0..<s {
                        let idx = (i * c + ch) * s + j
                        let z = gamma[ch] * (x[idx] - mu) / (v + eps).squareRoot() + beta[ch]
                        let y: Double
                        switch t.activation {
                        case .identity: y = z
                        case .sigmoid: y = 1 / (1 + Foundation.exp(-z))
                        case .tanh: y = Foundation.tanh(z)
                        default: y = .nan  // not among the cases
                        }
                        total += Double(inputs.dy[idx]) * y
                    }
                }
            }
            return total
        }
        let x = inputs.x.map(Double.init), gamma = inputs.gamma.map(Double.init), beta = inputs.beta.map(Double.init)
        let h = 1e-4
        func central(_ f: (Double) -> Double) -> Double { (f(h) - f(-h)) / (2 * h) }
        let dxRef = x.indices.map { i in central { d in var p = x; p[i] += d; return loss(p, gamma, beta) } }
        let dgRef = gamma.indices.map { i in central { d in var p = gamma; p[i] += d; return loss(x, p, beta) } }
        let dbRef = beta.indices.map { i in central { d in var p = beta; p[i] += d; return loss(x, gamma, p) } }

        let ranks = try Self.synchronized(t, inputs)
        let dgamma = (0..<c).map { ch in ranks.reduce(Float(0)) { $0 + $1.dgamma[ch] } }
        let dbeta = (0..<c).map { ch in ranks.reduce(Float(0)) { $0 + $1.dbeta[ch] } }
        #expect(maxError(ranks.flatMap(\.dx), dxRef) <= 2e-5, "dx error \(maxError(ranks.flatMap(\.dx), dxRef))")
        #expect(maxError(dgamma, dgRef) <= 2e-5, "dγ error \(maxError(dgamma, dgRef))")
        #expect(maxError(dbeta, dbRef) <= 2e-5, "dβ error \(maxError(dbeta, dbRef))")
    }

    /// A global batch of one value per channel (one example, dense BN, the other shards
    /// empty): every rank stops with the same error after the same collective, none hangs,
    /// nothing is NaN.
    @Test func oneValueOverAllProcessesIsAClearErrorOnEveryRank() throws {
        let t = Case(shards: [0, 1, 0], channels: 3, spatial: 1, activation: .relu, unbiased: false)
        let inputs = Self.inputs(t)
        let world = ThreadWorld(size: 3)
        let shared = inputs
        let outcomes = world.run { group -> String in
            let n = t.shards[group.rank]
            do {
                _ = try Self.step(t, shared, x: n == 1 ? shared.x : [], dy: n == 1 ? shared.dy : [], n: n, group: group)
                return "no error"
            } catch let e as TrainingError {
                return e.description + " after \(group.calls)"
            }
        }.map { try? $0.get() }
        #expect(outcomes[0]?.contains("1 value per channel over all 3 processes has no variance") == true, "\(outcomes)")
        #expect(outcomes.allSatisfy { $0 == outcomes[0] }, "\(outcomes)")
    }
}

/// Largest |a − b| / (1 + |b|) (mixed absolute/relative error).
func maxError(_ a: [Float], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "sizes \(a.count) vs \(b.count)")
    var worst = 0.0
    for i in a.indices {
        let e = abs(Double(a[i]) - b[i]) / (1 + abs(b[i]))
        if e.isNaN { return .infinity }
        worst = max(worst, e)
    }
    return worst
}
