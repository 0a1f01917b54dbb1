import BNCKernels

/// Zero padding of a convolution.
public enum ConvPadding: Equatable, Sendable {
    /// Output size = ⌈input/stride⌉; total padding split with the extra pixel at the end
    /// (ONNX SAME_UPPER, Keras "same").
    case same
    /// No padding.
    case valid
    /// [top, left, bottom, right] pixels.
    case explicit([Int])
}

/// A convolution's hyper-parameters (NCHW, ONNX `Conv`).
public struct ConvSpec: Equatable, Sendable {
    public var filters: Int
    public var kernel: (h: Int, w: Int)
    public var strides: (h: Int, w: Int)
    public var padding: ConvPadding
    public var dilations: (h: Int, w: Int)
    public var groups: Int
    public var bias: Bool

    public init(
        filters: Int, kernel: (Int, Int) = (3, 3), strides: (Int, Int) = (1, 1), padding: ConvPadding = .same,
        dilations: (Int, Int) = (1, 1), groups: Int = 1, bias: Bool = true
    ) {
        self.filters = filters
        self.kernel = kernel
        self.strides = strides
        self.padding = padding
        self.dilations = dilations
        self.groups = groups
        self.bias = bias
    }

    public static func == (a: ConvSpec, b: ConvSpec) -> Bool {
        a.filters == b.filters && a.kernel == b.kernel && a.strides == b.strides && a.padding == b.padding
            && a.dilations == b.dilations && a.groups == b.groups && a.bias == b.bias
    }
}

/// A max pooling's hyper-parameters (NCHW, ONNX `MaxPool`).
public struct PoolSpec: Equatable, Sendable {
    public var kernel: (h: Int, w: Int)
    public var strides: (h: Int, w: Int)
    /// [top, left, bottom, right].
    public var pads: [Int]

    public init(kernel: (Int, Int), strides: (Int, Int), pads: [Int] = [0, 0, 0, 0]) {
        self.kernel = kernel
        self.strides = strides
        self.pads = pads
    }

    public static func == (a: PoolSpec, b: PoolSpec) -> Bool {
        a.kernel == b.kernel && a.strides == b.strides && a.pads == b.pads
    }
}

/// One layer of a sequential network, as written in an architecture spec.
public enum LayerSpec: Equatable, Sendable {
    /// Fully connected: weight (units, inputs); optional bias (units).
    case dense(units: Int, bias: Bool)
    case conv(ConvSpec)
    case maxPool(PoolSpec)
    /// (C, H, W) → (C·H·W); no-op on contiguous data.
    case flatten
    /// Inverted dropout with this drop probability, in training only.
    case dropout(rate: Float)
    case activation(Activation)
    /// Batch normalization: per feature after a dense layer (or on a flat input), per channel
    /// after a convolution. `center` learns β, `scale` learns γ.
    case batchNorm(center: Bool, scale: Bool)
}

/// Architecture spec strings: presets and the compact syntax of `--arch`.
///
/// Layers are separated by `-` or `,`:
///
///     d<N>              dense, N units
///     c<N>[k<K>][s<S>][v|p<P>]
///                       convolution, N filters, K×K kernel (3), stride S (1), padding
///                       "same" unless v (valid) or p<P> (P pixels on every side)
///     p<K>              max pooling K×K, stride K
///     bn                batch normalization
///     relu sigmoid tanh activation; `act` = the --activation choice
///     drop<R>           dropout with rate R, e.g. drop0.3 (training only)
///     flat              flatten (added automatically before the first d after c/p)
///
/// A dense or convolution directly followed by `bn` has no bias (BN's β takes its place);
/// otherwise it has one. Presets: `mlp`, `cnn`, `toy` (see `ArchitectureSpec.presets`).
public enum ArchitectureSpec {
    /// Preset names and their spec strings.
    public static let presets: [(name: String, spec: String)] = [
        ("mlp", "d100-bn-act-d100-bn-act-d10"),
        ("cnn", "c32-bn-act-p2-c64-bn-act-p2-d128-bn-act-d10"),
        ("toy", "bn-" + Array(repeating: "d30-bn-act", count: 7).joined(separator: "-") + "-d1"),
    ]

    /// The spec string of a preset name, or the argument itself when it is not a preset.
    public static func expand(_ arch: String) -> String {
        presets.first { $0.name == arch }?.spec ?? arch
    }

    /// Parses a spec (or preset name) into layers.
    ///
    /// - `activation` replaces `act`.
    /// - `batchNorm` false drops every `bn` (the --no-bn switch).
    /// - `center`/`scale` apply to every BN.
    /// Throws a `TrainingError` at place `--arch` naming the bad token.
    /// - `imageInput`: the input is (C, H, W), so a leading dense gets a flatten before it.
    public static func parse(
        _ arch: String, activation: Activation, batchNorm: Bool = true, center: Bool = true, scale: Bool = true,
        imageInput: Bool = false
    ) throws(TrainingError) -> [LayerSpec] {
        let text = expand(arch)
        let tokens = text.split(whereSeparator: { $0 == "-" || $0 == "," || $0 == " " }).map(String.init)
        guard !tokens.isEmpty else { throw TrainingError(place: "--arch", problem: "is empty; give a preset (mlp, cnn, toy) or layers like d100-bn-relu-d10") }
        var raw: [LayerSpec] = []
        for (i, token) in tokens.enumerated() {
            let place = "--arch layer \(i + 1) '\(token)'"
            let t = token.lowercased()
            switch t {
            case "bn":
                if batchNorm { raw.append(.batchNorm(center: center, scale: scale)) }
                continue
            case "relu": raw.append(.activation(.relu)); continue
            case "sigmoid": raw.append(.activation(.sigmoid)); continue
            case "tanh": raw.append(.activation(.tanh)); continue
            case "act":
                if activation != .identity { raw.append(.activation(activation)) }
                continue
            case "flat", "flatten": raw.append(.flatten); continue
            default: break
            }
            if t.hasPrefix("drop") {
                guard let r = Float(t.dropFirst(4)), r >= 0, r < 1 else {
                    throw TrainingError(place: place, problem: "dropout needs a rate in [0, 1), e.g. drop0.5")
                }
                raw.append(.dropout(rate: r))
            } else if t.hasPrefix("d") {
                guard let n = Int(t.dropFirst()), n > 0 else {
                    throw TrainingError(place: place, problem: "dense needs a positive unit count, e.g. d100")
                }
                raw.append(.dense(units: n, bias: true))
            } else if t.hasPrefix("c") {
                raw.append(.conv(try parseConv(t, place: place)))
            } else if t.hasPrefix("p") {
                guard let k = Int(t.dropFirst()), k > 0 else {
                    throw TrainingError(place: place, problem: "max pooling needs a positive size, e.g. p2")
                }
                raw.append(.maxPool(PoolSpec(kernel: (k, k), strides: (k, k))))
            } else {
                throw TrainingError(place: place, problem: "unknown layer; use d<N>, c<N>[k<K>][s<S>][v|p<P>], p<K>, bn, relu, sigmoid, tanh, act, drop<R>, flat")
            }
        }
        return normalized(raw, imageInput: imageInput)
    }

    /// Drops biases before BN and inserts `flatten` before the first dense after a conv/pool.
    static func normalized(_ raw: [LayerSpec], imageInput: Bool) -> [LayerSpec] {
        var out: [LayerSpec] = []
        var spatial = imageInput
        for (i, layer) in raw.enumerated() {
            let nextIsBN: Bool = {
                if i + 1 < raw.count, case .batchNorm = raw[i + 1] { return true }
                return false
            }()
            switch layer {
            case .dense(let units, _):
                if spatial {
                    out.append(.flatten)
                    spatial = false
                }
                out.append(.dense(units: units, bias: !nextIsBN))
            case .conv(var c):
                c.bias = !nextIsBN
                out.append(.conv(c))
                spatial = true
            case .maxPool:
                out.append(layer)
                spatial = true
            case .flatten:
                out.append(layer)
                spatial = false
            default:
                out.append(layer)
            }
        }
        return out
    }

    private static func parseConv(_ t: String, place: String) throws(TrainingError) -> ConvSpec {
        // c<N>[k<K>][s<S>][v|p<P>]
        var rest = Substring(t.dropFirst())
        func number() -> Int? {
            let digits = rest.prefix { $0.isNumber }
            rest = rest.dropFirst(digits.count)
            return Int(digits)
        }
        guard let filters = number(), filters > 0 else {
            throw TrainingError(place: place, problem: "convolution needs a positive filter count, e.g. c32 or c32k5s2v")
        }
        var spec = ConvSpec(filters: filters)
        while let c = rest.first {
            rest = rest.dropFirst()
            switch c {
            case "k":
                guard let k = number(), k > 0 else { throw TrainingError(place: place, problem: "k needs a positive kernel size") }
                spec.kernel = (k, k)
            case "s":
                guard let s = number(), s > 0 else { throw TrainingError(place: place, problem: "s needs a positive stride") }
                spec.strides = (s, s)
            case "v":
                spec.padding = .valid
            case "p":
                guard let p = number() else { throw TrainingError(place: place, problem: "p needs a padding in pixels") }
                spec.padding = .explicit([p, p, p, p])
            default:
                throw TrainingError(place: place, problem: "unexpected '\(c)'; convolution is c<N>[k<K>][s<S>][v|p<P>]")
            }
        }
        return spec
    }

    /// The canonical compact text of parsed layers (biases implied by the bn rule).
    public static func text(_ layers: [LayerSpec]) -> String {
        layers.map { layer -> String in
            switch layer {
            case .dense(let n, _): return "d\(n)"
            case .conv(let c):
                var s = "c\(c.filters)"
                if c.kernel != (3, 3) { s += "k\(c.kernel.h)" }
                if c.strides != (1, 1) { s += "s\(c.strides.h)" }
                switch c.padding {
                case .same: break
                case .valid: s += "v"
                case .explicit(let p): s += "p\(p[0])"
                }
                return s
            case .maxPool(let p): return "p\(p.kernel.h)"
            case .flatten: return "flat"
            case .dropout(let r): return "drop\(r)"
            case .activation(let a): return a.name
            case .batchNorm: return "bn"
            }
        }.joined(separator: "-")
    }
}
