/// Max pooling in 1, 2 or 3 spatial dimensions, NC(D)HW layout (as ONNX `MaxPool`), forward
/// and backward over a `PoolGeometry`.
///
/// Padding counts as −∞ (never selected). Shapes: x (N, C, D, H, W), y (N, C, oD, oH, oW).
public enum MaxPooling {
    /// y = max over each window; `argmax` (N, C, oD, oH, oW), when given, receives the index
    /// (d·H + h)·W + w within the input plane of the selected value (−1 if the window saw
    /// only padding). Large batches split their planes over the cores unless `parallel` is
    /// false.
    public static func forward(
        _ g: PoolGeometry, batch n: Int, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>,
        argmax: UnsafeMutablePointer<Int32>?, parallel: Bool = true
    ) {
        precondition(argmax == nil || g.inSpatial <= Int(Int32.max), "MaxPooling.forward: plane too large for Int32 indices")
        let D = g.depth, H = g.height, W = g.width, oD = g.outDepth, oH = g.outHeight, oW = g.outWidth
        let inPlane = g.inSpatial, outPlane = g.outSpatial
        let simple = g.isPlain2x2
        let planes = n * g.channels
        let split = parallel && planes * inPlane >= BatchNorm.parallelThreshold
        Parallel.forEachSlice(split) { slice in
        for plane in Parallel.range(slice, of: planes, split: split) {
            let xp = x + plane * inPlane
            let yp = y + plane * outPlane
            let ap = argmax.map { $0 + plane * outPlane }
            if simple {
                if let ap {
                    pool2x2(xp, width: W, outHeight: oH, outWidth: oW, into: yp, argmax: ap)
                } else {
                    pool2x2(xp, width: W, outHeight: oH, outWidth: oW, into: yp)
                }
                continue
            }
            var o = 0
            for oz in 0..<oD {
                for oy in 0..<oH {
                    for ox in 0..<oW {
                        var best = -Float.infinity
                        var at = -1
                        for kz in 0..<g.kernelDepth {
                            let iz = oz * g.strideD + kz * g.dilationD - g.padFront
                            if iz < 0 || iz >= D { continue }
                            for ky in 0..<g.kernelHeight {
                                let iy = oy * g.strideH + ky * g.dilationH - g.padTop
                                if iy < 0 || iy >= H { continue }
                                let row = (iz * H + iy) * W
                                for kx in 0..<g.kernelWidth {
                                    let ix = ox * g.strideW + kx * g.dilationW - g.padLeft
                                    if ix < 0 || ix >= W { continue }
                                    let v = xp[row + ix]
                                    // NaN propagates: a NaN input wins once seen.
                                    if at < 0 || v > best || (v.isNaN && !best.isNaN) {
                                        best = v
                                        at = row + ix
                                    }
                                }
                            }
                        }
                        yp[o] = best
                        ap?[o] = Int32(truncatingIfNeeded: at)
                        o += 1
                    }
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

    /// dx (N, C, D, H, W) = scatter of dy to the positions `argmax` recorded; overwritten.
    /// Large batches split their planes over the cores.
    public static func backward(
        _ g: PoolGeometry, batch n: Int, gradient dy: UnsafePointer<Float>, argmax: UnsafePointer<Int32>,
        inputGradient dx: UnsafeMutablePointer<Float>
    ) {
        let inPlane = g.inSpatial, outPlane = g.outSpatial
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

extension MaxPooling {
    /// `forward` without argmax on channels-last images, x (N, D, H, W, C) → y (N, oD, oH, oW, C):
    /// each output position takes the max over its window's taps, all channels at once (a
    /// contiguous run of C floats per tap), visiting the taps in `forward`'s order with its
    /// comparison, so each output is the same bits as `forward`'s on planes, NaN included
    /// (the plain 2×2 window through `BlockedPooling`, which compares as `pool2x2` does).
    /// Output rows split over the cores unless `parallel` is false.
    public static func forwardChannelsLast(
        _ g: PoolGeometry, batch n: Int, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>, parallel: Bool = true
    ) {
        let C = g.channels, D = g.depth, H = g.height, W = g.width, oD = g.outDepth, oH = g.outHeight, oW = g.outWidth
        if g.isPlain2x2 {
            let from = BlockedPooling.Layout(lanes: C, blocks: 1, image: H * W * C, block: 0, row: W * C)
            let to = BlockedPooling.Layout(lanes: C, blocks: 1, image: oH * oW * C, block: 0, row: oW * C)
            BlockedPooling.maxPool2x2(images: n, outHeight: oH, outWidth: oW, from: from, x, to: to, y)
            return
        }
        let rows = n * oD * oH
        let split = parallel && n * g.inSpatial * C >= BatchNorm.parallelThreshold
        Parallel.forEachSlice(split) { slice in
            for row in Parallel.range(slice, of: rows, split: split) {
                let image = row / (oD * oH), oz = row / oH % oD, oy = row % oH
                let xi = x + image * g.inSpatial * C
                let zTaps = PoolGeometry.taps(oz, stride: g.strideD, dilation: g.dilationD, padBegin: g.padFront, kernel: g.kernelDepth, size: D)
                let yTaps = PoolGeometry.taps(oy, stride: g.strideH, dilation: g.dilationH, padBegin: g.padTop, kernel: g.kernelHeight, size: H)
                for ox in 0..<oW {
                    let out = y + (row * oW + ox) * C
                    let xTaps = PoolGeometry.taps(ox, stride: g.strideW, dilation: g.dilationW, padBegin: g.padLeft, kernel: g.kernelWidth, size: W)
                    var first = true
                    for kz in zTaps {
                        let iz = oz * g.strideD + kz * g.dilationD - g.padFront
                        for ky in yTaps {
                            let iy = oy * g.strideH + ky * g.dilationH - g.padTop
                            for kx in xTaps {
                                let ix = ox * g.strideW + kx * g.dilationW - g.padLeft
                                let v = xi + ((iz * H + iy) * W + ix) * C
                                if first {
                                    out.update(from: v, count: C)
                                    first = false
                                } else {
                                    maxInto(out, v, count: C)
                                }
                            }
                        }
                    }
                    // A window of padding only.
                    if first { out.update(repeating: -.infinity, count: C) }
                }
            }
        }
    }

    /// out = v where v > out or v is a NaN out is not (`forward`'s rule), channel by channel.
    @inline(__always)
    private static func maxInto(_ out: UnsafeMutablePointer<Float>, _ v: UnsafePointer<Float>, count: Int) {
        for k in 0..<count {
            let a = v[k], b = out[k]
            out[k] = (a > b || (a != a && b == b)) ? a : b
        }
    }
}
