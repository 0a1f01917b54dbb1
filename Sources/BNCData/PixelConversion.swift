/// Element → Float conversion, shared by `ImageSet.copyBatch` and `IDXReader.readBatch` so that
/// training and inference see bit-identical inputs.
enum PixelConversion {
    /// `dst[i] = Float(src[i]) / 255` (correctly rounded: exactly `x/255`), or
    /// `Float(src[i]) * scale` when a scale is given.
    @inline(__always)
    static func convert(
        _ src: UnsafeBufferPointer<UInt8>, into dst: UnsafeMutableBufferPointer<Float>, scale: Float?
    ) {
        precondition(dst.count >= src.count)
        guard let s = src.baseAddress, let d = dst.baseAddress else { return }
        let n = src.count
        if let scale {
            for i in 0..<n { d[i] = Float(s[i]) * scale }
        } else {
            for i in 0..<n { d[i] = Float(s[i]) / 255 }
        }
    }
}
