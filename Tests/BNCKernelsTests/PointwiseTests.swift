import Testing
@testable import BNCKernels

/// Activations, bias/broadcast adds, Dense, Softmax and the losses against Double references.
/// Tolerance 1e-5 mixed error unless stated.
struct PointwiseTests {
    @Test(arguments: Activation.trainable)
    func activationForwardBackward(_ a: Activation) {
        var rng = TestRandom(21)
        var x = rng.floats(257, -6, 6)
        x += [0, -100, 100, -1e-7]
        let dy = rng.floats(x.count)
        var y = [Float](repeating: .nan, count: x.count), dx = y
        a.forward(x, &y, count: x.count)
        a.backward(output: y, gradient: dy, into: &dx, count: x.count)
        var yRef = [Double](), dxRef = [Double]()
        for (xi, g) in zip(x, dy) {
            let v = Double(xi)
            let r = reference(a, v)
            yRef.append(r)
            switch a {
            case .relu: dxRef.append(v > 0 ? Double(g) : 0)
            case .sigmoid: dxRef.append(Double(g) * r * (1 - r))
            case .tanh: dxRef.append(Double(g) * (1 - r * r))
            default: dxRef.append(Double(g))
            }
        }
        #expect(maxError(y, yRef) < 1e-6, "\(a) forward")
        #expect(maxError(dx, dxRef) < 1e-5, "\(a) backward")
        #expect(!y.contains { $0.isNaN })
    }

    /// The inference activations against their ONNX definitions in Double, on both sides of
    /// every kink (0, the clip bounds, HardSigmoid's ±2.5): within 2e-7 relative plus 1e-7
    /// absolute (one Float rounding of the result and of the expf inside Elu).
    @Test(arguments: [
        Activation.leakyRelu(alpha: 0.1), .elu(alpha: 1.5), .clip(min: 0, max: 6), .clip(min: -1, max: 0.5),
        .clip(min: 1, max: -1), .hardSigmoid(alpha: 0.2, beta: 0.5), .hardSwish,
    ])
    func inferenceActivations(_ a: Activation) {
        var rng = TestRandom(22)
        var x = rng.floats(255, -8, 8)
        x += [0, -0.0, 6, -6, 2.5, -2.5, 3, -3, 0.5, -1, 1e-8, -1e-8, -1e-5, -3e-4]
        var y = [Float](repeating: .nan, count: x.count)
        a.forward(x, &y, count: x.count)
        for (xi, yi) in zip(x, y) {
            let r = reference(a, Double(xi))
            #expect(abs(Double(yi) - r) <= 2e-7 * abs(r) + 1e-7, "\(a.name)(\(xi)) = \(yi), expected \(r)")
        }
        #expect(a.apply(x[0]) == y[0])
    }

    /// Elu, Selu and Celu compute eˣ − 1 without cancellation: near 0 the result keeps its
    /// relative accuracy (2 ulp), which eˣ rounded and then less 1 loses (its error is half an
    /// ulp of 1, ≈ 3e-8, against results of 1e-5 and below).
    @Test func exponentialMinusOneNearZero() {
        for a in [Activation.elu(alpha: 1.5), .selu(alpha: 1.6732632, gamma: 1.050701), .celu(alpha: 2)] {
            for x: Float in [-1e-3, -1e-5, -3e-7, -1e-9] {
                let r = reference(a, Double(x)), y = a.apply(x)
                #expect(abs(Double(y) - r) <= 2 * Double(Float(r).ulp), "\(a.name)(\(x)) = \(y), expected \(r)")
            }
        }
    }

    /// The unary ONNX operators against their definitions in Double over [−8, 8] and the
    /// points where they bend or are undefined (0, ±1, the thresholds, NaN, ±∞ results).
    /// Tolerance: `ulps` units in the last place of the result plus 1e-7 absolute (for results
    /// near 0, where relative error is unbounded). One correctly rounded operation is 0.5 ulp,
    /// a glibc call (expf, logf, erff, tanhf, log1pf, expm1f) at most 1–2; the exact ones
    /// (neg, abs, floor, ceil, sign, thresholded relu) must match exactly, the one-rounding ones
    /// (sqrt, reciprocal, softsign's two) within 2 ulp, and the compositions (softplus, selu,
    /// celu, mish, gelu, swish: up to five roundings and libm calls, each amplified by at most
    /// 2 by the function's slope in the range) within 12.
    @Test(arguments: [
        (Activation.neg, 0), (.abs, 0), (.floor, 0), (.ceil, 0), (.round, 0), (.sign, 0), (.thresholdedRelu(alpha: 0.5), 0),
        (.sqrt, 2), (.reciprocal, 2), (.softsign, 2), (.exp, 2), (.log, 2), (.erf, 3),
        (.softplus, 12), (.selu(alpha: 1.6732632, gamma: 1.050701), 12), (.celu(alpha: 0.7), 12), (.mish, 12),
        (.gelu(tanh: false), 12), (.gelu(tanh: true), 12), (.swish(alpha: 1), 12), (.swish(alpha: -0.5), 12),
    ] as [(Activation, Int)])
    func unaryOperators(_ a: Activation, ulps: Int) {
        if case .round = a {
            // Halves go to the even neighbour (ONNX and numpy), not away from zero.
            let x: [Float] = [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, -0.49999997, 0.50000006]
            var y = [Float](repeating: 0, count: x.count)
            a.forward(x, &y, count: x.count)
            #expect(y == [-2, -2, -0, 0, 2, 2, 4, -0, 1])
        }
        var rng = TestRandom(23)
        var x = rng.floats(255, -8, 8)
        x += [0, -0.0, 1, -1, 0.5, -0.5, 1e-6, -1e-6, 2.5, -2.5, 0.7, 30, -30, 88, -88, .nan]
        var y = [Float](repeating: .nan, count: x.count)
        a.forward(x, &y, count: x.count)
        for (xi, yi) in zip(x, y) {
            let r = reference(a, Double(xi))
            if r.isNaN {
                #expect(yi.isNaN, "\(a.name)(\(xi)) = \(yi), expected NaN")
            } else if r.isInfinite || ulps == 0 {
                #expect(Double(yi) == Double(Float(r)), "\(a.name)(\(xi)) = \(yi), expected \(r)")
            } else {
                let ulp = Double(Float(r).ulp == 0 ? Float.leastNonzeroMagnitude : Float(r).ulp)
                #expect(abs(Double(yi) - r) <= Double(ulps) * ulp + 1e-7, "\(a.name)(\(xi)) = \(yi), expected \(r)")
            }
        }
        #expect(a.apply(x[0]) == y[0])
    }

    /// Every binary operation and stride pattern of `Elementwise.binary` against the naive
    /// broadcast in Double; exact for add/sub/mul/div/max/min/prelu (one rounding, as the
    /// Double result rounded), 2 ulp for pow.
    @Test(arguments: BinaryOperation.allCases)
    func binaryBroadcastMatchesNaive(_ op: BinaryOperation) {
        var rng = TestRandom(3)
        let shapes: [([Int], [Int], [Int])] = [
            ([2, 3, 4], [2, 3, 4], [2, 3, 4]),
            ([2, 3, 4], [1, 1, 4], [2, 3, 4]),
            ([2, 1, 4], [1, 3, 1], [2, 3, 4]),
            ([1, 3, 1, 1], [2, 3, 5, 5], [2, 3, 5, 5]),
            ([], [], []),
            ([4, 1], [1, 1], [4, 1]),
            ([3, 5], [], [3, 5]),
            ([5], [3, 5], [3, 5]),
        ]
        for (sa, sb, so) in shapes {
            let a = rng.floats(sa.reduce(1, *), op == .pow ? 0.1 : -2, 2), b = rng.floats(sb.reduce(1, *), -2, 2)
            let total = so.reduce(1, *)
            var y = [Float](repeating: .nan, count: total)
            Elementwise.binary(op, a, strides: Broadcast.strides(sa, to: so), b, strides: Broadcast.strides(sb, to: so),
                               into: &y, shape: so)
            for flat in 0..<total {
                var rem = flat, ia = 0, ib = 0, mulA = 1, mulB = 1
                for d in stride(from: so.count - 1, through: 0, by: -1) {
                    let idx = rem % so[d]
                    rem /= so[d]
                    let da = d - (so.count - sa.count), db = d - (so.count - sb.count)
                    if da >= 0 { ia += (sa[da] == 1 ? 0 : idx) * mulA; mulA *= sa[da] }
                    if db >= 0 { ib += (sb[db] == 1 ? 0 : idx) * mulB; mulB *= sb[db] }
                }
                let x = Double(a[ia]), z = Double(b[ib])
                let r: Double
                switch op {
                case .add: r = x + z
                case .sub: r = x - z
                case .mul: r = x * z
                case .div: r = x / z
                case .max: r = max(x, z)
                case .min: r = min(x, z)
                case .prelu: r = x < 0 ? z * x : x
                case .pow: r = Foundation_pow(x, z)
                }
                if op == .pow {
                    #expect(abs(Double(y[flat]) - r) <= 2.4e-7 * abs(r), "\(sa) \(op) \(sb) at \(flat)")
                } else {
                    #expect(y[flat] == Float(r), "\(sa) \(op) \(sb) at \(flat): \(y[flat]) vs \(r)")
                }
            }
        }
    }

    @Test func channelBiasAndSums() {
        var rng = TestRandom(4)
        let n = 2, c = 3, s = 4
        let x = rng.floats(n * c * s), bias = rng.floats(c)
        var y = x
        Elementwise.addChannelBias(&y, batch: n, channels: c, spatial: s, bias: bias)
        var sums = [Float](repeating: .nan, count: c)
        Elementwise.sumChannels(x, batch: n, channels: c, spatial: s, into: &sums)
        for i in 0..<(n * c * s) { #expect(y[i] == x[i] + bias[(i / s) % c]) }
        for ch in 0..<c {
            var ref = 0.0
            for i in 0..<n { for j in 0..<s { ref += Double(x[(i * c + ch) * s + j]) } }
            #expect(abs(Double(sums[ch]) - ref) < 1e-5)
        }
    }

    @Test(arguments: [true, false])
    func denseForwardBackward(_ withBias: Bool) {
        var rng = TestRandom(6)
        let n = 4, c = 5, k = 3
        let x = rng.floats(n * c), w = rng.floats(k * c), b = rng.floats(k), dy = rng.floats(n * k)
        var y = [Float](repeating: .nan, count: n * k), dx = [Float](repeating: .nan, count: n * c)
        var dw = [Float](repeating: .nan, count: k * c), db = [Float](repeating: .nan, count: k)
        b.withUnsafeBufferPointer { bp in
            Dense.forward(x, batch: n, inputs: c, weight: w, bias: withBias ? bp.baseAddress : nil, outputs: k, into: &y)
        }
        db.withUnsafeMutableBufferPointer { dbp in
            Dense.backward(x, batch: n, inputs: c, weight: w, outputs: k, gradient: dy, inputGradient: &dx,
                           weightGradient: &dw, biasGradient: dbp.baseAddress)
        }
        var yRef = [Double](repeating: 0, count: n * k), dxRef = [Double](repeating: 0, count: n * c)
        var dwRef = [Double](repeating: 0, count: k * c), dbRef = [Double](repeating: 0, count: k)
        for i in 0..<n {
            for o in 0..<k {
                yRef[i * k + o] = withBias ? Double(b[o]) : 0
                dbRef[o] += Double(dy[i * k + o])
                for j in 0..<c {
                    yRef[i * k + o] += Double(x[i * c + j]) * Double(w[o * c + j])
                    dxRef[i * c + j] += Double(dy[i * k + o]) * Double(w[o * c + j])
                    dwRef[o * c + j] += Double(dy[i * k + o]) * Double(x[i * c + j])
                }
            }
        }
        #expect(maxError(y, yRef) < 1e-5)
        #expect(maxError(dx, dxRef) < 1e-5)
        #expect(maxError(dw, dwRef) < 1e-5)
        #expect(maxError(db, dbRef) < 1e-5)
    }

    @Test func softmaxAndCrossEntropy() {
        var rng = TestRandom(8)
        let n = 5, k = 4
        var x = rng.floats(n * k, -5, 5)
        x[3] = 80  // large logits must not overflow
        let labels: [Int32] = [0, 3, 1, 2, 3]
        var p = [Float](repeating: .nan, count: n * k), dx = p, p2 = p
        let loss = Loss.softmaxCrossEntropy(logits: x, labels: labels, rows: n, columns: k, probabilities: &p,
                                            gradient: &dx, gradientScale: 1 / Float(n))
        Softmax.forward(x, rows: n, columns: k, into: &p2)
        var pRef = [Double](), dRef = [Double](), lossRef = 0.0
        for r in 0..<n {
            let row = x[(r * k)..<(r * k + k)].map(Double.init)
            let mx = row.max()!
            let z = row.map { ($0 - mx).exp }.reduce(0, +)
            for j in 0..<k {
                let pj = (row[j] - mx).exp / z
                pRef.append(pj)
                dRef.append((pj - (j == Int(labels[r]) ? 1 : 0)) / Double(n))
            }
            lossRef += -(row[Int(labels[r])] - mx - Foundation_log(z))
        }
        #expect(maxError(p, pRef) < 1e-6)
        #expect(maxError(p2, pRef) < 1e-6)
        #expect(maxError(dx, dRef) < 1e-6)
        #expect(abs(loss - lossRef) < 1e-5 * (1 + lossRef))
        var classes = [Int32](repeating: -1, count: n)
        Softmax.argmax(x, rows: n, columns: k, into: &classes)
        for r in 0..<n {
            let row = Array(x[(r * k)..<(r * k + k)])
            #expect(Int(classes[r]) == row.firstIndex(of: row.max()!)!)
        }
    }

    @Test func squaredError() {
        let p: [Float] = [1, 2, 3, 4], t: [Float] = [0.5, 2, 5, 3]
        var d = [Float](repeating: .nan, count: 4)
        let total = Loss.squaredError(prediction: p, target: t, count: 4, gradient: &d, gradientScale: 0.25)
        let expected: Double = 5.25  // 0.5² + 0 + 2² + 1²
        #expect(total == expected)
        #expect(d == [0.25, 0, -1, 0.5])
    }
}
