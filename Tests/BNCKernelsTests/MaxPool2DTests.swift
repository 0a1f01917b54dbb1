import Testing
@testable import BNCKernels

/// MaxPool2D against naive window loops with −∞ padding; backward routes each output
/// gradient to the selected input (exact comparison: no arithmetic beyond sums of dy).
struct MaxPool2DTests {
    struct Case: Sendable, CustomStringConvertible {
        var h: Int, w: Int, k: (Int, Int), s: (Int, Int), p: (Int, Int, Int, Int), d: (Int, Int), ceil: Bool
        var description: String { "\(h)×\(w) k\(k) s\(s) p\(p) d\(d) ceil \(ceil)" }
    }
    static let cases: [Case] = [
        Case(h: 8, w: 6, k: (2, 2), s: (2, 2), p: (0, 0, 0, 0), d: (1, 1), ceil: false),
        Case(h: 7, w: 7, k: (2, 2), s: (2, 2), p: (0, 0, 0, 0), d: (1, 1), ceil: false),
        Case(h: 7, w: 7, k: (2, 2), s: (2, 2), p: (0, 0, 0, 0), d: (1, 1), ceil: true),
        Case(h: 6, w: 5, k: (3, 3), s: (2, 1), p: (1, 1, 1, 0), d: (1, 1), ceil: false),
        Case(h: 9, w: 9, k: (2, 3), s: (1, 2), p: (1, 0, 0, 2), d: (2, 2), ceil: false),
        Case(h: 64, w: 64, k: (2, 2), s: (2, 2), p: (0, 0, 0, 0), d: (1, 1), ceil: false),  // split over cores
        Case(h: 64, w: 62, k: (3, 3), s: (2, 2), p: (1, 1, 1, 1), d: (1, 1), ceil: false),
    ]

    @Test(arguments: cases)
    func forwardBackwardMatchNaive(_ t: Case) throws {
        let g = try PoolGeometry(channels: 3, height: t.h, width: t.w, kernelHeight: t.k.0, kernelWidth: t.k.1,
                                 strides: t.s, pads: (t.p.0, t.p.1, t.p.2, t.p.3), dilations: t.d, ceilMode: t.ceil)
        let n = 6, planes = n * 3  // 6·3·64·64 values reach the two-core split
        var rng = TestRandom(17)
        let x = rng.floats(planes * t.h * t.w)
        let outCount = planes * g.outHeight * g.outWidth
        let dy = rng.floats(outCount)
        var y = [Float](repeating: .nan, count: outCount), arg = [Int32](repeating: -2, count: outCount)
        var dx = [Float](repeating: .nan, count: x.count)
        MaxPool2D.forward(g, batch: n, input: x, output: &y, argmax: &arg)
        MaxPool2D.backward(g, batch: n, gradient: dy, argmax: arg, inputGradient: &dx)
        var dxRef = [Double](repeating: 0, count: x.count)
        for pl in 0..<planes {
            for oy in 0..<g.outHeight {
                for ox in 0..<g.outWidth {
                    var best = -Float.infinity, at = -1
                    for ky in 0..<t.k.0 {
                        for kx in 0..<t.k.1 {
                            let iy = oy * t.s.0 + ky * t.d.0 - t.p.0, ix = ox * t.s.1 + kx * t.d.1 - t.p.1
                            guard iy >= 0, iy < t.h, ix >= 0, ix < t.w else { continue }
                            let v = x[(pl * t.h + iy) * t.w + ix]
                            if at < 0 || v > best { best = v; at = (pl * t.h + iy) * t.w + ix }
                        }
                    }
                    let o = (pl * g.outHeight + oy) * g.outWidth + ox
                    #expect(y[o] == best, "\(t) output \(o)")
                    if at >= 0 { dxRef[at] += Double(dy[o]) }
                }
            }
        }
        #expect(maxError(dx, dxRef) < 1e-6, "\(t)")
    }

    @Test func outputSizes() throws {
        let floor = try PoolGeometry(channels: 1, height: 7, width: 7, kernelHeight: 2, kernelWidth: 2, strides: (2, 2))
        #expect(floor.outHeight == 3)
        let ceil = try PoolGeometry(channels: 1, height: 7, width: 7, kernelHeight: 2, kernelWidth: 2, strides: (2, 2), ceilMode: true)
        #expect(ceil.outHeight == 4)
        #expect(throws: KernelShapeError.self) {
            try PoolGeometry(channels: 1, height: 4, width: 4, kernelHeight: 2, kernelWidth: 2, strides: (2, 2), pads: (2, 0, 0, 0))
        }
    }
}
