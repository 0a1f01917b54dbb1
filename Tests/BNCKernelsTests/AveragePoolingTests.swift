import Testing
@testable import BNCKernels

/// AveragePooling in 1, 2 and 3 spatial dimensions against the definition in Double: the
/// mean of the window's taps on the input (count_include_pad 0), or their sum divided by
/// the number of taps on the padded input (count_include_pad 1), written tap by tap.
///
/// Tolerance 1e-6 mixed error: a Float sum of at most 27 values of size ≤ 1 and one
/// division, ≤ 28 roundings of 2⁻²⁴ ≈ 6e-8 each.
struct AveragePoolingTests {
    struct Case: Sendable, CustomStringConvertible {
        var input: [Int], k: [Int], s: [Int], p: [Int], d: [Int]? = nil, ceil = false
        var description: String { "\(input) k\(k) s\(s) p\(p) d\(d ?? []) ceil \(ceil)" }
        var dil: [Int] { d ?? Array(repeating: 1, count: input.count) }
    }
    static let cases: [Case] = [
        Case(input: [8, 6], k: [2, 2], s: [2, 2], p: [0, 0, 0, 0]),
        Case(input: [6, 5], k: [3, 3], s: [2, 1], p: [1, 1, 1, 0]),
        Case(input: [9, 9], k: [2, 3], s: [1, 2], p: [1, 0, 0, 2], d: [2, 2]),
        // Ceil mode: the last window hangs past the end padding; and one that would start
        // inside the end padding is dropped (onnxruntime's rule).
        Case(input: [7, 7], k: [3, 3], s: [2, 2], p: [1, 1, 1, 1], ceil: true),
        Case(input: [6, 6], k: [3, 3], s: [2, 2], p: [1, 1, 1, 1], ceil: true),
        Case(input: [5, 5], k: [2, 2], s: [3, 3], p: [0, 0, 1, 1], ceil: true),
        Case(input: [64, 62], k: [3, 3], s: [2, 2], p: [1, 1, 1, 1]),  // split over cores
        Case(input: [10], k: [3], s: [2], p: [1, 1]),
        Case(input: [11], k: [2], s: [3], p: [0, 1], d: [2], ceil: true),
        Case(input: [4, 5, 6], k: [2, 2, 2], s: [2, 2, 2], p: [0, 0, 0, 0, 0, 0]),
        Case(input: [5, 6, 7], k: [3, 2, 3], s: [2, 1, 2], p: [1, 0, 1, 1, 1, 0], d: [1, 2, 1], ceil: true),
        Case(input: [16, 16, 16], k: [3, 3, 3], s: [1, 1, 1], p: [1, 1, 1, 1, 1, 1]),  // split over cores
    ]

    @Test(arguments: cases, [false, true])
    func forwardMatchesTheDefinition(_ t: Case, _ includePad: Bool) throws {
        let w = try Window.resolve(autoPad: .notSet, input: t.input, kernel: t.k, strides: t.s, dilations: t.d, pads: t.p,
                                   ceilMode: t.ceil)
        let g = try PoolGeometry(window: w, channels: 3)
        let n = 2, planes = n * 3, r = t.input.count
        var rng = TestRandom(23)
        let x = rng.floats(planes * g.inSpatial)
        var y = [Float](repeating: .nan, count: planes * g.outSpatial)
        AveragePooling.forward(g, batch: n, countIncludePad: includePad, input: x, output: &y)
        var ref: [Double] = []
        for pl in 0..<planes {
            forEachIndex(w.output) { o in
                var sum = 0.0, count = 0
                forEachIndex(t.k) { k in
                    let i = (0..<r).map { o[$0] * t.s[$0] + k[$0] * t.dil[$0] - t.p[$0] }
                    let inside = zip(i, t.input).allSatisfy { $0 >= 0 && $0 < $1 }
                    let padded = (0..<r).allSatisfy { i[$0] >= -t.p[$0] && i[$0] < t.input[$0] + t.p[r + $0] }
                    if inside { sum += Double(x[pl * g.inSpatial + offset(i, in: t.input)]) }
                    if includePad ? padded : inside { count += 1 }
                }
                ref.append(sum / Double(count))
            }
        }
        #expect(maxError(y, ref) < 1e-6, "\(t) include pad \(includePad)")
    }

    /// count_include_pad in ceil mode: the last window runs past the end padding and is
    /// divided by its taps on the padded input only (onnxruntime's rule), and a window
    /// that would start inside the end padding is not produced.
    @Test func ceilModeLastWindowCountsUpToTheEndPadding() throws {
        // Input 6, kernel 3, stride 2, pads 1 + 1: windows start at −1, 1, 3, 5; the last
        // covers 5 (the value 6), 6 (end pad) and 7 (past the padded input).
        let v = try Window(input: [6], kernel: [3], strides: [2], padsBegin: [1], padsEnd: [1], ceilMode: true)
        #expect(v.output == [4])
        var y = [Float](repeating: .nan, count: 4)
        AveragePooling.forward(try PoolGeometry(window: v, channels: 1), batch: 1, countIncludePad: true,
                               input: [1, 2, 3, 4, 5, 6], output: &y)
        // (0 + 1 + 2)/3, (2 + 3 + 4)/3, (4 + 5 + 6)/3, and the last (6 + 0)/2, not /3.
        let expected: [Float] = [1, 3, 5, 3]
        #expect(y == expected)
        // Input 4, kernel 3, stride 2, pads 0 + 2: ⌈(6 − 3)/2⌉ + 1 = 3 windows, but the third
        // would start at 4, on the end padding: dropped.
        let w = try Window(input: [4], kernel: [3], strides: [2], padsBegin: [0], padsEnd: [2], ceilMode: true)
        #expect(w.output == [2])
    }
}
