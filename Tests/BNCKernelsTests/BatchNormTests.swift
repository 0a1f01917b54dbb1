import Testing
@testable import BNCKernels

/// BatchNorm kernels against Double references: forward from the definition, backward from
/// the textbook chain rule through μ and σ² (Ioffe & Szegedy 2015, Alg. 1 backward), a
/// different derivation than the kernel's simplified formula. Tolerance 1e-4 mixed error
/// (x̂ magnifies Float rounding by 1/σ).
struct BatchNormTests {
    struct Case: CustomStringConvertible, Sendable {
        var n: Int, c: Int, s: Int, scale: Bool, shift: Bool, activation: Activation
        var description: String { "n\(n) c\(c) s\(s) scale \(scale) shift \(shift) \(activation)" }
    }

    static let cases: [Case] = [
        Case(n: 6, c: 5, s: 1, scale: true, shift: true, activation: .identity),
        Case(n: 4, c: 3, s: 1, scale: false, shift: true, activation: .relu),
        Case(n: 2, c: 3, s: 1, scale: true, shift: false, activation: .sigmoid),
        Case(n: 3, c: 4, s: 1, scale: false, shift: false, activation: .tanh),
        Case(n: 2, c: 3, s: 5, scale: true, shift: true, activation: .identity),
        Case(n: 1, c: 2, s: 6, scale: true, shift: true, activation: .relu),
        Case(n: 3, c: 2, s: 4, scale: false, shift: false, activation: .sigmoid),
        Case(n: 2, c: 3, s: 3, scale: true, shift: false, activation: .tanh),
        Case(n: 3, c: 5, s: 4900, scale: true, shift: true, activation: .relu),  // split over cores
    ]

    @Test(arguments: cases)
    func trainingForwardBackwardMatchReference(_ t: Case) {
        var rng = TestRandom(UInt64(t.n * 31 + t.c * 7 + t.s))
        let count = t.n * t.c * t.s, m = t.n * t.s
        let x = rng.floats(count, -2, 3)
        let gamma = rng.floats(t.c, 0.5, 1.5), beta = rng.floats(t.c)
        let dy = rng.floats(count)
        let eps: Float = 1e-3

        // Reference forward.
        func at(_ i: Int, _ c: Int, _ j: Int) -> Int { (i * t.c + c) * t.s + j }
        var yRef = [Double](repeating: 0, count: count), hRef = yRef, dxRef = yRef
        var dgRef = [Double](repeating: 0, count: t.c), dbRef = dgRef
        for c in 0..<t.c {
            var mu = 0.0
            for i in 0..<t.n { for j in 0..<t.s { mu += Double(x[at(i, c, j)]) } }
            mu /= Double(m)
            var v = 0.0
            for i in 0..<t.n { for j in 0..<t.s { v += (Double(x[at(i, c, j)]) - mu) * (Double(x[at(i, c, j)]) - mu) } }
            v /= Double(m)
            let inv = 1 / (v + Double(eps)).squareRoot()
            let g = t.scale ? Double(gamma[c]) : 1, b = t.shift ? Double(beta[c]) : 0
            var dz = [Double](repeating: 0, count: m), h = dz
            var k = 0
            for i in 0..<t.n {
                for j in 0..<t.s {
                    let idx = at(i, c, j)
                    h[k] = (Double(x[idx]) - mu) * inv
                    hRef[idx] = h[k]
                    let z = g * h[k] + b
                    let y: Double, d: Double
                    y = reference(t.activation, z)
                    switch t.activation {
                    case .relu: d = z > 0 ? 1 : 0
                    case .sigmoid: d = y * (1 - y)
                    case .tanh: d = 1 - y * y
                    default: d = 1
                    }
                    yRef[idx] = y
                    dz[k] = Double(dy[idx]) * d
                    k += 1
                }
            }
            // Backward via μ and σ² explicitly.
            var dvar = 0.0, dmu = 0.0, dg = 0.0, db = 0.0
            for q in 0..<m {
                let dh = dz[q] * g
                dvar += dh * (h[q] / inv) * -0.5 * inv * inv * inv
                dmu += -dh * inv
                dg += dz[q] * h[q]
                db += dz[q]
            }
            var sumCentered = 0.0
            for q in 0..<m { sumCentered += -2 * (h[q] / inv) }
            dmu += dvar * sumCentered / Double(m)
            k = 0
            for i in 0..<t.n {
                for j in 0..<t.s {
                    let dh = dz[k] * g
                    dxRef[at(i, c, j)] = dh * inv + dvar * 2 * (h[k] / inv) / Double(m) + dmu / Double(m)
                    k += 1
                }
            }
            dgRef[c] = dg
            dbRef[c] = db
        }

        var mean = [Float](repeating: .nan, count: t.c), variance = mean, invStd = mean
        var xhat = [Float](repeating: .nan, count: count), y = xhat, dx = xhat
        var dgamma = mean, dbeta = mean
        gamma.withUnsafeBufferPointer { gp in
            beta.withUnsafeBufferPointer { bp in
                BatchNorm.trainingForward(
                    x, batch: t.n, channels: t.c, spatial: t.s, scale: t.scale ? gp.baseAddress : nil,
                    shift: t.shift ? bp.baseAddress : nil, epsilon: eps, activation: t.activation,
                    mean: &mean, variance: &variance, invStd: &invStd, normalized: &xhat, output: &y)
                BatchNorm.trainingBackward(
                    gradient: dy, output: y, normalized: xhat, batch: t.n, channels: t.c, spatial: t.s,
                    scale: t.scale ? gp.baseAddress : nil, invStd: invStd, activation: t.activation,
                    inputGradient: &dx, scaleGradient: &dgamma, shiftGradient: &dbeta)
            }
        }
        #expect(maxError(xhat, hRef) < 1e-4, "x̂ \(t)")
        #expect(maxError(y, yRef) < 1e-4, "y \(t)")
        #expect(maxError(dx, dxRef) < 1e-4, "dx \(t)")
        #expect(maxError(dgamma, dgRef) < 1e-4, "dγ \(t)")
        #expect(maxError(dbeta, dbRef) < 1e-4, "dβ \(t)")
    }

    @Test func backwardAcceptsAliasedGradient() {
        var rng = TestRandom(5)
        let n = 5, c = 3
        let x = rng.floats(n * c)
        let dy = rng.floats(n * c)
        var mean = [Float](repeating: 0, count: c), variance = mean, invStd = mean, dg = mean, db = mean
        var xhat = [Float](repeating: 0, count: n * c), y = xhat, dx = xhat
        BatchNorm.trainingForward(x, batch: n, channels: c, spatial: 1, scale: nil, shift: nil, epsilon: 1e-5,
                                  mean: &mean, variance: &variance, invStd: &invStd, normalized: &xhat, output: &y)
        BatchNorm.trainingBackward(gradient: dy, output: y, normalized: xhat, batch: n, channels: c, spatial: 1,
                                   scale: nil, invStd: invStd, inputGradient: &dx, scaleGradient: &dg, shiftGradient: &db)
        var inPlace = dy
        inPlace.withUnsafeMutableBufferPointer { p in
            BatchNorm.trainingBackward(gradient: p.baseAddress!, output: y, normalized: xhat, batch: n, channels: c,
                                       spatial: 1, scale: nil, invStd: invStd, inputGradient: p.baseAddress!,
                                       scaleGradient: &dg, shiftGradient: &db)
        }
        #expect(inPlace == dx)
    }

    @Test func inferenceAffineMatchesDefinition() {
        var rng = TestRandom(11)
        let n = 3, c = 4, s = 5
        let x = rng.floats(n * c * 5000, -3, 3)
        let scale = rng.floats(c), bias = rng.floats(c), mean = rng.floats(c), variance = rng.floats(c, 0.01, 4)
        let eps = 1e-5
        var a = [Float](repeating: 0, count: c), b = a
        BatchNorm.inferenceCoefficients(scale: scale, bias: bias, mean: mean, variance: variance, epsilon: eps,
                                        channels: c, a: &a, b: &b)
        for activation in Activation.trainable {
            for spatial in [1, s, 5000] {
                let count = n * c * spatial
                var y = [Float](repeating: .nan, count: count)
                BatchNorm.affine(x, batch: n, channels: c, spatial: spatial, a: a, b: b, activation: activation, into: &y)
                var ref = [Double](repeating: 0, count: count)
                for i in 0..<count {
                    let ch = (i / spatial) % c
                    let z = (Double(x[i]) - Double(mean[ch])) / (Double(variance[ch]) + eps).squareRoot()
                        * Double(scale[ch]) + Double(bias[ch])
                    ref[i] = reference(activation, z)
                }
                #expect(maxError(y, ref) < 1e-5, "\(activation) spatial \(spatial)")
                // In place (the runtime reuses buffers): the same values.
                var inPlace = Array(x[0..<count])
                inPlace.withUnsafeMutableBufferPointer { p in
                    BatchNorm.affine(p.baseAddress!, batch: n, channels: c, spatial: spatial, a: a, b: b,
                                     activation: activation, into: p.baseAddress!)
                }
                #expect(inPlace == y, "in place, \(activation) spatial \(spatial)")
            }
        }
    }

    @Test func movingStatisticsUseOldValueMomentum() {
        var rm: [Float] = [1, 2], rv: [Float] = [4, 5]
        BatchNorm.updateMovingStatistics(runningMean: &rm, runningVariance: &rv, batchMean: [3, 0], batchVariance: [2, 1],
                                         channels: 2, momentum: 0.9, count: 4, unbiased: false)
        #expect(abs(rm[0] - (0.9 * 1 + 0.1 * 3)) < 1e-6 && abs(rm[1] - 1.8) < 1e-6)
        #expect(abs(rv[0] - (0.9 * 4 + 0.1 * 2)) < 1e-6 && abs(rv[1] - (0.9 * 5 + 0.1 * 1)) < 1e-6)
        BatchNorm.updateMovingStatistics(runningMean: &rm, runningVariance: &rv, batchMean: [0, 0], batchVariance: [3, 3],
                                         channels: 2, momentum: 0.5, count: 4, unbiased: true)
        #expect(abs(rv[0] - (0.5 * 3.8 + 0.5 * 4)) < 1e-5)  // 3·4/3 = 4
    }
}

extension Double {
    var exp: Double { Foundation_exp(self) }
}
