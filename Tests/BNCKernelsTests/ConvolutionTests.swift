import Testing
@testable import BNCKernels

/// Convolution in 1, 2 and 3 spatial dimensions against direct nested loops in Double,
/// forward and backward (the backward reference is the explicit adjoint of the same loops).
///
/// Tolerance 1e-5 of mixed error |a − b|/(1 + |b|): each output is a Float dot product of
/// K = C/G·k ≤ 144 terms of size ≤ 1, whose rounding error is at most K·2⁻²⁴ ≈ 9e-6 of the
/// sum of |terms| in the worst case and far less with random signs.
struct ConvolutionTests {
    struct Case: CustomStringConvertible, Sendable {
        var n = 2, c = 4, m = 6
        var input = [7, 6], kernel = [3, 3]
        var strides: [Int]? = nil
        /// ONNX order: begins, then ends.
        var pads: [Int]? = nil
        var dilations: [Int]? = nil
        var groups = 1, bias = true
        var description: String {
            "n\(n) c\(c) \(input) m\(m) k\(kernel) s\(strides ?? []) p\(pads ?? []) d\(dilations ?? []) g\(groups) bias \(bias)"
        }
        var rank: Int { input.count }
        var s: [Int] { strides ?? Array(repeating: 1, count: rank) }
        var d: [Int] { dilations ?? Array(repeating: 1, count: rank) }
        var p: [Int] { pads ?? Array(repeating: 0, count: 2 * rank) }
    }

    static let cases: [Case] = [
        Case(),
        Case(strides: [2, 2], pads: [1, 1, 1, 1]),
        Case(input: [8, 9], kernel: [3, 2], strides: [2, 1], pads: [0, 2, 1, 0], dilations: [1, 2]),  // asymmetric
        Case(pads: [1, 1, 1, 1], groups: 2, bias: false),  // grouped
        Case(c: 3, m: 3, strides: [2, 2], pads: [1, 0, 1, 2], groups: 3),  // depthwise
        Case(c: 3, m: 6, pads: [2, 2, 2, 2], dilations: [2, 2], groups: 3),  // depthwise ×2 multiplier, dilated
        Case(n: 1, c: 5, m: 4, kernel: [1, 1]),  // pointwise, batch 1
        Case(n: 3, c: 4, m: 4, kernel: [1, 1], groups: 2, bias: false),  // grouped pointwise
        Case(n: 1, c: 16, m: 32, input: [14, 14], pads: [1, 1, 1, 1]),  // batch 1, split product
        Case(n: 5, c: 1, m: 3, input: [5, 5], kernel: [5, 5]),  // kernel covers input
        Case(n: 2, c: 2, m: 3, input: [5, 6], kernel: [2, 3], pads: [0, 2, 1, 0]),  // stride 1, oW == W, lopsided shifts
        Case(n: 2, c: 1, m: 2, input: [3, 4], kernel: [3, 3], pads: [3, 1, 1, 1]),  // stride 1, oW == W, whole rows padded
        // 1-D.
        Case(n: 3, c: 2, m: 4, input: [11], kernel: [3]),
        Case(n: 2, c: 4, m: 2, input: [12], kernel: [3], strides: [2], pads: [1, 2], dilations: [2], groups: 2),
        // 3-D.
        Case(n: 2, c: 2, m: 3, input: [4, 5, 6], kernel: [3, 3, 3], pads: [1, 1, 1, 1, 1, 1]),  // 'same', shifted planes
        Case(n: 2, c: 4, m: 6, input: [5, 6, 5], kernel: [2, 3, 2], strides: [2, 1, 2], pads: [1, 0, 1, 0, 2, 1],
             dilations: [2, 1, 1], groups: 2),
        Case(n: 3, c: 3, m: 3, input: [3, 4, 4], kernel: [1, 1, 1], bias: false),  // pointwise
        Case(n: 1, c: 4, m: 8, input: [6, 8, 8], kernel: [3, 3, 3], pads: [1, 1, 1, 1, 1, 1]),  // batch 1, split product
        Case(n: 2, c: 2, m: 2, input: [3, 4, 3], kernel: [2, 2, 2], strides: [3, 1, 1], pads: [2, 0, 0, 2, 1, 1]),  // depth on padding
    ]

    func geometry(_ t: Case) throws -> ConvGeometry {
        let w = try Window.resolve(autoPad: .notSet, input: t.input, kernel: t.kernel, strides: t.strides,
                                   dilations: t.dilations, pads: t.pads)
        return try ConvGeometry(window: w, inChannels: t.c, outChannels: t.m, groups: t.groups)
    }

    /// Visits every (sample, out channel, output position, in channel, tap) with an
    /// in-bounds input position.
    func forEachTap(_ t: Case, _ g: ConvGeometry, _ body: (_ yIndex: Int, _ xIndex: Int, _ wIndex: Int) -> Void) {
        let mg = t.m / t.groups, cg = t.c / t.groups, out = g.window.output
        for i in 0..<t.n {
            for m in 0..<t.m {
                let grp = m / mg
                forEachIndex(out) { o in
                    let yi = (i * t.m + m) * g.outSpatial + offset(o, in: out)
                    for ci in 0..<cg {
                        let c = grp * cg + ci
                        forEachIndex(t.kernel) { k in
                            var at: [Int] = []
                            for a in 0..<t.rank { at.append(o[a] * t.s[a] + k[a] * t.d[a] - t.p[a]) }
                            guard zip(at, t.input).allSatisfy({ $0 >= 0 && $0 < $1 }) else { return }
                            let xi = (i * t.c + c) * g.inSpatial + offset(at, in: t.input)
                            let wi = (m * cg + ci) * g.columnRows / cg + offset(k, in: t.kernel)
                            body(yi, xi, wi)
                        }
                    }
                }
            }
        }
    }

    @Test(arguments: cases)
    func forwardAndBackwardMatchDirectLoops(_ t: Case) throws {
        let g = try geometry(t)
        var rng = TestRandom(UInt64(t.c * 100 + t.m * 10 + t.groups + t.rank))
        let x = rng.floats(t.n * t.c * g.inSpatial)
        let wt = rng.floats(g.weightCount)
        let b = rng.floats(t.m)
        let outCount = t.n * t.m * g.outSpatial
        let dy = rng.floats(outCount)

        // Reference.
        var yRef = [Double](repeating: 0, count: outCount)
        var dxRef = [Double](repeating: 0, count: x.count), dwRef = [Double](repeating: 0, count: wt.count)
        var dbRef = [Double](repeating: 0, count: t.m)
        forEachTap(t, g) { yi, xi, wi in
            yRef[yi] += Double(wt[wi]) * Double(x[xi])
            dxRef[xi] += Double(wt[wi]) * Double(dy[yi])
            dwRef[wi] += Double(x[xi]) * Double(dy[yi])
        }
        for i in 0..<t.n {
            for m in 0..<t.m {
                for s in 0..<g.outSpatial {
                    let yi = (i * t.m + m) * g.outSpatial + s
                    if t.bias { yRef[yi] += Double(b[m]) }
                    dbRef[m] += Double(dy[yi])
                }
            }
        }

        var y = [Float](repeating: .nan, count: outCount)
        var scratch = [Float](repeating: .nan, count: max(g.forwardScratchCount, g.backwardScratchCount))
        var dx = [Float](repeating: .nan, count: x.count), dw = [Float](repeating: .nan, count: wt.count)
        var db = [Float](repeating: .nan, count: t.m)
        b.withUnsafeBufferPointer { bp in
            Convolution.forward(g, batch: t.n, input: x, weight: wt, bias: t.bias ? bp.baseAddress : nil, output: &y, scratch: &scratch)
        }
        db.withUnsafeMutableBufferPointer { dbp in
            Convolution.backward(g, batch: t.n, input: x, weight: wt, gradient: dy, inputGradient: &dx,
                                 weightGradient: &dw, biasGradient: dbp.baseAddress, scratch: &scratch)
        }
        #expect(maxError(y, yRef) < 1e-5, "forward \(t)")
        #expect(maxError(dx, dxRef) < 1e-5, "dx \(t)")
        #expect(maxError(dw, dwRef) < 1e-5, "dw \(t)")
        #expect(maxError(db, dbRef) < 1e-5, "db \(t)")
    }

    /// A 1-D or 2-D convolution is the 3-D one with leading sizes 1, bit for bit (the same
    /// loops run; only the depth loop's bounds differ).
    @Test func lowerRanksAreThreeDimensionalCasesBitForBit() throws {
        for t in [Self.cases[1], Self.cases[2], Self.cases[12], Self.cases[13]] {
            var t3 = t
            let lead = 3 - t.rank
            t3.input = Array(repeating: 1, count: lead) + t.input
            t3.kernel = Array(repeating: 1, count: lead) + t.kernel
            t3.strides = Array(repeating: 1, count: lead) + t.s
            t3.dilations = Array(repeating: 1, count: lead) + t.d
            t3.pads = Array(repeating: 0, count: lead) + t.p[..<t.rank] + Array(repeating: 0, count: lead) + t.p[t.rank...]
            let g = try geometry(t), g3 = try geometry(t3)
            var rng = TestRandom(5)
            let x = rng.floats(t.n * t.c * g.inSpatial), wt = rng.floats(g.weightCount)
            var y = [Float](repeating: .nan, count: t.n * t.m * g.outSpatial), y3 = y
            var scratch = [Float](repeating: .nan, count: g.forwardScratchCount)
            Convolution.forward(g, batch: t.n, input: x, weight: wt, bias: nil, output: &y, scratch: &scratch)
            Convolution.forward(g3, batch: t.n, input: x, weight: wt, bias: nil, output: &y3, scratch: &scratch)
            #expect(y == y3, "\(t)")
        }
    }

    /// The fused activation equals the activation applied to the plain output.
    @Test(arguments: [Activation.relu, .sigmoid, .tanh])
    func fusedActivationMatchesASeparatePass(_ act: Activation) throws {
        for t in [Self.cases[0], Self.cases[3], Self.cases[8], Self.cases[15]] {
            let g = try geometry(t)
            var rng = TestRandom(UInt64(t.c * 7 + t.m))
            let x = rng.floats(t.n * t.c * g.inSpatial), wt = rng.floats(g.weightCount), b = rng.floats(t.m)
            let outCount = t.n * t.m * g.outSpatial
            var scratch = [Float](repeating: .nan, count: g.forwardScratchCount)
            var plain = [Float](repeating: .nan, count: outCount), fused = plain
            b.withUnsafeBufferPointer { bp in
                let bias = t.bias ? bp.baseAddress : nil
                Convolution.forward(g, batch: t.n, input: x, weight: wt, bias: bias, output: &plain, scratch: &scratch)
                Convolution.forward(g, batch: t.n, input: x, weight: wt, bias: bias, activation: act, output: &fused, scratch: &scratch)
            }
            #expect(fused == plain.map(act.apply), "\(act) \(t)")
        }
    }

    /// A fused 2×2 max-pool equals `MaxPooling.forward` on the (activated) output, exactly,
    /// on both cores, one core (`parallel: false`) and one sample (split product), for odd
    /// output sizes (the last row and column are dropped) and grouped convolutions.
    @Test(arguments: [Activation.identity, .relu])
    func fusedPoolingMatchesASeparatePool(_ act: Activation) throws {
        let cases = [Self.cases[0], Self.cases[3], Self.cases[8], Self.cases[10],
                     Case(n: 4, c: 3, m: 5, input: [9, 7], pads: [1, 1, 1, 1])]
        for t in cases {
            let g = try geometry(t)
            let pool = try PoolGeometry(window: Window(input: [g.outHeight, g.outWidth], kernel: [2, 2], strides: [2, 2]),
                                        channels: t.m)
            #expect(pool.isPlain2x2)
            var rng = TestRandom(UInt64(t.c * 11 + t.m))
            let x = rng.floats(t.n * t.c * g.inSpatial), wt = rng.floats(g.weightCount), b = rng.floats(t.m)
            var scratch = [Float](repeating: .nan, count: g.forwardScratchCount(pooled: true))
            // Split and serial products may differ in the last bit (sgemm blocks them
            // differently), so each fused run is compared with the unfused run of its mode.
            for parallel in [true, false] {
                var full = [Float](repeating: .nan, count: t.n * t.m * g.outSpatial)
                var expected = [Float](repeating: .nan, count: t.n * t.m * pool.outSpatial)
                var fused = expected
                b.withUnsafeBufferPointer { bp in
                    let bias = t.bias ? bp.baseAddress : nil
                    Convolution.forward(g, batch: t.n, input: x, weight: wt, bias: bias, activation: act, output: &full,
                                        scratch: &scratch, parallel: parallel)
                    MaxPooling.forward(pool, batch: t.n, input: full, output: &expected, argmax: nil)
                    Convolution.forward(g, batch: t.n, input: x, weight: wt, bias: bias, activation: act, pool: pool,
                                        output: &fused, scratch: &scratch, parallel: parallel)
                }
                let wrong = fused.indices.filter { fused[$0] != expected[$0] }
                #expect(wrong.isEmpty, "\(act) \(t) parallel \(parallel): \(wrong.count) values differ")
            }
        }
    }

    /// Plain 2×2 pooling needs a 2-D window inside the input and no padding.
    @Test func plainPoolingShapes() throws {
        func pool(_ input: [Int], _ k: [Int], _ s: [Int], pads: [Int]? = nil, ceil: Bool = false) throws -> PoolGeometry {
            try PoolGeometry(window: Window.resolve(autoPad: .notSet, input: input, kernel: k, strides: s, pads: pads, ceilMode: ceil),
                             channels: 1)
        }
        #expect(try pool([5, 4], [2, 2], [2, 2]).isPlain2x2)
        #expect(try pool([1, 6, 4], [1, 2, 2], [1, 2, 2]).isPlain2x2)
        #expect(try !pool([2, 6, 4], [1, 2, 2], [1, 2, 2]).isPlain2x2)
        #expect(try !pool([5, 4], [2, 2], [2, 2], ceil: true).isPlain2x2)
        #expect(try !pool([4, 4], [2, 2], [2, 2], pads: [1, 1, 1, 1]).isPlain2x2)
        #expect(try !pool([4, 4], [2, 2], [1, 1]).isPlain2x2)
        #expect(try !pool([6, 6], [3, 3], [2, 2]).isPlain2x2)
        #expect(try !pool([8], [2], [2]).isPlain2x2)
    }

    @Test func geometryOutputSizesAndErrors() throws {
        let g = try geometry(Case(c: 1, m: 32, input: [28, 28], pads: [1, 1, 1, 1]))
        #expect(g.outHeight == 28 && g.outWidth == 28 && g.outDepth == 1)
        let s = try geometry(Case(c: 2, m: 2, input: [7, 8], kernel: [3, 2], strides: [2, 3], pads: [0, 1, 1, 0], dilations: [2, 1]))
        #expect(s.outHeight == (7 + 1 - 5) / 2 + 1 && s.outWidth == (8 + 1 - 2) / 3 + 1)
        let d = try geometry(Case(c: 2, m: 2, input: [5, 7, 8], kernel: [2, 3, 2], strides: [2, 2, 3], pads: [1, 0, 1, 0, 1, 0],
                                  dilations: [2, 2, 1]))
        #expect(d.window.output == [(5 + 1 - 3) / 2 + 1, (7 + 1 - 5) / 2 + 1, (8 + 1 - 2) / 3 + 1])
        #expect(d.columnRows == 2 * 12 && d.outSpatial == d.window.outputCount)
        #expect(throws: KernelShapeError.self) { try geometry(Case(c: 3, m: 4, input: [5, 5], groups: 2)) }
        #expect(throws: KernelShapeError.self) { try geometry(Case(input: [2, 2])) }
        #expect(throws: KernelShapeError.self) { try geometry(Case(strides: [0, 1])) }
        // Columns of 2^20 × 2^20 × 4 floats: refused, not allocated.
        #expect(throws: KernelShapeError.self) {
            try geometry(Case(c: 4, m: 1, input: [1 << 20, 1 << 20], kernel: [1, 2]))
        }
    }
}
