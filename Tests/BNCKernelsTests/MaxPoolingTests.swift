import Testing
@testable import BNCKernels

/// MaxPooling in 1, 2 and 3 spatial dimensions against naive window loops with −∞ padding;
/// backward routes each output gradient to the selected input (exact comparison of the
/// maxima; the gradients are sums of dy, compared to 1e-6).
struct MaxPoolingTests {
    struct Case: Sendable, CustomStringConvertible {
        var input: [Int], k: [Int], s: [Int], p: [Int], d: [Int]? = nil, ceil = false
        var description: String { "\(input) k\(k) s\(s) p\(p) d\(d ?? []) ceil \(ceil)" }
        var dil: [Int] { d ?? Array(repeating: 1, count: input.count) }
    }
    static let cases: [Case] = [
        Case(input: [8, 6], k: [2, 2], s: [2, 2], p: [0, 0, 0, 0]),
        Case(input: [7, 7], k: [2, 2], s: [2, 2], p: [0, 0, 0, 0]),
        Case(input: [7, 7], k: [2, 2], s: [2, 2], p: [0, 0, 0, 0], ceil: true),
        Case(input: [6, 5], k: [3, 3], s: [2, 1], p: [1, 1, 1, 0]),
        Case(input: [9, 9], k: [2, 3], s: [1, 2], p: [1, 0, 0, 2], d: [2, 2]),
        Case(input: [64, 64], k: [2, 2], s: [2, 2], p: [0, 0, 0, 0]),  // split over cores
        Case(input: [64, 62], k: [3, 3], s: [2, 2], p: [1, 1, 1, 1]),
        Case(input: [10], k: [3], s: [2], p: [1, 1]),
        Case(input: [11], k: [2], s: [3], p: [0, 1], d: [2], ceil: true),
        Case(input: [4, 5, 6], k: [2, 2, 2], s: [2, 2, 2], p: [0, 0, 0, 0, 0, 0]),
        Case(input: [5, 6, 7], k: [3, 2, 3], s: [2, 1, 2], p: [1, 0, 1, 1, 1, 0], d: [1, 2, 1], ceil: true),
        Case(input: [16, 16, 16], k: [3, 3, 3], s: [1, 1, 1], p: [1, 1, 1, 1, 1, 1]),  // split over cores
    ]

    @Test(arguments: cases)
    func forwardBackwardMatchNaive(_ t: Case) throws {
        let w = try Window.resolve(autoPad: .notSet, input: t.input, kernel: t.k, strides: t.s, dilations: t.d, pads: t.p,
                                   ceilMode: t.ceil)
        let g = try PoolGeometry(window: w, channels: 3)
        let n = 6, planes = n * 3  // 6·3·64·64 values reach the two-core split
        let r = t.input.count, inPlane = g.inSpatial
        var rng = TestRandom(17)
        let x = rng.floats(planes * inPlane)
        let outCount = planes * g.outSpatial
        let dy = rng.floats(outCount)
        var y = [Float](repeating: .nan, count: outCount), arg = [Int32](repeating: -2, count: outCount)
        var dx = [Float](repeating: .nan, count: x.count)
        MaxPooling.forward(g, batch: n, input: x, output: &y, argmax: &arg)
        MaxPooling.backward(g, batch: n, gradient: dy, argmax: arg, inputGradient: &dx)
        var dxRef = [Double](repeating: 0, count: x.count)
        var wrong = 0
        for pl in 0..<planes {
            forEachIndex(w.output) { o in
                var best = -Float.infinity, at = -1
                forEachIndex(t.k) { k in
                    let i = (0..<r).map { o[$0] * t.s[$0] + k[$0] * t.dil[$0] - t.p[$0] }
                    guard zip(i, t.input).allSatisfy({ $0 >= 0 && $0 < $1 }) else { return }
                    let v = x[pl * inPlane + offset(i, in: t.input)]
                    if at < 0 || v > best { best = v; at = pl * inPlane + offset(i, in: t.input) }
                }
                let oi = pl * g.outSpatial + offset(o, in: w.output)
                if y[oi] != best { wrong += 1 }
                if at >= 0 { dxRef[at] += Double(dy[oi]) }
            }
        }
        #expect(wrong == 0, "\(t): \(wrong) maxima differ")
        #expect(maxError(dx, dxRef) < 1e-6, "\(t)")
    }

    @Test func outputSizes() throws {
        let floor = try PoolGeometry(window: Window(input: [7, 7], kernel: [2, 2], strides: [2, 2]), channels: 1)
        #expect(floor.outHeight == 3)
        let ceil = try PoolGeometry(window: Window(input: [7, 7], kernel: [2, 2], strides: [2, 2], ceilMode: true), channels: 1)
        #expect(ceil.outHeight == 4)
        #expect(throws: KernelShapeError.self) {
            try PoolGeometry(window: Window(input: [4, 4], kernel: [2, 2], strides: [2, 2], padsBegin: [2, 0], padsEnd: [0, 0]),
                             channels: 1)
        }
        #expect(throws: KernelShapeError.self) {
            try PoolGeometry(window: Window(input: [4, 4, 4], kernel: [2, 2, 2], padsBegin: [0, 0, 0], padsEnd: [0, 0, 2]),
                             channels: 1)
        }
    }

    /// `taps` is the set of kernel offsets whose input index lies inside, for every stride,
    /// dilation and pad of a small range (checked against the definition).
    @Test func tapRangesMatchTheDefinition() {
        for size in 1...6 {
            for kernel in 1...4 {
                for stride in 1...3 {
                    for dilation in 1...3 {
                        for pad in 0...4 {
                            for o in 0..<8 {
                                let want = (0..<kernel).filter {
                                    let i = o * stride + $0 * dilation - pad
                                    return i >= 0 && i < size
                                }
                                let got = PoolGeometry.taps(o, stride: stride, dilation: dilation, padBegin: pad, kernel: kernel, size: size)
                                // Contiguous in k: the in-range taps are exactly the range.
                                #expect(Array(got) == want, "size \(size) k \(kernel) s \(stride) d \(dilation) p \(pad) o \(o)")
                            }
                        }
                    }
                }
            }
        }
    }
}
