/// The sliding-window geometry that convolution and every pooling share, in 1, 2 or 3
/// spatial dimensions (ONNX `Conv`, `ConvTranspose`, `MaxPool`, `AveragePool`).
///
/// All arrays have one entry per spatial dimension, outermost first (D, H, W for 3-D).
/// Output size per dimension, with s the stride, d the dilation, k the kernel and
/// p = padBegin + padEnd:
///
///     floor mode:  out = ⌊(in + p − d·(k − 1) − 1)/s⌋ + 1
///     ceil mode:   out = ⌈(in + p − d·(k − 1) − 1)/s⌉ + 1, minus one when the last window
///                  would start inside the end padding (onnxruntime's and PyTorch's rule)
///
/// `resolve(autoPad:…)` turns ONNX's `auto_pad` into explicit pads: SAME_UPPER and
/// SAME_LOWER give out = ⌈in/s⌉ and split the total padding max(0, (out − 1)·s +
/// d·(k − 1) + 1 − in) with the odd pixel at the end (UPPER) or the beginning (LOWER).
public struct Window: Equatable, Hashable, Sendable, CustomStringConvertible {
    public let input: [Int]
    public let kernel: [Int]
    public let strides: [Int]
    public let dilations: [Int]
    public let padsBegin: [Int]
    public let padsEnd: [Int]
    public let ceilMode: Bool
    public let output: [Int]

    /// Largest kernel, stride, dilation or pad accepted: far beyond any real network, and
    /// small enough that no product of them overflows.
    public static let maximumExtent = 1 << 20

    /// Number of spatial dimensions.
    public var rank: Int { input.count }

    /// ONNX `auto_pad`.
    public enum AutoPad: String, Sendable {
        case notSet = "NOTSET", valid = "VALID", sameUpper = "SAME_UPPER", sameLower = "SAME_LOWER"
    }

    /// A window with explicit pads. Throws when sizes are not positive, pads negative, the
    /// dilated kernel larger than the padded input, or a value beyond `maximumExtent`.
    public init(
        input: [Int], kernel: [Int], strides: [Int]? = nil, dilations: [Int]? = nil,
        padsBegin: [Int]? = nil, padsEnd: [Int]? = nil, ceilMode: Bool = false
    ) throws(KernelShapeError) {
        let r = input.count
        let strides = strides ?? Array(repeating: 1, count: r)
        let dilations = dilations ?? Array(repeating: 1, count: r)
        let padsBegin = padsBegin ?? Array(repeating: 0, count: r)
        let padsEnd = padsEnd ?? Array(repeating: 0, count: r)
        guard (1...3).contains(r) else { throw KernelShapeError("\(r) spatial dimensions; windows have 1 to 3") }
        for (name, v) in [("kernel", kernel), ("strides", strides), ("dilations", dilations), ("pads", padsBegin), ("pads", padsEnd)]
        where v.count != r {
            throw KernelShapeError("\(name) \(v) has \(v.count) values for \(r) spatial dimensions")
        }
        let limit = Window.maximumExtent
        guard input.allSatisfy({ $0 >= 1 && $0 <= 1 << 31 }) else { throw KernelShapeError("input size \(input) must be positive") }
        guard kernel.allSatisfy({ $0 >= 1 && $0 <= limit }) else { throw KernelShapeError("kernel \(kernel) must be positive (at most \(limit))") }
        guard strides.allSatisfy({ $0 >= 1 && $0 <= limit }) else { throw KernelShapeError("strides \(strides) must be positive (at most \(limit))") }
        guard dilations.allSatisfy({ $0 >= 1 && $0 <= limit }) else { throw KernelShapeError("dilations \(dilations) must be positive (at most \(limit))") }
        guard (padsBegin + padsEnd).allSatisfy({ $0 >= 0 && $0 <= limit }) else {
            throw KernelShapeError("pads \(padsBegin + padsEnd) must not be negative (at most \(limit))")
        }
        var output: [Int] = []
        for i in 0..<r {
            let span = dilations[i] * (kernel[i] - 1) + 1
            let padded = input[i] + padsBegin[i] + padsEnd[i]
            var o: Int
            if ceilMode {
                // ⌈(padded − span) / stride⌉ + 1, also when the dilated kernel is longer than
                // the padded input (its one window then starts at the first element and its
                // taps past the end are not read, as onnxruntime and ONNX's reference compute);
                // a window that would start inside the trailing padding is dropped.
                let excess = padded - span
                o = (excess >= 0 ? (excess + strides[i] - 1) / strides[i] : -(-excess / strides[i])) + 1
                if (o - 1) * strides[i] >= input[i] + padsBegin[i] { o -= 1 }
            } else {
                o = span <= padded ? (padded - span) / strides[i] + 1 : 0
            }
            guard o >= 1 else {
                throw KernelShapeError("the kernel \(kernel.map(String.init).joined(separator: "×")) spans \(span) in dimension \(i), more than the padded input's \(padded)")
            }
            output.append(o)
        }
        self.input = input
        self.kernel = kernel
        self.strides = strides
        self.dilations = dilations
        self.padsBegin = padsBegin
        self.padsEnd = padsEnd
        self.ceilMode = ceilMode
        self.output = output
    }

    /// Explicit pads for `autoPad` (NOTSET keeps `pads`, ONNX order: all begins, then all
    /// ends), then the window. `ceilMode` applies to NOTSET only, as in onnxruntime.
    public static func resolve(
        autoPad: AutoPad, input: [Int], kernel: [Int], strides: [Int]? = nil, dilations: [Int]? = nil,
        pads: [Int]? = nil, ceilMode: Bool = false
    ) throws(KernelShapeError) -> Window {
        let r = input.count
        let s = strides ?? Array(repeating: 1, count: r)
        let d = dilations ?? Array(repeating: 1, count: r)
        switch autoPad {
        case .notSet:
            let p = pads ?? Array(repeating: 0, count: 2 * r)
            guard p.count == 2 * r else {
                throw KernelShapeError("pads \(p) has \(p.count) values; \(r) spatial dimensions need \(2 * r) (all begins, then all ends)")
            }
            return try Window(input: input, kernel: kernel, strides: s, dilations: d,
                              padsBegin: Array(p[..<r]), padsEnd: Array(p[r...]), ceilMode: ceilMode)
        case .valid:
            return try Window(input: input, kernel: kernel, strides: s, dilations: d)
        case .sameUpper, .sameLower:
            guard s.count == r, d.count == r, kernel.count == r else {
                throw KernelShapeError("kernel \(kernel), strides \(s) and dilations \(d) must each have \(r) values")
            }
            var begin: [Int] = [], end: [Int] = []
            for i in 0..<r {
                guard s[i] >= 1, s[i] <= maximumExtent, d[i] >= 1, d[i] <= maximumExtent,
                      kernel[i] >= 1, kernel[i] <= maximumExtent, input[i] >= 1 else {
                    throw KernelShapeError("kernel \(kernel), strides \(s) and dilations \(d) must be positive")
                }
                let out = (input[i] + s[i] - 1) / s[i]
                let total = max(0, (out - 1) * s[i] + d[i] * (kernel[i] - 1) + 1 - input[i])
                let small = total / 2, large = total - small
                begin.append(autoPad == .sameUpper ? small : large)
                end.append(autoPad == .sameUpper ? large : small)
            }
            return try Window(input: input, kernel: kernel, strides: s, dilations: d, padsBegin: begin, padsEnd: end)
        }
    }

    /// ConvTranspose's output size and begin pads (the end pads only crop, so the kernel
    /// needs the beginning alone), per spatial dimension, with F = s·(in − 1) + adj + d·(k − 1) + 1
    /// for output padding adj:
    /// - `outputShape` given: out = outputShape; SAME_UPPER or SAME_LOWER without it: out =
    ///   in·s; then the total padding F − out is split, the odd pixel at the end for
    ///   SAME_UPPER and at the beginning otherwise (ONNX-11 on), or at the end whatever the
    ///   mode with `oddPadAtEnd` (ConvTranspose-1's rule for NOTSET; bnc refuses that
    ///   version's SAME modes). A negative total (out > F) pads nothing: the positions past
    ///   F take no taps.
    /// - otherwise out = F − padBegin − padEnd (`pads`; VALID: none), which must be ≥ 1.
    /// Output padding must be smaller than the stride or the dilation (ONNX).
    public static func transposed(
        autoPad: AutoPad, input: [Int], kernel: [Int], strides: [Int]? = nil, dilations: [Int]? = nil,
        pads: [Int]? = nil, outputPadding: [Int]? = nil, outputShape: [Int]? = nil, oddPadAtEnd: Bool = false
    ) throws(KernelShapeError) -> (output: [Int], padsBegin: [Int]) {
        let r = input.count
        let s = strides ?? Array(repeating: 1, count: r), d = dilations ?? Array(repeating: 1, count: r)
        let adj = outputPadding ?? Array(repeating: 0, count: r)
        let p = pads ?? Array(repeating: 0, count: 2 * r)
        guard (1...3).contains(r), kernel.count == r, s.count == r, d.count == r, adj.count == r, p.count == 2 * r,
              outputShape.map({ $0.count == r }) ?? true else {
            throw KernelShapeError("kernel \(kernel), strides \(s), dilations \(d) and output_padding \(adj) need \(r) values, pads \(2 * r)")
        }
        let limit = maximumExtent
        guard input.allSatisfy({ $0 >= 1 && $0 <= 1 << 31 }), (kernel + s + d).allSatisfy({ $0 >= 1 && $0 <= limit }),
              (p + adj).allSatisfy({ $0 >= 0 && $0 <= limit }), (outputShape ?? []).allSatisfy({ $0 >= 1 && $0 <= 1 << 31 }) else {
            throw KernelShapeError("kernel \(kernel), strides \(s), dilations \(d) and the output shape must be positive, pads \(p) and output_padding \(adj) not negative (at most \(limit))")
        }
        var output: [Int] = [], begin: [Int] = []
        for i in 0..<r {
            guard adj[i] < max(s[i], d[i]) else {
                throw KernelShapeError("output_padding \(adj) must be smaller than the stride or the dilation in dimension \(i)")
            }
            let full = s[i] * (input[i] - 1) + adj[i] + d[i] * (kernel[i] - 1) + 1
            if outputShape != nil || autoPad == .sameUpper || autoPad == .sameLower {
                let out = outputShape?[i] ?? input[i] * s[i]
                let total = max(0, full - out)
                let atEnd = oddPadAtEnd || autoPad == .sameUpper
                output.append(out)
                begin.append(atEnd ? total / 2 : total - total / 2)
            } else {
                let (b, e) = autoPad == .valid ? (0, 0) : (p[i], p[r + i])
                guard full - b - e >= 1 else {
                    throw KernelShapeError("pads \(p) leave no output in dimension \(i) (the full output has \(full) values)")
                }
                output.append(full - b - e)
                begin.append(b)
            }
            guard output[i] <= 1 << 31 else { throw KernelShapeError("the output size \(output[i]) of dimension \(i) is too large") }
        }
        return (output, begin)
    }

    /// Product of the input sizes.
    public var inputCount: Int { input.reduce(1, *) }
    /// Product of the output sizes.
    public var outputCount: Int { output.reduce(1, *) }
    /// Product of the kernel sizes.
    public var kernelCount: Int { kernel.reduce(1, *) }
    /// No padding anywhere.
    public var unpadded: Bool { padsBegin.allSatisfy { $0 == 0 } && padsEnd.allSatisfy { $0 == 0 } }

    /// The window as 3-D (D, H, W), leading dimensions of size 1 with a unit kernel: the
    /// form the kernels iterate over, so 1-D and 2-D are 3-D cases with trivial outer loops.
    public var as3D: Window {
        let lead = 3 - rank
        if lead == 0 { return self }
        let one = Array(repeating: 1, count: lead), zero = Array(repeating: 0, count: lead)
        // Sizes are already checked; the unit dims cannot fail.
        return (try? Window(input: one + input, kernel: one + kernel, strides: one + strides, dilations: one + dilations,
                            padsBegin: zero + padsBegin, padsEnd: zero + padsEnd, ceilMode: ceilMode)) ?? self
    }

    public var description: String {
        func dims(_ v: [Int]) -> String { v.map(String.init).joined(separator: "×") }
        return "kernel \(dims(kernel)) over \(dims(input)), strides \(strides), dilations \(dilations), pads \(padsBegin + padsEnd)\(ceilMode ? ", ceil" : "") → \(dims(output))"
    }
}
