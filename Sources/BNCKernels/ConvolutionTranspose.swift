/// Transposed convolution in 1, 2 or 3 spatial dimensions (as ONNX `ConvTranspose`): the
/// adjoint of `Convolution`'s im2col + GEMM, so both share one im2col/col2im.
///
/// Shape legend: N batch, C input channels, I (= iD×iH×iW) input, M output channels, G
/// groups, k kernel, O (= oD×oH×oW) output. Weight (C, M/G, k…) row-major.
/// Per sample and group g:
///
///     col_g (M/G·k, I) = W_gᵀ (M/G·k, C/G) · x_g (C/G, I)
///     y_g += col2im(col_g)
///
/// where col2im is that of the convolution which maps an input of y's size (with y's
/// cropping as its padding) to x's size: `TransposedConvGeometry.adjoint`.
public struct TransposedConvGeometry: Equatable, Sendable {
    /// The convolution whose adjoint this is: input = the part of y that taps reach
    /// (M channels, `reached`), output = x's size (C channels).
    public let adjoint: ConvGeometry
    /// y's spatial size, as given (1 to 3 dims).
    public let output: [Int]
    /// y's spatial size as 3-D.
    public let outDepth: Int, outHeight: Int, outWidth: Int

    /// The transposed convolution of an input of spatial size `input` to `output`, whose
    /// full (uncropped) result, of size F = stride·(input − 1) + dilation·(kernel − 1) + 1,
    /// is cropped by `padsBegin` at the beginning; y positions past F − padsBegin (from
    /// output padding or a larger output_shape) receive no taps, only the bias. Throws when
    /// sizes do not match or the crop leaves no tapped position.
    public init(
        input: [Int], output: [Int], kernel: [Int], strides: [Int], dilations: [Int], padsBegin: [Int],
        inChannels: Int, outChannels: Int, groups: Int
    ) throws(KernelShapeError) {
        let r = input.count
        guard (1...3).contains(r), [output, kernel, strides, dilations, padsBegin].allSatisfy({ $0.count == r }) else {
            throw KernelShapeError("input \(input), output \(output), kernel \(kernel), strides \(strides), dilations \(dilations) and pads \(padsBegin) must each have 1 to 3 values, as many as the input")
        }
        let limit = Window.maximumExtent
        guard input.allSatisfy({ $0 >= 1 && $0 <= 1 << 31 }), output.allSatisfy({ $0 >= 1 && $0 <= 1 << 31 }),
              (kernel + strides + dilations).allSatisfy({ $0 >= 1 && $0 <= limit }),
              padsBegin.allSatisfy({ $0 >= 0 && $0 <= limit }) else {
            throw KernelShapeError("input \(input), output \(output), kernel \(kernel), strides \(strides), dilations \(dilations) must be positive and pads \(padsBegin) not negative (at most \(limit))")
        }
        var reached: [Int] = [], padsEnd: [Int] = []
        for i in 0..<r {
            let full = strides[i] * (input[i] - 1) + dilations[i] * (kernel[i] - 1) + 1
            let e = min(output[i], full - padsBegin[i])
            guard e >= 1 else {
                throw KernelShapeError("the begin pad \(padsBegin[i]) crops all \(full) computed values of dimension \(i)")
            }
            reached.append(e)
            padsEnd.append(full - padsBegin[i] - e)
        }
        let window = try Window(input: reached, kernel: kernel, strides: strides, dilations: dilations,
                                padsBegin: padsBegin, padsEnd: padsEnd)
        precondition(window.output == input, "TransposedConvGeometry: adjoint window \(window) does not map back to \(input)")
        adjoint = try ConvGeometry(window: window, inChannels: outChannels, outChannels: inChannels, groups: groups)
        self.output = output
        let o = Array(repeating: 1, count: 3 - r) + output
        (outDepth, outHeight, outWidth) = (o[0], o[1], o[2])
        guard boundedProduct([outChannels, outDepth, outHeight, outWidth], ConvGeometry.maximumCount) != nil else {
            throw KernelShapeError("output of \(outChannels) channels × \(output) is larger than 2^40 floats")
        }
    }

    /// C.
    public var inChannels: Int { adjoint.outChannels }
    /// M.
    public var outChannels: Int { adjoint.inChannels }
    public var groups: Int { adjoint.groups }
    /// Product of the input's spatial sizes.
    public var inSpatial: Int { adjoint.outSpatial }
    /// Product of the output's spatial sizes.
    public var outSpatial: Int { outDepth * outHeight * outWidth }
    /// Elements of the weight (C, M/G, k…).
    public var weightCount: Int { adjoint.weightCount }
    /// Whether taps reach all of y, so col2im writes y itself.
    public var direct: Bool {
        adjoint.depth == outDepth && adjoint.height == outHeight && adjoint.width == outWidth
    }

    /// One core's scratch: the columns (unless 1×1×1 without stride or padding) and, when
    /// taps do not reach all of y, the reached part of one sample's y.
    public var scratchPerSlice: Int {
        (adjoint.isPointwise ? 0 : adjoint.columnRows * adjoint.outSpatial)
            + (direct ? 0 : outChannels * adjoint.inSpatial)
    }
    /// Scratch of `ConvolutionTranspose.forward` run on both cores.
    public var scratchCount: Int { Parallel.ways * scratchPerSlice }
}

public enum ConvolutionTranspose {
    /// y (N, M, O…) = act(convTranspose(x (N, C, I…), weight (C, M/G, k…))·scale (M) + bias (M));
    /// scale nil means 1. `scratch` holds `g.scratchCount` floats (`g.scratchPerSlice` with
    /// `parallel: false`). Samples are split over the cores; a single sample splits its
    /// products instead; bias, scale and activation run per sample while it is in cache.
    public static func forward(
        _ g: TransposedConvGeometry, batch n: Int, input x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        scale: UnsafePointer<Float>? = nil, bias: UnsafePointer<Float>?, activation: Activation = .identity,
        output y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, parallel: Bool = true
    ) {
        let p = Pointers(x: x, w: weight, s: scale, b: bias, y: y, scratch: scratch, activation: activation)
        if !parallel {
            samples(g, 0..<n, p, scratch: scratch, split: false)
        } else if n == 1 {
            samples(g, 0..<1, p, scratch: scratch, split: true)
        } else {
            Parallel.forEachSlice { slice in
                samples(g, Parallel.range(slice, of: n), p, scratch: p.scratch + slice * g.scratchPerSlice, split: false)
            }
        }
    }

    private static func samples(
        _ g: TransposedConvGeometry, _ range: Range<Int>, _ p: Pointers, scratch: UnsafeMutablePointer<Float>, split: Bool
    ) {
        let a = g.adjoint
        let cg = g.inChannels / g.groups, mg = g.outChannels / g.groups
        let kg = a.columnRows, si = g.inSpatial, reached = a.inSpatial
        let col = scratch
        let region = a.isPointwise ? scratch : scratch + kg * si
        for i in range {
            let xs = p.x + i * g.inChannels * si
            let ys = p.y + i * g.outChannels * g.outSpatial
            let target = g.direct ? ys : region
            if !a.isPointwise { target.update(repeating: 0, count: g.outChannels * reached) }
            for grp in 0..<g.groups {
                let xg = xs + grp * cg * si
                let wg = p.w + grp * cg * kg
                // Pointwise: col2im is the identity, the product is y_g itself.
                let c = a.isPointwise ? target + grp * mg * reached : col
                if split {
                    GEMM.multiply(transA: true, m: kg, n: si, k: cg, a: wg, lda: kg, b: xg, ldb: si, c: c, ldc: si)
                } else {
                    GEMM.multiplySerial(transA: true, m: kg, n: si, k: cg, a: wg, lda: kg, b: xg, ldb: si, c: c, ldc: si)
                }
                if !a.isPointwise { Convolution.col2im(a, columns: col, group: grp, into: target) }
            }
            if !g.direct { place(g, region, into: ys) }
            if p.s != nil || p.b != nil || p.activation != .identity {
                Elementwise.addChannelBias(ys, batch: 1, channels: g.outChannels, spatial: g.outSpatial, scale: p.s,
                                           bias: p.b, activation: p.activation)
            }
        }
    }

    /// y (M, O…) ← the reached part (M, E…) at its beginning, zeros elsewhere.
    private static func place(_ g: TransposedConvGeometry, _ region: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        let a = g.adjoint
        let eD = a.depth, eH = a.height, eW = a.width
        let oD = g.outDepth, oH = g.outHeight, oW = g.outWidth
        var src = region, dst = y
        for _ in 0..<g.outChannels {
            for z in 0..<oD {
                for r in 0..<oH {
                    if z < eD && r < eH {
                        dst.update(from: src, count: eW)
                        (dst + eW).update(repeating: 0, count: oW - eW)
                        src += eW
                    } else {
                        dst.update(repeating: 0, count: oW)
                    }
                    dst += oW
                }
            }
        }
    }

    private struct Pointers: @unchecked Sendable {
        let x: UnsafePointer<Float>, w: UnsafePointer<Float>, s: UnsafePointer<Float>?, b: UnsafePointer<Float>?
        let y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
        let activation: Activation
    }
}
