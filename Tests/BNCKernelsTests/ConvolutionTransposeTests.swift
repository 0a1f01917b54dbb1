import Testing
@testable import BNCKernels

/// ConvolutionTranspose in 1, 2 and 3 spatial dimensions against its definition written as
/// a scatter in Double: every input value x[c, i] times every tap W[c, m, k] lands on the
/// output position i·stride + k·dilation − padBegin when that lies inside the output.
/// Positions no tap reaches (output padding, a larger output_shape) hold the bias.
///
/// Tolerance 1e-5 mixed error, as for `Convolution` (Float dot products of ≤ 54 terms).
struct ConvolutionTransposeTests {
    struct Case: Sendable, CustomStringConvertible {
        var n = 2, c = 3, m = 4, groups = 1
        var input = [3, 4], kernel = [3, 3]
        var strides: [Int]? = nil, dilations: [Int]? = nil, padsBegin: [Int]? = nil
        /// Output size; nil: the full size stride·(I − 1) + dilation·(k − 1) + 1 − padBegin.
        var output: [Int]? = nil
        var bias = true
        var description: String {
            "n\(n) c\(c)→m\(m) g\(groups) \(input) k\(kernel) s\(strides ?? []) d\(dilations ?? []) p\(padsBegin ?? []) → \(output ?? [])"
        }
        var r: Int { input.count }
        var s: [Int] { strides ?? Array(repeating: 1, count: r) }
        var d: [Int] { dilations ?? Array(repeating: 1, count: r) }
        var p: [Int] { padsBegin ?? Array(repeating: 0, count: r) }
        var o: [Int] { output ?? (0..<r).map { s[$0] * (input[$0] - 1) + d[$0] * (kernel[$0] - 1) + 1 - p[$0] } }
    }

    static let cases: [Case] = [
        Case(),
        Case(strides: [3, 2], padsBegin: [1, 2], output: [7, 3]),  // cropped at both ends (ONNX's convtranspose_pads)
        Case(strides: [2, 2], output: [8, 10]),  // output padding: the last row/column only bias
        Case(dilations: [2, 2]),
        Case(c: 4, m: 6, groups: 2, strides: [2, 1], padsBegin: [1, 0]),
        Case(c: 4, m: 4, groups: 4, kernel: [2, 2], strides: [2, 2]),  // depthwise
        Case(n: 3, c: 5, m: 2, kernel: [1, 1]),  // pointwise: col2im is the identity
        Case(n: 2, c: 3, m: 2, kernel: [1, 1], output: [4, 6]),  // pointwise with a larger output
        Case(n: 1, c: 16, m: 8, input: [12, 12], kernel: [4, 4], strides: [2, 2], padsBegin: [1, 1]),  // batch 1, split product
        Case(n: 2, c: 2, m: 3, input: [5], kernel: [3], strides: [2], padsBegin: [1], output: [10]),  // 1-D
        Case(n: 2, c: 2, m: 4, groups: 2, input: [2, 3, 3], kernel: [2, 3, 2], strides: [2, 1, 2], dilations: [1, 2, 1],
             padsBegin: [0, 1, 1]),  // 3-D
        Case(n: 1, c: 2, m: 2, input: [3, 2, 2], kernel: [3, 3, 3], strides: [2, 2, 2], output: [8, 6, 6]),  // 3-D, output padding
    ]

    func geometry(_ t: Case) throws -> TransposedConvGeometry {
        try TransposedConvGeometry(input: t.input, output: t.o, kernel: t.kernel, strides: t.s, dilations: t.d, padsBegin: t.p,
                                   inChannels: t.c, outChannels: t.m, groups: t.groups)
    }

    @Test(arguments: cases)
    func forwardMatchesTheScatterDefinition(_ t: Case) throws {
        let g = try geometry(t)
        let cg = t.c / t.groups, mg = t.m / t.groups, kCount = t.kernel.reduce(1, *)
        let inS = t.input.reduce(1, *), outS = t.o.reduce(1, *)
        var rng = TestRandom(UInt64(t.c * 13 + t.m + t.r))
        let x = rng.floats(t.n * t.c * inS), wt = rng.floats(t.c * mg * kCount), b = rng.floats(t.m)
        #expect(g.weightCount == wt.count)
        var ref = [Double](repeating: 0, count: t.n * t.m * outS)
        for i in 0..<t.n {
            for c in 0..<t.c {
                let grp = c / cg
                for ml in 0..<mg {
                    let m = grp * mg + ml
                    forEachIndex(t.input) { at in
                        forEachIndex(t.kernel) { k in
                            let o = (0..<t.r).map { at[$0] * t.s[$0] + k[$0] * t.d[$0] - t.p[$0] }
                            guard zip(o, t.o).allSatisfy({ $0 >= 0 && $0 < $1 }) else { return }
                            ref[(i * t.m + m) * outS + offset(o, in: t.o)] +=
                                Double(x[(i * t.c + c) * inS + offset(at, in: t.input)]) * Double(wt[(c * mg + ml) * kCount + offset(k, in: t.kernel)])
                        }
                    }
                }
            }
            if t.bias { for m in 0..<t.m { for s in 0..<outS { ref[(i * t.m + m) * outS + s] += Double(b[m]) } } }
        }
        for parallel in [true, false] {
            var y = [Float](repeating: .nan, count: ref.count)
            var scratch = [Float](repeating: .nan, count: max(1, g.scratchCount))
            b.withUnsafeBufferPointer { bp in
                ConvolutionTranspose.forward(g, batch: t.n, input: x, weight: wt, bias: t.bias ? bp.baseAddress : nil,
                                             output: &y, scratch: &scratch, parallel: parallel)
            }
            #expect(maxError(y, ref) < 1e-5, "\(t) parallel \(parallel)")
        }
    }

    /// The fused scale, bias and activation equal a separate pass.
    @Test func fusedEpilogueMatchesASeparatePass() throws {
        let t = Self.cases[4]
        let g = try geometry(t)
        var rng = TestRandom(9)
        let x = rng.floats(t.n * t.c * g.inSpatial), wt = rng.floats(g.weightCount), b = rng.floats(t.m), s = rng.floats(t.m)
        var scratch = [Float](repeating: .nan, count: g.scratchCount)
        var plain = [Float](repeating: .nan, count: t.n * t.m * g.outSpatial), fused = plain
        ConvolutionTranspose.forward(g, batch: t.n, input: x, weight: wt, bias: nil, output: &plain, scratch: &scratch)
        ConvolutionTranspose.forward(g, batch: t.n, input: x, weight: wt, scale: s, bias: b, activation: .relu, output: &fused,
                                     scratch: &scratch)
        let expected = plain.indices.map { i in Activation.relu.apply(plain[i] * s[(i / g.outSpatial) % t.m] + b[(i / g.outSpatial) % t.m]) }
        #expect(fused == expected)
    }

    @Test func geometryErrors() {
        // Begin pads that crop every computed value.
        #expect(throws: KernelShapeError.self) {
            try TransposedConvGeometry(input: [2], output: [1], kernel: [2], strides: [1], dilations: [1], padsBegin: [3],
                                       inChannels: 1, outChannels: 1, groups: 1)
        }
        #expect(throws: KernelShapeError.self) {
            try TransposedConvGeometry(input: [2, 2], output: [3, 3], kernel: [2, 2], strides: [1, 1], dilations: [1, 1],
                                       padsBegin: [0, 0], inChannels: 3, outChannels: 2, groups: 2)
        }
        #expect(throws: KernelShapeError.self) {
            try TransposedConvGeometry(input: [2, 2], output: [3], kernel: [2, 2], strides: [1, 1], dilations: [1, 1],
                                       padsBegin: [0, 0], inChannels: 1, outChannels: 1, groups: 1)
        }
    }
}
