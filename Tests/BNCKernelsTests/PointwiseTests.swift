import Testing
@testable import BNCKernels

/// Activations, bias/broadcast adds, Dense, Softmax and the losses against Double references.
/// Tolerance 1e-5 mixed error unless stated.
struct PointwiseTests {
    @Test(arguments: Activation.allCases)
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
            switch a {
            case .identity: yRef.append(v); dxRef.append(Double(g))
            case .relu: yRef.append(max(v, 0)); dxRef.append(v > 0 ? Double(g) : 0)
            case .sigmoid:
                let s = 1 / (1 + (-v).exp)
                yRef.append(s); dxRef.append(Double(g) * s * (1 - s))
            case .tanh:
                let t = Foundation_tanh(v)
                yRef.append(t); dxRef.append(Double(g) * (1 - t * t))
            }
        }
        #expect(maxError(y, yRef) < 1e-6, "\(a) forward")
        #expect(maxError(dx, dxRef) < 1e-5, "\(a) backward")
        #expect(!y.contains { $0.isNaN })
    }

    @Test func broadcastAddMatchesNaive() {
        var rng = TestRandom(3)
        let shapes: [([Int], [Int], [Int])] = [
            ([2, 3, 4], [2, 3, 4], [2, 3, 4]),
            ([2, 3, 4], [1, 1, 4], [2, 3, 4]),
            ([2, 1, 4], [1, 3, 1], [2, 3, 4]),
            ([1, 3, 1, 1], [2, 3, 5, 5], [2, 3, 5, 5]),
            ([], [], []),
            ([4, 1], [1, 1], [4, 1]),
        ]
        for (sa, sb, so) in shapes {
            let a = rng.floats(sa.reduce(1, *)), b = rng.floats(sb.reduce(1, *))
            let total = so.reduce(1, *)
            var y = [Float](repeating: .nan, count: total)
            Elementwise.broadcastAdd(a, shape: sa, b, shape: sb, into: &y, shape: so)
            var ref = [Double](repeating: 0, count: total)
            for flat in 0..<total {
                var rem = flat, ia = 0, ib = 0, mulA = 1, mulB = 1
                for d in stride(from: so.count - 1, through: 0, by: -1) {
                    let idx = rem % so[d]
                    rem /= so[d]
                    ia += (sa[d] == 1 ? 0 : idx) * mulA
                    ib += (sb[d] == 1 ? 0 : idx) * mulB
                    mulA *= sa[d]
                    mulB *= sb[d]
                }
                ref[flat] = Double(a[ia]) + Double(b[ib])
            }
            #expect(maxError(y, ref) == 0, "\(sa) + \(sb)")
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
