/// 2-D convolution in NCHW layout (as ONNX `Conv`), forward and backward, via im2col + GEMM.
///
/// Shape legend: N batch, C input channels, H×W input, M output channels, G groups,
/// kh×kw kernel, oH×oW output, S = oH·oW. Weight (M, C/G, kh, kw) row-major.
/// Per sample and group g: Y_g (M/G, S) = W_g (M/G, C/G·kh·kw) · col_g (C/G·kh·kw, S).

/// Sizes and hyper-parameters of one convolution; validated once, then trusted by kernels.
public struct ConvGeometry: Equatable, Sendable {
    public var inChannels: Int, height: Int, width: Int
    public var outChannels: Int
    public var kernelHeight: Int, kernelWidth: Int
    public var strideH: Int, strideW: Int
    /// Zero padding, ONNX order [top, left, bottom, right].
    public var padTop: Int, padLeft: Int, padBottom: Int, padRight: Int
    public var dilationH: Int, dilationW: Int
    public var groups: Int
    /// Output size.
    public let outHeight: Int, outWidth: Int

    /// Throws `KernelShapeError` when the sizes are inconsistent (channels not divisible by
    /// groups, kernel larger than the padded input, non-positive strides...).
    public init(
        inChannels: Int, height: Int, width: Int, outChannels: Int, kernelHeight: Int, kernelWidth: Int,
        strides: (Int, Int) = (1, 1), pads: (top: Int, left: Int, bottom: Int, right: Int) = (0, 0, 0, 0),
        dilations: (Int, Int) = (1, 1), groups: Int = 1
    ) throws(KernelShapeError) {
        self.inChannels = inChannels
        self.height = height
        self.width = width
        self.outChannels = outChannels
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        (strideH, strideW) = strides
        (padTop, padLeft, padBottom, padRight) = pads
        (dilationH, dilationW) = dilations
        self.groups = groups
        guard inChannels > 0, height > 0, width > 0, outChannels > 0 else {
            throw KernelShapeError("channels and sizes must be positive (C \(inChannels), H \(height), W \(width), M \(outChannels))")
        }
        guard kernelHeight > 0, kernelWidth > 0 else { throw KernelShapeError("kernel \(kernelHeight)×\(kernelWidth) must be positive") }
        guard strideH > 0, strideW > 0 else { throw KernelShapeError("strides \(strideH), \(strideW) must be positive") }
        guard dilationH > 0, dilationW > 0 else { throw KernelShapeError("dilations \(dilationH), \(dilationW) must be positive") }
        guard padTop >= 0, padLeft >= 0, padBottom >= 0, padRight >= 0 else {
            throw KernelShapeError("pads [\(padTop), \(padLeft), \(padBottom), \(padRight)] must not be negative")
        }
        guard groups > 0, inChannels % groups == 0, outChannels % groups == 0 else {
            throw KernelShapeError("group \(groups) must divide input channels \(inChannels) and output channels \(outChannels)")
        }
        let spanH = dilationH * (kernelHeight - 1) + 1, spanW = dilationW * (kernelWidth - 1) + 1
        let paddedH = height + padTop + padBottom, paddedW = width + padLeft + padRight
        guard spanH <= paddedH, spanW <= paddedW else {
            throw KernelShapeError("kernel span \(spanH)×\(spanW) exceeds the padded input \(paddedH)×\(paddedW)")
        }
        outHeight = (paddedH - spanH) / strideH + 1
        outWidth = (paddedW - spanW) / strideW + 1
    }

    /// C/G·kh·kw: rows of one group's column matrix.
    public var columnRows: Int { inChannels / groups * kernelHeight * kernelWidth }
    /// oH·oW.
    public var outSpatial: Int { outHeight * outWidth }
    /// H·W.
    public var inSpatial: Int { height * width }
    /// Elements of the weight (M, C/G, kh, kw).
    public var weightCount: Int { outChannels * columnRows }
    /// Whether im2col is the identity (1×1 kernel, stride 1, no padding): the input is used directly.
    public var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && strideH == 1 && strideW == 1
            && padTop == 0 && padLeft == 0 && padBottom == 0 && padRight == 0
    }

    /// Floats of scratch `Conv2D.forward` needs.
    public var forwardScratchCount: Int { forwardScratchCount(pooled: false) }
    /// Floats of scratch `Conv2D.forward` needs, with a fused pooling or without.
    public func forwardScratchCount(pooled: Bool) -> Int { Parallel.ways * forwardScratchPerSlice(pooled: pooled) }
    /// One core's part of the forward scratch: the im2col columns, and with pooling the
    /// product before it is pooled (M, oH·oW).
    public func forwardScratchPerSlice(pooled: Bool) -> Int {
        columnRows * outSpatial + (pooled ? outChannels * outSpatial : 0)
    }
    /// Floats of scratch `Conv2D.backward` needs (column buffers and per-slice weight gradients).
    public var backwardScratchCount: Int { Parallel.ways * (2 * columnRows * outSpatial + weightCount + outChannels) }
}

/// A shape that a kernel cannot run, described in words.
public struct KernelShapeError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

public enum Conv2D {
    /// col (C/G·kh·kw, oH·oW) ← the input channels [group·C/G, (group+1)·C/G) of one
    /// sample x (C, H, W); zero where the window hangs over the padding.
    public static func im2col(
        _ g: ConvGeometry, sample x: UnsafePointer<Float>, group: Int, into col: UnsafeMutablePointer<Float>
    ) {
        let cg = g.inChannels / g.groups
        let oH = g.outHeight, oW = g.outWidth, H = g.height, W = g.width
        // Stride 1 with oW == W (e.g. "same" padding): each row of col is the plane shifted by
        // a constant offset, so one block copy plus zeroing the edges replaces oH small copies.
        let shifted = g.strideH == 1 && g.strideW == 1 && oW == W
        var row = 0
        for ci in 0..<cg {
            let plane = x + (group * cg + ci) * H * W
            for ky in 0..<g.kernelHeight {
                for kx in 0..<g.kernelWidth {
                    let dst = col + row * oH * oW
                    let offY = ky * g.dilationH - g.padTop
                    let offX = kx * g.dilationW - g.padLeft
                    if shifted {
                        im2colShifted(plane, height: H, width: W, outHeight: oH, offY: offY, offX: offX, into: dst)
                        row += 1
                        continue
                    }
                    for oy in 0..<oH {
                        let iy = oy * g.strideH + offY
                        let out = dst + oy * oW
                        if iy < 0 || iy >= H {
                            out.update(repeating: 0, count: oW)
                            continue
                        }
                        let src = plane + iy * W
                        if g.strideW == 1 {
                            // Contiguous run: zeros, copy, zeros.
                            let lo = min(oW, max(0, -offX))
                            let hi = max(lo, min(oW, W - offX))
                            if lo > 0 { out.update(repeating: 0, count: lo) }
                            if hi > lo { out.advanced(by: lo).update(from: src + (lo + offX), count: hi - lo) }
                            if hi < oW { out.advanced(by: hi).update(repeating: 0, count: oW - hi) }
                        } else {
                            for ox in 0..<oW {
                                let ix = ox * g.strideW + offX
                                out[ox] = ix >= 0 && ix < W ? src[ix] : 0
                            }
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// One row of col for stride 1 and output width == input width W:
    /// out[oy·W + ox] = plane[(oy + offY)·W + ox + offX] where that pixel exists, else 0.
    /// Inside the valid rows out[k] = plane[k + offY·W + offX] for every k, so the valid
    /// span is one contiguous copy; the columns that wrapped into a neighbouring row are then
    /// zeroed.
    @inline(__always)
    static func im2colShifted(
        _ plane: UnsafePointer<Float>, height H: Int, width W: Int, outHeight oH: Int, offY: Int, offX: Int,
        into out: UnsafeMutablePointer<Float>
    ) {
        let yLo = min(oH, max(0, -offY)), yHi = max(yLo, min(oH, H - offY))
        let lo = min(W, max(0, -offX)), hi = max(lo, min(W, W - offX))
        guard yHi > yLo, hi > lo else {
            out.update(repeating: 0, count: oH * W)
            return
        }
        if yLo > 0 { out.update(repeating: 0, count: yLo * W) }
        // Out indices [yLo·W + lo, (yHi − 1)·W + hi): every source index lies in the plane.
        let first = yLo * W + lo, end = (yHi - 1) * W + hi
        out.advanced(by: first).update(from: plane + (first + offY * W + offX), count: end - first)
        if lo > 0 || hi < W {
            for oy in yLo..<yHi {
                let r = out + oy * W
                for ox in 0..<lo { r[ox] = 0 }
                for ox in hi..<W { r[ox] = 0 }
            }
        }
        if yHi < oH { out.advanced(by: yHi * W).update(repeating: 0, count: (oH - yHi) * W) }
    }

    /// dx (C, H, W) of one sample, channels of `group`, += scatter of dcol (C/G·kh·kw, oH·oW):
    /// the adjoint of `im2col`. Accumulates; callers zero dx first. dcol is scratch: entries
    /// whose tap falls on the padding may be overwritten with 0.
    public static func col2im(
        _ g: ConvGeometry, columns dcol: UnsafeMutablePointer<Float>, group: Int, into dx: UnsafeMutablePointer<Float>
    ) {
        let cg = g.inChannels / g.groups
        let oH = g.outHeight, oW = g.outWidth, H = g.height, W = g.width
        let shifted = g.strideH == 1 && g.strideW == 1 && oW == W
        var row = 0
        for ci in 0..<cg {
            let plane = dx + (group * cg + ci) * H * W
            for ky in 0..<g.kernelHeight {
                for kx in 0..<g.kernelWidth {
                    let src = dcol + row * oH * oW
                    let offY = ky * g.dilationH - g.padTop
                    let offX = kx * g.dilationW - g.padLeft
                    if shifted {
                        // Adjoint of `im2colShifted`: zero the taps on the padding columns, then
                        // one contiguous accumulate (adding those zeros changes nothing).
                        let yLo = min(oH, max(0, -offY)), yHi = max(yLo, min(oH, H - offY))
                        let lo = min(W, max(0, -offX)), hi = max(lo, min(W, W - offX))
                        if yHi > yLo, hi > lo {
                            if lo > 0 || hi < W {
                                for oy in yLo..<yHi {
                                    let r = src + oy * W
                                    for ox in 0..<lo { r[ox] = 0 }
                                    for ox in hi..<W { r[ox] = 0 }
                                }
                            }
                            let first = yLo * W + lo, end = (yHi - 1) * W + hi
                            let d = plane + (first + offY * W + offX), s = src + first
                            for k in 0..<(end - first) { d[k] += s[k] }
                        }
                        row += 1
                        continue
                    }
                    for oy in 0..<oH {
                        let iy = oy * g.strideH + offY
                        if iy < 0 || iy >= H { continue }
                        let dst = plane + iy * W
                        let inp = src + oy * oW
                        if g.strideW == 1 {
                            let lo = min(oW, max(0, -offX))
                            let hi = max(lo, min(oW, W - offX))
                            for ox in lo..<hi { dst[ox + offX] += inp[ox] }
                        } else {
                            for ox in 0..<oW {
                                let ix = ox * g.strideW + offX
                                if ix >= 0 && ix < W { dst[ix] += inp[ox] }
                            }
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// y (N, M, oH, oW) = act(conv(x (N, C, H, W), weight (M, C/G, kh, kw))·scale (M) + bias (M));
    /// scale nil means 1 (an unfolded BN after the convolution is its scale and bias).
    /// `scratch` holds at least `g.forwardScratchCount` floats. Samples are split over the
    /// two cores; a single sample splits its products instead. Bias and activation are
    /// applied per sample right after its product, while its output is still in cache.
    /// `parallel: false` keeps everything on the calling thread (for callers that already
    /// run inside a `Parallel` slice); `scratch` then needs only
    /// `g.forwardScratchPerSlice(pooled:)` floats.
    ///
    /// With `pool` (a plain 2×2 window, stride 2: `PoolGeometry.isPlain2x2`, over this
    /// output), y receives the pooled output (N, M, oH/2, oW/2) instead: each sample's
    /// product goes to scratch and is pooled there while in cache, then bias and activation
    /// run on the pooled values, a quarter as many. That equals pooling act(conv + bias)
    /// exactly when the activation is non-decreasing and exact under rounding (identity,
    /// ReLU): max commutes with adding a per-channel constant, and rounding is monotone.
    public static func forward(
        _ g: ConvGeometry, batch n: Int, input x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        scale: UnsafePointer<Float>? = nil, bias: UnsafePointer<Float>?, activation: Activation = .identity,
        pool: PoolGeometry? = nil, output y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
        parallel: Bool = true
    ) {
        if let pool {
            precondition(pool.isPlain2x2 && pool.channels == g.outChannels && pool.height == g.outHeight
                         && pool.width == g.outWidth && activation.commutesWithMax,
                         "Conv2D.forward: pooling \(pool) cannot be fused into \(g) with \(activation)")
        }
        let p = Pointers(x: x, w: weight, s: scale, b: bias, y: y, scratch: scratch, activation: activation, pool: pool)
        if !parallel {
            forwardSamples(g, 0..<n, p, scratch: scratch, split: false)
        } else if n == 1 {
            forwardSamples(g, 0..<1, p, scratch: scratch, split: true)
        } else {
            let perSlice = g.forwardScratchPerSlice(pooled: pool != nil)
            Parallel.forEachSlice { slice in
                let samples = Parallel.range(slice, of: n)
                forwardSamples(g, samples, p, scratch: p.scratch + slice * perSlice, split: false)
            }
        }
    }

    private static func forwardSamples(
        _ g: ConvGeometry, _ samples: Range<Int>, _ p: Pointers, scratch col: UnsafeMutablePointer<Float>, split: Bool
    ) {
        let mg = g.outChannels / g.groups, kg = g.columnRows, s = g.outSpatial
        let pooledSpatial = p.pool.map { $0.outHeight * $0.outWidth } ?? s
        for i in samples {
            let xs = p.x + i * g.inChannels * g.inSpatial
            let ys = p.y + i * g.outChannels * pooledSpatial
            // The product (M, S): the output itself, or scratch when it is pooled next.
            let product = p.pool == nil ? ys : col + kg * s
            for grp in 0..<g.groups {
                let colG: UnsafePointer<Float>
                if g.isPointwise {
                    colG = xs + grp * (g.inChannels / g.groups) * g.inSpatial
                } else {
                    im2col(g, sample: xs, group: grp, into: col)
                    colG = UnsafePointer(col)
                }
                let wG = p.w + grp * mg * kg
                let yG = product + grp * mg * s
                if split {
                    GEMM.multiply(m: mg, n: s, k: kg, a: wG, lda: kg, b: colG, ldb: s, c: yG, ldc: s)
                } else {
                    GEMM.multiplySerial(m: mg, n: s, k: kg, a: wG, lda: kg, b: colG, ldb: s, c: yG, ldc: s)
                }
            }
            if let pool = p.pool {
                for m in 0..<g.outChannels {
                    MaxPool2D.pool2x2(product + m * s, width: g.outWidth, outHeight: pool.outHeight, outWidth: pool.outWidth,
                                      into: ys + m * pooledSpatial)
                }
            }
            if p.s != nil || p.b != nil || p.activation != .identity {
                Elementwise.addChannelBias(ys, batch: 1, channels: g.outChannels, spatial: pooledSpatial, scale: p.s,
                                           bias: p.b, activation: p.activation)
            }
        }
    }

    /// Gradients of `forward` given dy (N, M, oH, oW):
    /// - dx (N, C, H, W), overwritten; skipped when nil (first layer).
    /// - dweight (M, C/G, kh, kw), overwritten.
    /// - dbias (M) = Σ_{n,s} dy, overwritten; skipped when nil.
    /// `scratch` holds at least `g.backwardScratchCount` floats. Per-slice weight gradients
    /// are summed in slice order, so results are deterministic.
    public static func backward(
        _ g: ConvGeometry, batch n: Int, input x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        gradient dy: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>?,
        weightGradient dweight: UnsafeMutablePointer<Float>, biasGradient dbias: UnsafeMutablePointer<Float>?,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let perSlice = 2 * g.columnRows * g.outSpatial + g.weightCount + g.outChannels
        let p = BackwardPointers(x: x, w: weight, dy: dy, dx: dx, scratch: scratch)
        Parallel.forEachSlice { slice in
            let samples = Parallel.range(slice, of: n)
            let base = p.scratch + slice * perSlice
            let col = base
            let dcol = base + g.columnRows * g.outSpatial
            let dw = dcol + g.columnRows * g.outSpatial
            let db = dw + g.weightCount
            dw.update(repeating: 0, count: g.weightCount)
            db.update(repeating: 0, count: g.outChannels)
            backwardSamples(g, samples, p, col: col, dcol: dcol, dw: dw, db: db)
        }
        // Sum the slices in order.
        let slice0 = scratch + g.columnRows * g.outSpatial * 2
        dweight.update(from: slice0, count: g.weightCount)
        if let dbias { dbias.update(from: slice0 + g.weightCount, count: g.outChannels) }
        for slice in 1..<Parallel.ways {
            let dw = scratch + slice * perSlice + 2 * g.columnRows * g.outSpatial
            for i in 0..<g.weightCount { dweight[i] += dw[i] }
            if let dbias {
                let db = dw + g.weightCount
                for i in 0..<g.outChannels { dbias[i] += db[i] }
            }
        }
    }

    private static func backwardSamples(
        _ g: ConvGeometry, _ samples: Range<Int>, _ p: BackwardPointers, col: UnsafeMutablePointer<Float>,
        dcol: UnsafeMutablePointer<Float>, dw: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>
    ) {
        let mg = g.outChannels / g.groups, kg = g.columnRows, s = g.outSpatial
        let cg = g.inChannels / g.groups
        for i in samples {
            let xs = p.x + i * g.inChannels * g.inSpatial
            let dys = p.dy + i * g.outChannels * s
            let dxs = p.dx.map { $0 + i * g.inChannels * g.inSpatial }
            if let dxs, !g.isPointwise { dxs.update(repeating: 0, count: g.inChannels * g.inSpatial) }
            for grp in 0..<g.groups {
                let colG: UnsafePointer<Float>
                if g.isPointwise {
                    colG = xs + grp * cg * g.inSpatial
                } else {
                    im2col(g, sample: xs, group: grp, into: col)
                    colG = UnsafePointer(col)
                }
                let dyG = dys + grp * mg * s
                // dW_g (M/G, kg) += dY_g (M/G, S) · col_gᵀ (S, kg)
                GEMM.multiplySerial(transB: true, m: mg, n: kg, k: s, a: dyG, lda: s, b: colG, ldb: s,
                                    beta: 1, c: dw + grp * mg * kg, ldc: kg)
                if let dxs {
                    let wG = p.w + grp * mg * kg
                    if g.isPointwise {
                        // dx_g (C/G, S) = W_gᵀ (C/G, M/G) · dY_g (M/G, S)
                        GEMM.multiplySerial(transA: true, m: kg, n: s, k: mg, a: wG, lda: kg, b: dyG, ldb: s,
                                            c: dxs + grp * cg * g.inSpatial, ldc: s)
                    } else {
                        GEMM.multiplySerial(transA: true, m: kg, n: s, k: mg, a: wG, lda: kg, b: dyG, ldb: s,
                                            c: dcol, ldc: s)
                        col2im(g, columns: dcol, group: grp, into: dxs)
                    }
                }
            }
            // A plain `total += row[j]` loop is one add chain (no reassociation), slow on
            // rows as long as conv1's (784 values per channel per sample).
            for m in 0..<g.outChannels { db[m] += Reduce.sum(dys + m * s, count: s) }
        }
    }

    private struct Pointers: @unchecked Sendable {
        let x: UnsafePointer<Float>, w: UnsafePointer<Float>, s: UnsafePointer<Float>?, b: UnsafePointer<Float>?
        let y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
        let activation: Activation
        let pool: PoolGeometry?
    }

    private struct BackwardPointers: @unchecked Sendable {
        let x: UnsafePointer<Float>, w: UnsafePointer<Float>, dy: UnsafePointer<Float>
        let dx: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>
    }
}
