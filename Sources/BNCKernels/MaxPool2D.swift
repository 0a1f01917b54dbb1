/// 2-D max pooling in NCHW layout (as ONNX `MaxPool`), forward and backward.
///
/// Padding counts as −∞ (never selected). Shapes: x (N, C, H, W), y (N, C, oH, oW).

/// Sizes and hyper-parameters of one pooling; validated once, then trusted by kernels.
public struct PoolGeometry: Equatable, Sendable {
    public var channels: Int, height: Int, width: Int
    public var kernelHeight: Int, kernelWidth: Int
    public var strideH: Int, strideW: Int
    /// Padding, ONNX order [top, left, bottom, right].
    public var padTop: Int, padLeft: Int, padBottom: Int, padRight: Int
    public var dilationH: Int, dilationW: Int
    public var ceilMode: Bool
    public let outHeight: Int, outWidth: Int

    /// Output size per ONNX: ⌊(H + pads − dilation·(k − 1) − 1)/stride⌋ + 1 (⌈⌉ with
    /// `ceilMode`, dropping a last window that would start in the bottom/right padding).
    public init(
        channels: Int, height: Int, width: Int, kernelHeight: Int, kernelWidth: Int,
        strides: (Int, Int), pads: (top: Int, left: Int, bottom: Int, right: Int) = (0, 0, 0, 0),
        dilations: (Int, Int) = (1, 1), ceilMode: Bool = false
    ) throws(KernelShapeError) {
        self.channels = channels
        self.height = height
        self.width = width
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        (strideH, strideW) = strides
        (padTop, padLeft, padBottom, padRight) = pads
        (dilationH, dilationW) = dilations
        self.ceilMode = ceilMode
        guard channels > 0, height > 0, width > 0 else {
            throw KernelShapeError("channels and sizes must be positive (C \(channels), H \(height), W \(width))")
        }
        guard kernelHeight > 0, kernelWidth > 0 else { throw KernelShapeError("kernel \(kernelHeight)×\(kernelWidth) must be positive") }
        guard strideH > 0, strideW > 0 else { throw KernelShapeError("strides \(strideH), \(strideW) must be positive") }
        guard dilationH > 0, dilationW > 0 else { throw KernelShapeError("dilations \(dilationH), \(dilationW) must be positive") }
        guard padTop >= 0, padLeft >= 0, padBottom >= 0, padRight >= 0 else {
            throw KernelShapeError("pads [\(padTop), \(padLeft), \(padBottom), \(padRight)] must not be negative")
        }
        guard padTop < kernelHeight, padBottom < kernelHeight, padLeft < kernelWidth, padRight < kernelWidth else {
            throw KernelShapeError("pads [\(padTop), \(padLeft), \(padBottom), \(padRight)] must be smaller than the kernel \(kernelHeight)×\(kernelWidth)")
        }
        let spanH = dilationH * (kernelHeight - 1) + 1, spanW = dilationW * (kernelWidth - 1) + 1
        let paddedH = height + padTop + padBottom, paddedW = width + padLeft + padRight
        guard spanH <= paddedH, spanW <= paddedW else {
            throw KernelShapeError("kernel span \(spanH)×\(spanW) exceeds the padded input \(paddedH)×\(paddedW)")
        }
        func size(_ padded: Int, _ span: Int, _ stride: Int, _ inSize: Int, _ padBegin: Int) -> Int {
            if !ceilMode { return (padded - span) / stride + 1 }
            var o = (padded - span + stride - 1) / stride + 1
            if (o - 1) * stride >= inSize + padBegin { o -= 1 }
            return o
        }
        outHeight = size(paddedH, spanH, strideH, height, padTop)
        outWidth = size(paddedW, spanW, strideW, width, padLeft)
    }

    /// The common 2×2 window with stride 2 and no padding whose windows all lie inside the
    /// input: the case with a fast path (and the one `Conv2D.forward` can fuse).
    public var isPlain2x2: Bool {
        kernelHeight == 2 && kernelWidth == 2 && strideH == 2 && strideW == 2
            && padTop == 0 && padLeft == 0 && dilationH == 1 && dilationW == 1
            && 2 * outHeight <= height && 2 * outWidth <= width
    }
}

public enum MaxPool2D {
    /// y = max over each window; `argmax` (N, C, oH, oW), when given, receives the index
    /// h·W + w within the input plane of the selected value (−1 if the window saw only padding).
    /// Large batches split their planes over the cores unless `parallel` is false.
    public static func forward(
        _ g: PoolGeometry, batch n: Int, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>,
        argmax: UnsafeMutablePointer<Int32>?, parallel: Bool = true
    ) {
        let H = g.height, W = g.width, oH = g.outHeight, oW = g.outWidth
        let simple = g.isPlain2x2
        let planes = n * g.channels
        let split = parallel && planes * H * W >= BatchNorm.parallelThreshold
        Parallel.forEachSlice(split) { slice in
        for plane in Parallel.range(slice, of: planes, split: split) {
            let xp = x + plane * H * W
            let yp = y + plane * oH * oW
            let ap = argmax.map { $0 + plane * oH * oW }
            if simple {
                if let ap {
                    pool2x2(xp, width: W, outHeight: oH, outWidth: oW, into: yp, argmax: ap)
                } else {
                    pool2x2(xp, width: W, outHeight: oH, outWidth: oW, into: yp)
                }
                continue
            }
            for oy in 0..<oH {
                for ox in 0..<oW {
                    var best = -Float.infinity
                    var at = -1
                    for ky in 0..<g.kernelHeight {
                        let iy = oy * g.strideH + ky * g.dilationH - g.padTop
                        if iy < 0 || iy >= H { continue }
                        for kx in 0..<g.kernelWidth {
                            let ix = ox * g.strideW + kx * g.dilationW - g.padLeft
                            if ix < 0 || ix >= W { continue }
                            let v = xp[iy * W + ix]
                            // NaN propagates: a NaN input wins once seen.
                            if at < 0 || v > best || (v.isNaN && !best.isNaN) {
                                best = v
                                at = iy * W + ix
                            }
                        }
                    }
                    yp[oy * oW + ox] = best
                    ap?[oy * oW + ox] = Int32(at)
                }
            }
        }
        }
    }

    /// One plane of the common 2×2 window, stride 2, no padding, with the argmax.
    @inline(never)
    static func pool2x2(
        _ x: UnsafePointer<Float>, width w: Int, outHeight oH: Int, outWidth oW: Int,
        into y: UnsafeMutablePointer<Float>, argmax ap: UnsafeMutablePointer<Int32>
    ) {
        for oy in 0..<oH {
            let i0 = 2 &* oy &* w
            let r0 = x + i0, r1 = r0 + w
            let yr = y + oy &* oW, ar = ap + oy &* oW
            for ox in 0..<oW {
                let c = 2 &* ox
                let a = r0[c], b = r0[c &+ 1], d = r1[c], e = r1[c &+ 1]
                // Strict > keeps the first maximum in row-major order, like the general path.
                var best = a, at = c
                if b > best { best = b; at = c &+ 1 }
                if d > best { best = d; at = c &+ w }
                if e > best { best = e; at = c &+ w &+ 1 }
                yr[ox] = best
                ar[ox] = Int32(truncatingIfNeeded: i0 &+ at)
            }
        }
    }

    /// One plane of the 2×2/2 window without the argmax (inference).
    @inline(never)
    static func pool2x2(
        _ x: UnsafePointer<Float>, width w: Int, outHeight oH: Int, outWidth oW: Int,
        into y: UnsafeMutablePointer<Float>
    ) {
        for oy in 0..<oH {
            let r0 = x + 2 &* oy &* w, r1 = r0 + w
            let yr = y + oy &* oW
            for ox in 0..<oW {
                let c = 2 &* ox
                let m0 = r0[c] > r0[c &+ 1] ? r0[c] : r0[c &+ 1]
                let m1 = r1[c] > r1[c &+ 1] ? r1[c] : r1[c &+ 1]
                yr[ox] = m1 > m0 ? m1 : m0
            }
        }
    }

    /// dx (N, C, H, W) = scatter of dy to the positions `argmax` recorded; overwritten.
    /// Large batches split their planes over the cores.
    public static func backward(
        _ g: PoolGeometry, batch n: Int, gradient dy: UnsafePointer<Float>, argmax: UnsafePointer<Int32>,
        inputGradient dx: UnsafeMutablePointer<Float>
    ) {
        let inPlane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        let planes = n * g.channels
        // Planes are independent (each is zeroed, then accumulated in window order), so the
        // split does not change results.
        let split = planes * inPlane >= BatchNorm.parallelThreshold
        Parallel.forEachSlice(split) { slice in
        for plane in Parallel.range(slice, of: planes, split: split) {
            let dxp = dx + plane * inPlane, dyp = dy + plane * outPlane, ap = argmax + plane * outPlane
            dxp.update(repeating: 0, count: inPlane)
            for o in 0..<outPlane where ap[o] >= 0 {
                dxp[Int(ap[o])] += dyp[o]
            }
        }
        }
    }
}
