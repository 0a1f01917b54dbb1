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
/// bnc's planes (NC(D)HW, what every kernel reads), or the order oneDNN's convolutions work in
/// on this CPU, so that a chain of them (with the elementwise steps and pools between them)
/// runs without a reorder between its convolutions: channels-last (N(D)HWC, AVX-512's
/// brgconv) or channel blocks (nChw8c, AVX2's jit kernels; nChw16c).
public enum ActivationOrder: Sendable, Equatable {
    case planes, channelsLast
    /// Channels in blocks of `lanes` (8 or 16), each block's spatial positions × lanes floats
    /// contiguous: element (n, c, s) at ((n·C/lanes + c/lanes)·S + s)·lanes + c % lanes, for
    /// C a multiple of lanes (the only tensors held so, `holds`). Each block is thus a
    /// channels-last image of `lanes` channels: an image of C channels in this order is C/lanes
    /// channels-last images, and the channels-last kernels run on it as they are (`asChannelsLast`).
    case blocked(Int)

    /// Whether a tensor of `channels` channels can be kept in this order with the floats of its
    /// plain size (channel blocks need whole blocks: no padding).
    public func holds(channels: Int) -> Bool {
        if case .blocked(let lanes) = self { return channels % lanes == 0 }
        return true
    }

    /// "nchw", "nhwc", "nChw8c" (in kernel descriptions).
    public var name: String {
        switch self {
        case .planes: return "nchw"
        case .channelsLast: return "nhwc"
        case .blocked(let lanes): return "nChw\(lanes)c"
        }
    }

    /// `images` images of `channels` channels as the channels-last kernels see them: the same
    /// (channels-last), or images × C/lanes images of `lanes` channels (blocked); nil for planes.
    public func asChannelsLast(images: Int, channels: Int) -> (images: Int, channels: Int)? {
        switch self {
        case .planes: return nil
        case .channelsLast: return (images, channels)
        case .blocked(let lanes): return (images * (channels / lanes), lanes)
        }
    }

    /// y (C, S) in planes = x, one image (C, S) in this order.
    public func toPlanes(_ x: UnsafePointer<Float>, channels c: Int, spatial s: Int, into y: UnsafeMutablePointer<Float>) {
        guard let (blocks, lanes) = asChannelsLast(images: 1, channels: c) else { return y.update(from: x, count: c * s) }
        // Block b holds planes b·lanes ..< (b + 1)·lanes, which are contiguous in planes too.
        for b in 0..<blocks { ChannelsLast.toPlanes(x + b * lanes * s, channels: lanes, spatial: s, into: y + b * lanes * s) }
    }

    /// y, one image (C, S) in this order = x (C, S) in planes.
    public func fromPlanes(_ x: UnsafePointer<Float>, channels c: Int, spatial s: Int, into y: UnsafeMutablePointer<Float>) {
        guard let (blocks, lanes) = asChannelsLast(images: 1, channels: c) else { return y.update(from: x, count: c * s) }
        for b in 0..<blocks { ChannelsLast.fromPlanes(x + b * lanes * s, channels: lanes, spatial: s, into: y + b * lanes * s) }
    }
}

extension ActivationOrder {
    /// y[n, c, s] = y·scale[c] + shift[c] in place over `images` images (C, S) in this order
    /// (shift nil: y·scale[c]): the epilogue oneDNN's convolutions leave to Swift
    /// (`DNNLEpilogue.swiftScale`), one multiply and one add as its binary post-ops do them.
    public func affine(
        _ y: UnsafeMutablePointer<Float>, images: Int, channels c: Int, spatial s: Int,
        scale: UnsafePointer<Float>, shift: UnsafePointer<Float>?
    ) {
        guard let (views, lanes) = asChannelsLast(images: images, channels: c) else {
            for plane in 0..<(images * c) {
                let run = y + plane * s, a = scale[plane % c]
                if let shift {
                    let b = shift[plane % c]
                    for j in 0..<s { run[j] = run[j] * a + b }
                } else {
                    for j in 0..<s { run[j] = run[j] * a }
                }
            }
            return
        }
        // View k holds channels (k mod C/lanes)·lanes ..< + lanes, position by position.
        let blocks = c / lanes
        for k in 0..<views {
            let first = (k % blocks) * lanes, a = scale + first, view = y + k * s * lanes
            if let shift {
                let b = shift + first
                for p in 0..<s {
                    let row = view + p * lanes
                    for l in 0..<lanes { row[l] = row[l] * a[l] + b[l] }
                }
            } else {
                for p in 0..<s {
                    let row = view + p * lanes
                    for l in 0..<lanes { row[l] = row[l] * a[l] }
                }
            }
        }
    }
}
