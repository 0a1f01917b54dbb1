import Testing
@testable import BNCKernels

/// `DNNLTrainingConvolution` against bnc's im2col kernels (`Convolution.forward` and
/// `.backward`, themselves checked against finite differences through `GradientTests`):
/// y, dx, dW and db over first-layer, padded, strided, grouped and dilated convolutions, with
/// and without bias and dx, at batches 0 (dW and db zero), 1 (one thread), 2, 5 and 37 (the
/// images split unevenly over bnc's two threads, each with its own primitives), and the same
/// bits on a second run.
///
/// Tolerance, relative to each tensor's largest magnitude: y and dx are Float sums of
/// K = C/G·kh·kw ≤ 54 products, dW and db sums over n·oH·oW ≤ 3,700 terms, whose order
/// differs between the kernels: K·2⁻²⁴ ≤ 3.3e-6 and 3,700·2⁻²⁴ ≈ 2.2e-4 in the worst case
/// (random-walk growth makes the typical error √K·2⁻²⁴). Bounds 1e-5 and 2e-4.
struct DNNLTrainingConvolutionTests {
    struct Case: Sendable, CustomStringConvertible {
        let c: Int, m: Int, h: Int, w: Int, k: [Int], strides: [Int], dilations: [Int], pads: [Int], groups: Int
        let bias: Bool, inputGradient: Bool
        var description: String { "\(c)→\(m) \(h)×\(w) k\(k) s\(strides) d\(dilations) p\(pads) g\(groups) bias \(bias) dx \(inputGradient)" }
    }
    static let cases = [
        Case(c: 1, m: 8, h: 10, w: 10, k: [3, 3], strides: [1, 1], dilations: [1, 1], pads: [1, 1, 1, 1], groups: 1, bias: true, inputGradient: false),
        Case(c: 5, m: 12, h: 9, w: 7, k: [3, 3], strides: [1, 1], dilations: [1, 1], pads: [1, 1, 1, 1], groups: 1, bias: true, inputGradient: true),
        Case(c: 6, m: 10, h: 9, w: 9, k: [3, 3], strides: [2, 2], dilations: [1, 1], pads: [0, 0, 0, 0], groups: 1, bias: false, inputGradient: true),
        Case(c: 4, m: 6, h: 7, w: 8, k: [2, 2], strides: [1, 2], dilations: [1, 1], pads: [1, 0, 0, 1], groups: 2, bias: true, inputGradient: true),
        Case(c: 3, m: 16, h: 8, w: 8, k: [3, 2], strides: [1, 1], dilations: [2, 1], pads: [2, 1, 2, 0], groups: 1, bias: true, inputGradient: true),
    ]

    @Test(arguments: cases)
    func matchesIm2col(_ t: Case) throws {
        let window = try Window(input: [t.h, t.w], kernel: t.k, strides: t.strides, dilations: t.dilations,
                                padsBegin: Array(t.pads[..<2]), padsEnd: Array(t.pads[2...]))
        let g = try ConvGeometry(window: window, inChannels: t.c, outChannels: t.m, groups: t.groups)
        let direct = try #require(DNNLTrainingConvolution(geometry: g, bias: t.bias))
        var rng = TestRandom(UInt64(t.c * 100 + t.m))
        let weight = (0..<g.weightCount).map { _ in rng.uniform() }, bias = (0..<g.outChannels).map { _ in rng.uniform() }
        let inCount = g.inChannels * g.inSpatial, outCount = g.outChannels * g.outSpatial
        var scratch = [Float](repeating: 0, count: max(g.forwardScratchCount, g.backwardScratchCount))
        for n in [0, 1, 2, 5, 37] {
            let x = (0..<(n * inCount)).map { _ in rng.uniform() }, dy = (0..<(n * outCount)).map { _ in rng.uniform() }
            func run(_ oneDNN: Bool) -> (y: [Float], dx: [Float], dw: [Float], db: [Float]) {
                var y = [Float](repeating: .nan, count: n * outCount), dx = [Float](repeating: .nan, count: n * inCount)
                var dw = [Float](repeating: .nan, count: g.weightCount), db = [Float](repeating: .nan, count: g.outChannels)
                x.withUnsafeBufferPointer { xp in weight.withUnsafeBufferPointer { wp in bias.withUnsafeBufferPointer { bp in
                dy.withUnsafeBufferPointer { dyp in y.withUnsafeMutableBufferPointer { yp in dx.withUnsafeMutableBufferPointer { dxp in
                dw.withUnsafeMutableBufferPointer { dwp in db.withUnsafeMutableBufferPointer { dbp in
                    let xb = xp.baseAddress ?? UnsafePointer(bitPattern: 64)!, dyb = dyp.baseAddress ?? UnsafePointer(bitPattern: 64)!
                    let yb = yp.baseAddress ?? UnsafeMutablePointer(bitPattern: 64)!, dxb = dxp.baseAddress ?? UnsafeMutablePointer(bitPattern: 64)!
                    let b = t.bias ? bp.baseAddress! : nil
                    if oneDNN {
                        #expect(direct.forward(batch: n, input: xb, weight: wp.baseAddress!, bias: b, output: yb))
                        #expect(direct.backward(batch: n, input: xb, weight: wp.baseAddress!, gradient: dyb,
                                                inputGradient: t.inputGradient ? dxb : nil, weightGradient: dwp.baseAddress!,
                                                biasGradient: t.bias ? dbp.baseAddress! : nil))
                    } else {
                        scratch.withUnsafeMutableBufferPointer { s in
                            Convolution.forward(g, batch: n, input: xb, weight: wp.baseAddress!, bias: b, output: yb, scratch: s.baseAddress!)
                            Convolution.backward(g, batch: n, input: xb, weight: wp.baseAddress!, gradient: dyb,
                                                 inputGradient: t.inputGradient ? dxb : nil, weightGradient: dwp.baseAddress!,
                                                 biasGradient: t.bias ? dbp.baseAddress! : nil, scratch: s.baseAddress!)
                        }
                    }
                } } } } } } } }
                return (y, t.inputGradient ? dx : [], dw, t.bias ? db : [])
            }
            let want = run(false), got = run(true), again = run(true)
            func check(_ name: String, _ a: [Float], _ b: [Float], _ tolerance: Float) {
                let scale = max(1e-3, b.map(abs).max() ?? 0)
                let err = zip(a, b).map { abs($0 - $1) }.max() ?? 0
                #expect(a.count == b.count && err <= tolerance * scale, "\(t) batch \(n): \(name) max error \(err), scale \(scale)")
            }
            check("y", got.y, want.y, 1e-5)
            check("dx", got.dx, want.dx, 1e-5)
            check("dW", got.dw, want.dw, 2e-4)
            check("db", got.db, want.db, 2e-4)
            if n == 0 { #expect(got.dw.allSatisfy { $0 == 0 } && got.db.allSatisfy { $0 == 0 }, "\(t): no images, dW and db zero") }
            let bits = { (r: (y: [Float], dx: [Float], dw: [Float], db: [Float])) in (r.y + r.dx + r.dw + r.db).map(\.bitPattern) }
            #expect(bits(again) == bits(got), "\(t) batch \(n): a second run differs")
        }
    }
}
