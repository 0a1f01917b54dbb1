/// Sizes of one pooling in 1, 2 or 3 spatial dimensions over (N·C) planes, NC(D)HW layout:
/// a `Window` (the one home of window geometry) plus the channel count; validated once,
/// then trusted by the kernels (`MaxPooling`, `AveragePooling`).
///
/// Shape legend: x (N, C, D, H, W), y (N, C, oD, oH, oW); 1-D and 2-D windows are the 3-D
/// case with leading sizes 1 (`Window.as3D`), so their loops run once.
public struct PoolGeometry: Equatable, Sendable {
    /// The window over the input's spatial dims, as given (1 to 3 dims).
    public let window: Window
    public let channels: Int
    /// The window as 3-D (`Window.as3D`): depth, height, width.
    public let depth: Int, height: Int, width: Int
    public let kernelDepth: Int, kernelHeight: Int, kernelWidth: Int
    public let strideD: Int, strideH: Int, strideW: Int
    public let dilationD: Int, dilationH: Int, dilationW: Int
    /// Padding at the beginning (front, top, left) and the end (back, bottom, right).
    public let padFront: Int, padTop: Int, padLeft: Int, padBack: Int, padBottom: Int, padRight: Int
    public let outDepth: Int, outHeight: Int, outWidth: Int

    /// Largest plane (D·H·W) and batch of planes accepted, so no size derived from the
    /// geometry overflows.
    public static let maximumCount = 1 << 40

    /// Throws when channels are not positive, a pad is not smaller than the kernel along its
    /// dimension (as onnxruntime requires: a window never lies in the padding alone), or a
    /// plane is larger than `maximumCount`.
    public init(window: Window, channels: Int) throws(KernelShapeError) {
        guard channels > 0, channels <= 1 << 30 else { throw KernelShapeError("channels \(channels) must be positive") }
        for i in 0..<window.rank where window.padsBegin[i] >= window.kernel[i] || window.padsEnd[i] >= window.kernel[i] {
            throw KernelShapeError("pads \(window.padsBegin + window.padsEnd) must be smaller than the kernel \(window.kernel.map(String.init).joined(separator: "×"))")
        }
        let w = window.as3D
        self.window = window
        self.channels = channels
        (depth, height, width) = (w.input[0], w.input[1], w.input[2])
        (kernelDepth, kernelHeight, kernelWidth) = (w.kernel[0], w.kernel[1], w.kernel[2])
        (strideD, strideH, strideW) = (w.strides[0], w.strides[1], w.strides[2])
        (dilationD, dilationH, dilationW) = (w.dilations[0], w.dilations[1], w.dilations[2])
        (padFront, padTop, padLeft) = (w.padsBegin[0], w.padsBegin[1], w.padsBegin[2])
        (padBack, padBottom, padRight) = (w.padsEnd[0], w.padsEnd[1], w.padsEnd[2])
        (outDepth, outHeight, outWidth) = (w.output[0], w.output[1], w.output[2])
        guard boundedProduct([channels, depth, height, width], PoolGeometry.maximumCount) != nil else {
            throw KernelShapeError("input of \(channels) channels × \(window.input) is larger than 2^40 floats")
        }
    }

    /// Number of spatial dimensions.
    public var rank: Int { window.rank }
    public var ceilMode: Bool { window.ceilMode }
    /// D·H·W.
    public var inSpatial: Int { depth * height * width }
    /// oD·oH·oW.
    public var outSpatial: Int { outDepth * outHeight * outWidth }

    /// The common 2-D 2×2 window with stride 2 and no padding whose windows all lie inside
    /// the input: the case with a fast path (and the one `Convolution.forward` can fuse).
    public var isPlain2x2: Bool {
        depth == 1 && kernelHeight == 2 && kernelWidth == 2 && strideH == 2 && strideW == 2
            && padTop == 0 && padLeft == 0 && dilationH == 1 && dilationW == 1
            && 2 * outHeight <= height && 2 * outWidth <= width
    }

    /// The taps k in 0..<kernel of output index `o` along one dimension whose input index
    /// o·stride + k·dilation − padBegin lies in 0..<size: the range `lo..<hi` (empty when
    /// none does).
    @inline(__always)
    public static func taps(_ o: Int, stride: Int, dilation: Int, padBegin: Int, kernel: Int, size: Int) -> Range<Int> {
        let start = o * stride - padBegin
        // Smallest k with start + k·d ≥ 0, and first k with start + k·d ≥ size.
        let lo = start >= 0 ? 0 : (-start + dilation - 1) / dilation
        let hi = start >= size ? 0 : (size - start + dilation - 1) / dilation
        let l = min(lo, kernel), h = min(hi, kernel)
        return l..<max(l, h)
    }
}
