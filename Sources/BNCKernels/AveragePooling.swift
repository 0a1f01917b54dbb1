/// Average pooling in 1, 2 or 3 spatial dimensions, NC(D)HW layout (as ONNX `AveragePool`),
/// over a `PoolGeometry`. Shapes: x (N, C, D, H, W), y (N, C, oD, oH, oW).
///
/// Each output is the Float sum of its window's input values divided by a count:
/// - `countIncludePad` false: the taps that fall on the input;
/// - `countIncludePad` true: the taps that fall on the padded input [−padBegin, size +
///   padEnd) along every dimension. A ceil-mode window that runs past the end padding
///   counts only up to it (onnxruntime's rule, which the onnx reference follows), so the
///   last window of `ceil_mode` is not divided by the full kernel size.
/// Padding adds zeros to the sum either way. Per dimension the taps form one contiguous
/// range (`PoolGeometry.taps`), so the count is the product of three range lengths.
public enum AveragePooling {
    /// y = average over each window. Large batches split their planes over the cores unless
    /// `parallel` is false (planes are independent: the split does not change results).
    public static func forward(
        _ g: PoolGeometry, batch n: Int, countIncludePad: Bool, input x: UnsafePointer<Float>,
        output y: UnsafeMutablePointer<Float>, parallel: Bool = true
    ) {
        let D = g.depth, H = g.height, W = g.width
        let inPlane = g.inSpatial, outPlane = g.outSpatial
        let planes = n * g.channels
        let split = parallel && planes * inPlane >= BatchNorm.parallelThreshold
        // Padded extents for the include-pad count.
        let pD = D + g.padFront + g.padBack, pH = H + g.padTop + g.padBottom, pW = W + g.padLeft + g.padRight
        Parallel.forEachSlice(split) { slice in
        for plane in Parallel.range(slice, of: planes, split: split) {
            let xp = x + plane * inPlane
            var yp = y + plane * outPlane
            for oz in 0..<g.outDepth {
                let tz = PoolGeometry.taps(oz, stride: g.strideD, dilation: g.dilationD, padBegin: g.padFront, kernel: g.kernelDepth, size: D)
                let cz = countIncludePad
                    ? PoolGeometry.taps(oz, stride: g.strideD, dilation: g.dilationD, padBegin: 0, kernel: g.kernelDepth, size: pD).count
                    : tz.count
                for oy in 0..<g.outHeight {
                    let ty = PoolGeometry.taps(oy, stride: g.strideH, dilation: g.dilationH, padBegin: g.padTop, kernel: g.kernelHeight, size: H)
                    let cy = countIncludePad
                        ? PoolGeometry.taps(oy, stride: g.strideH, dilation: g.dilationH, padBegin: 0, kernel: g.kernelHeight, size: pH).count
                        : ty.count
                    let z0 = oz * g.strideD - g.padFront, y0 = oy * g.strideH - g.padTop
                    for ox in 0..<g.outWidth {
                        let tx = PoolGeometry.taps(ox, stride: g.strideW, dilation: g.dilationW, padBegin: g.padLeft, kernel: g.kernelWidth, size: W)
                        let cx = countIncludePad
                            ? PoolGeometry.taps(ox, stride: g.strideW, dilation: g.dilationW, padBegin: 0, kernel: g.kernelWidth, size: pW).count
                            : tx.count
                        let x0 = ox * g.strideW - g.padLeft
                        var sum: Float = 0
                        for kz in tz {
                            let iz = z0 + kz * g.dilationD
                            for ky in ty {
                                let row = xp + ((iz * H) + y0 + ky * g.dilationH) * W + x0
                                for kx in tx { sum += row[kx * g.dilationW] }
                            }
                        }
                        // A window on padding alone (possible only with dilations) has no
                        // taps: 0/0, NaN, as the onnx reference's empty mean.
                        yp[ox] = sum / Float(cz * cy * cx)
                    }
                    yp += g.outWidth
                }
            }
        }
        }
    }
}
