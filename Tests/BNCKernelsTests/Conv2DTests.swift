import Testing
@testable import BNCKernels

/// Conv2D against direct nested loops in Double, forward and backward (the backward
/// reference is the explicit adjoint of the same loops). Tolerance 1e-5 mixed error.
struct Conv2DTests {
    struct Case: CustomStringConvertible, Sendable {
        var n = 2, c = 4, h = 7, w = 6, m = 6, kh = 3, kw = 3
        var stride = (1, 1), pads = (0, 0, 0, 0), dilation = (1, 1), groups = 1, bias = true
        var description: String {
            "n\(n) c\(c) \(h)×\(w) m\(m) k\(kh)×\(kw) s\(stride) p\(pads) d\(dilation) g\(groups) bias \(bias)"
        }
    }

    static let cases: [Case] = [
        Case(),
        Case(stride: (2, 2), pads: (1, 1, 1, 1)),
        Case(h: 8, w: 9, kh: 3, kw: 2, stride: (2, 1), pads: (0, 2, 1, 0), dilation: (1, 2)),  // asymmetric
        Case(c: 4, m: 6, pads: (1, 1, 1, 1), groups: 2, bias: false),  // grouped
        Case(c: 3, m: 3, stride: (2, 2), pads: (1, 0, 1, 2), groups: 3),  // depthwise
        Case(c: 3, m: 6, pads: (2, 2, 2, 2), dilation: (2, 2), groups: 3),  // depthwise ×2 multiplier, dilated
        Case(n: 1, c: 5, m: 4, kh: 1, kw: 1),  // pointwise, batch 1
        Case(n: 3, c: 4, m: 4, kh: 1, kw: 1, groups: 2, bias: false),  // grouped pointwise
        Case(n: 1, c: 16, h: 14, w: 14, m: 32, pads: (1, 1, 1, 1)),  // batch 1, split product
        Case(n: 5, c: 1, h: 5, w: 5, m: 3, kh: 5, kw: 5),  // kernel covers input
        Case(n: 2, c: 2, h: 5, w: 6, m: 3, kh: 2, kw: 3, pads: (0, 2, 1, 0)),  // stride 1, oW == W, lopsided shifts
        Case(n: 2, c: 1, h: 3, w: 4, m: 2, kh: 3, kw: 3, pads: (3, 1, 1, 1)),  // stride 1, oW == W, whole rows padded
    ]

    func geometry(_ t: Case) throws -> ConvGeometry {
        try ConvGeometry(inChannels: t.c, height: t.h, width: t.w, outChannels: t.m, kernelHeight: t.kh,
                         kernelWidth: t.kw, strides: t.stride, pads: (t.pads.0, t.pads.1, t.pads.2, t.pads.3),
                         dilations: t.dilation, groups: t.groups)
    }

    /// Visits every (sample, out channel, oy, ox, in channel, ky, kx) with in-bounds input index.
    func forEachTap(_ t: Case, _ g: ConvGeometry, _ body: (_ yIndex: Int, _ xIndex: Int, _ wIndex: Int, _ m: Int) -> Void) {
        let mg = t.m / t.groups, cg = t.c / t.groups
        for i in 0..<t.n {
            for m in 0..<t.m {
                let grp = m / mg
                for oy in 0..<g.outHeight {
                    for ox in 0..<g.outWidth {
                        let yi = ((i * t.m + m) * g.outHeight + oy) * g.outWidth + ox
                        for ci in 0..<cg {
                            let c = grp * cg + ci
                            for ky in 0..<t.kh {
                                for kx in 0..<t.kw {
                                    let iy = oy * t.stride.0 + ky * t.dilation.0 - t.pads.0
                                    let ix = ox * t.stride.1 + kx * t.dilation.1 - t.pads.1
                                    guard iy >= 0, iy < t.h, ix >= 0, ix < t.w else { continue }
                                    let xi = ((i * t.c + c) * t.h + iy) * t.w + ix
                                    let wi = ((m * cg + ci) * t.kh + ky) * t.kw + kx
                                    body(yi, xi, wi, m)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test(arguments: cases)
    func forwardAndBackwardMatchDirectLoops(_ t: Case) throws {
        let g = try geometry(t)
        var rng = TestRandom(UInt64(t.c * 100 + t.m * 10 + t.groups))
        let x = rng.floats(t.n * t.c * t.h * t.w)
        let wt = rng.floats(g.weightCount)
        let b = rng.floats(t.m)
        let outCount = t.n * t.m * g.outSpatial
        let dy = rng.floats(outCount)

        // Reference.
        var yRef = [Double](repeating: 0, count: outCount)
        var dxRef = [Double](repeating: 0, count: x.count), dwRef = [Double](repeating: 0, count: wt.count)
        var dbRef = [Double](repeating: 0, count: t.m)
        forEachTap(t, g) { yi, xi, wi, _ in
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
            Conv2D.forward(g, batch: t.n, input: x, weight: wt, bias: t.bias ? bp.baseAddress : nil, output: &y, scratch: &scratch)
        }
        db.withUnsafeMutableBufferPointer { dbp in
            Conv2D.backward(g, batch: t.n, input: x, weight: wt, gradient: dy, inputGradient: &dx,
                            weightGradient: &dw, biasGradient: dbp.baseAddress, scratch: &scratch)
        }
        #expect(maxError(y, yRef) < 1e-5, "forward \(t)")
        #expect(maxError(dx, dxRef) < 1e-5, "dx \(t)")
        #expect(maxError(dw, dwRef) < 1e-5, "dw \(t)")
        #expect(maxError(db, dbRef) < 1e-5, "db \(t)")
    }

    /// The fused activation equals the activation applied to the plain output.
    @Test(arguments: [Activation.relu, .sigmoid, .tanh])
    func fusedActivationMatchesASeparatePass(_ act: Activation) throws {
        for t in [Self.cases[0], Self.cases[3], Self.cases[8]] {
            let g = try geometry(t)
            var rng = TestRandom(UInt64(t.c * 7 + t.m))
            let x = rng.floats(t.n * t.c * t.h * t.w), wt = rng.floats(g.weightCount), b = rng.floats(t.m)
            let outCount = t.n * t.m * g.outSpatial
            var scratch = [Float](repeating: .nan, count: g.forwardScratchCount)
            var plain = [Float](repeating: .nan, count: outCount), fused = plain
            b.withUnsafeBufferPointer { bp in
                let bias = t.bias ? bp.baseAddress : nil
                Conv2D.forward(g, batch: t.n, input: x, weight: wt, bias: bias, output: &plain, scratch: &scratch)
                Conv2D.forward(g, batch: t.n, input: x, weight: wt, bias: bias, activation: act, output: &fused, scratch: &scratch)
            }
            #expect(fused == plain.map(act.apply), "\(act) \(t)")
        }
    }

    /// A fused 2×2 max-pool equals `MaxPool2D.forward` on the (activated) output, exactly,
    /// on both cores, one core (`parallel: false`) and one sample (split product), for odd
    /// output sizes (the last row and column are dropped) and grouped convolutions.
    @Test(arguments: [Activation.identity, .relu])
    func fusedPoolingMatchesASeparatePool(_ act: Activation) throws {
        let cases = [Self.cases[0], Self.cases[3], Self.cases[8], Self.cases[10],
                     Case(n: 4, c: 3, h: 9, w: 7, m: 5, pads: (1, 1, 1, 1))]
        for t in cases {
            let g = try geometry(t)
            let pool = try PoolGeometry(channels: t.m, height: g.outHeight, width: g.outWidth, kernelHeight: 2, kernelWidth: 2,
                                        strides: (2, 2))
            #expect(pool.isPlain2x2)
            var rng = TestRandom(UInt64(t.c * 11 + t.m))
            let x = rng.floats(t.n * t.c * t.h * t.w), wt = rng.floats(g.weightCount), b = rng.floats(t.m)
            var scratch = [Float](repeating: .nan, count: g.forwardScratchCount(pooled: true))
            // Split and serial products may differ in the last bit (sgemm blocks them
            // differently), so each fused run is compared with the unfused run of its mode.
            for parallel in [true, false] {
                var full = [Float](repeating: .nan, count: t.n * t.m * g.outSpatial)
                var expected = [Float](repeating: .nan, count: t.n * t.m * pool.outHeight * pool.outWidth)
                var fused = expected
                b.withUnsafeBufferPointer { bp in
                    let bias = t.bias ? bp.baseAddress : nil
                    Conv2D.forward(g, batch: t.n, input: x, weight: wt, bias: bias, activation: act, output: &full,
                                   scratch: &scratch, parallel: parallel)
                    MaxPool2D.forward(pool, batch: t.n, input: full, output: &expected, argmax: nil)
                    Conv2D.forward(g, batch: t.n, input: x, weight: wt, bias: bias, activation: act, pool: pool,
                                   output: &fused, scratch: &scratch, parallel: parallel)
                }
                let wrong = fused.indices.filter { fused[$0] != expected[$0] }
                #expect(wrong.isEmpty, "\(act) \(t) parallel \(parallel): \(wrong.count) values differ")
            }
        }
    }

    /// Plain 2×2 pooling needs every window inside the input and no padding.
    @Test func plainPoolingShapes() throws {
        #expect(try PoolGeometry(channels: 1, height: 5, width: 4, kernelHeight: 2, kernelWidth: 2, strides: (2, 2)).isPlain2x2)
        #expect(try !PoolGeometry(channels: 1, height: 5, width: 4, kernelHeight: 2, kernelWidth: 2, strides: (2, 2),
                                  ceilMode: true).isPlain2x2)
        #expect(try !PoolGeometry(channels: 1, height: 4, width: 4, kernelHeight: 2, kernelWidth: 2, strides: (2, 2),
                                  pads: (1, 1, 1, 1)).isPlain2x2)
        #expect(try !PoolGeometry(channels: 1, height: 4, width: 4, kernelHeight: 2, kernelWidth: 2, strides: (1, 1)).isPlain2x2)
        #expect(try !PoolGeometry(channels: 1, height: 6, width: 6, kernelHeight: 3, kernelWidth: 3, strides: (2, 2)).isPlain2x2)
    }

    @Test func geometryOutputSizesAndErrors() throws {
        let g = try ConvGeometry(inChannels: 1, height: 28, width: 28, outChannels: 32, kernelHeight: 3, kernelWidth: 3,
                                 pads: (1, 1, 1, 1))
        #expect(g.outHeight == 28 && g.outWidth == 28)
        let s = try ConvGeometry(inChannels: 2, height: 7, width: 8, outChannels: 2, kernelHeight: 3, kernelWidth: 2,
                                 strides: (2, 3), pads: (0, 1, 1, 0), dilations: (2, 1))
        #expect(s.outHeight == (7 + 1 - 5) / 2 + 1 && s.outWidth == (8 + 1 - 2) / 3 + 1)
        #expect(throws: KernelShapeError.self) {
            try ConvGeometry(inChannels: 3, height: 5, width: 5, outChannels: 4, kernelHeight: 3, kernelWidth: 3, groups: 2)
        }
        #expect(throws: KernelShapeError.self) {
            try ConvGeometry(inChannels: 1, height: 2, width: 2, outChannels: 1, kernelHeight: 3, kernelWidth: 3)
        }
        #expect(throws: KernelShapeError.self) {
            try ConvGeometry(inChannels: 1, height: 5, width: 5, outChannels: 1, kernelHeight: 3, kernelWidth: 3, strides: (0, 1))
        }
    }
}
