/// Moves between bnc's planes (one image (C, S): channel-major, S spatial positions) and
/// channels-last order (one image (S, C): channel-innermost, NHWC's per-image order), the
/// order chains of oneDNN convolutions hand each other (see `DNNLConvolution.ActivationOrder`).
/// Plain loops over one image; they run where a convolution's oneDNN kernel cannot (the
/// fallback on bnc's planes kernels) and where two halves of one image's output channels meet.
public enum ChannelsLast {
    /// y (C, S) = x (S, C) of one image.
    public static func toPlanes(_ x: UnsafePointer<Float>, channels c: Int, spatial s: Int, into y: UnsafeMutablePointer<Float>) {
        for p in 0..<s {
            let row = x + p * c
            for k in 0..<c { y[k * s + p] = row[k] }
        }
    }

    /// y (S, C) = x (C, S) of one image.
    public static func fromPlanes(_ x: UnsafePointer<Float>, channels c: Int, spatial s: Int, into y: UnsafeMutablePointer<Float>) {
        for p in 0..<s {
            let row = y + p * c
            for k in 0..<c { row[k] = x[k * s + p] }
        }
    }

    /// Channels `first ..< first + part` of y (S, `channels`) = x (S, part): one slice of an
    /// image's output channels (computed on its own) put in its place, position by position.
    public static func place(
        _ x: UnsafePointer<Float>, part: Int, spatial s: Int, into y: UnsafeMutablePointer<Float>, channels: Int, first: Int
    ) {
        for p in 0..<s {
            (y + p * channels + first).update(from: x + p * part, count: part)
        }
    }
}

/// The order of the floats of an activation (N, C, spatial…) between two steps of a plan:
/// bnc's planes (NC(D)HW, what every kernel reads) or channels-last (N(D)HWC), in which
/// oneDNN's AVX-512 convolutions work, so that a chain of them (with the elementwise steps
/// between them, which do not care) runs without a reorder between its convolutions.
public enum ActivationOrder: Sendable, Equatable {
    case planes, channelsLast
}
