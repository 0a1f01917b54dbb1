import BNCGraph
import BNCKernels

/// ONNX ConvTranspose: Y (N, M, o…) = the transposed convolution of X (N, C, i…) by
/// W (C, M/group, k…), plus B (M), in 1, 2 or 3 spatial dimensions, with groups, strides,
/// dilations, pads (which crop the full output), output_padding, output_shape and auto_pad
/// (`Window.transposed` holds the size and padding rules). The kernel is col2im of Wᵀ·x,
/// the adjoint of Conv's (`ConvolutionTranspose`).
///
/// Versions: 1 describes SAME_UPPER/SAME_LOWER as "output size matches the input" while its
/// padding formula contradicts its own auto_pad text, so bnc refuses them there; with
/// output_shape it puts an odd total padding's extra pixel at the end (the formula of
/// version 1), from 11 at the beginning unless SAME_UPPER. 11 defines SAME as
/// out = in·stride; 22 adds element types.
struct ConvTranspose: Operator {
    static let type = "ConvTranspose"
    static let versions = [1, 11, 22]
    static func schema(_ version: Int) -> Schema {
        Schema(inputs: 2...3, attributes: WindowAttributes.specs(kernelRequired: false)
            + [.int("group", default: 1), .ints("output_padding"), .ints("output_shape")])
    }
    let window: WindowAttributes
    let group: Int
    let outputPadding: [Int]?
    let outputShape: [Int]?
    let version: Int

    init(_ node: NodeView) throws(ModelError) {
        window = try WindowAttributes(node)
        let a = node.attributes
        group = try a.int("group", in: 1...(1 << 24))
        outputPadding = try a.ints("output_padding", each: 0...Window.maximumExtent)
        outputShape = try a.ints("output_shape", each: 1...(1 << 31))
        version = node.version
        if version < 11, window.autoPad == .sameUpper || window.autoPad == .sameLower {
            throw node.fail(attribute: "auto_pad", "is '\(window.autoPad.rawValue)'; ConvTranspose-1 defines SAME padding inconsistently, bnc runs it from version 11", kind: .unsupportedOperator)
        }
    }

    /// Channel m of the output is linear in the slice m (within its group) of W's axis 1.
    var foldRole: FoldRole { .linear(weight: 1, axis: 1, groups: group, bias: 2) }

    /// X's and W's shapes and the kernel geometry, after checking them against each other.
    func geometry(_ inputs: Inputs) throws(ModelError) -> (x: [Int], geometry: TransposedConvGeometry) {
        let view = inputs.view
        let x = try inputs.float(0).shape, w = try inputs.float(1).shape
        guard x.count >= 3, x.count <= 5, w.count == x.count else {
            throw inputs.fail("ConvTranspose needs X (N, C, spatial…) and W (C, M/group, kernel…) of rank 3 to 5, got X \(shapeText(x)) and W \(shapeText(w))")
        }
        guard x[1] == w[0], x[1] % group == 0 else {
            throw inputs.fail("W \(shapeText(w)) has \(w[0]) input channels and group \(group) must divide them; X \(shapeText(x)) has \(x[1])")
        }
        let m = w[1] * group
        if inputs.has(2) {
            let b = try inputs.float(2).shape
            guard b == [m] else { throw inputs.fail("bias \(shapeText(b)) must be (\(m)) for \(m) output channels") }
        }
        let r = x.count - 2, input = Array(x[2...]), kernel = Array(w[2...])
        if let k = window.kernelShape, k != kernel {
            throw view.fail(attribute: "kernel_shape", "is \(k), the weight's spatial dims are \(kernel)", kind: .badValue)
        }
        for (name, v) in [("strides", window.strides), ("dilations", window.dilations), ("output_padding", outputPadding),
                          ("output_shape", outputShape)] {
            if let v, v.count != r {
                throw view.fail(attribute: name, "has \(v.count) values for \(r) spatial dimensions", kind: .badValue)
            }
        }
        if let p = window.pads, p.count != 2 * r {
            throw view.fail(attribute: "pads", "has \(p.count) values; \(r) spatial dimensions need \(2 * r) (all begins, then all ends)", kind: .badValue)
        }
        do throws(KernelShapeError) {
            let (output, begin) = try Window.transposed(
                autoPad: window.autoPad, input: input, kernel: kernel, strides: window.strides, dilations: window.dilations,
                pads: window.pads, outputPadding: outputPadding, outputShape: outputShape, oddPadAtEnd: version < 11)
            let g = try TransposedConvGeometry(
                input: input, output: output, kernel: kernel, strides: window.strides ?? Array(repeating: 1, count: r),
                dilations: window.dilations ?? Array(repeating: 1, count: r), padsBegin: begin,
                inChannels: x[1], outChannels: m, groups: group)
            return (x, g)
        } catch {
            throw view.fail(error.description)
        }
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let (x, g) = try geometry(inputs)
        return [PlanValue(shape: [x[0], g.outChannels] + g.output)]
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        let (x, g) = try geometry(l.inputs)
        l.emit(ConvTransposeStep(x: try l.value(0), y: l.output(), geometry: g, batchPerUnit: x[0], weight: try l.value(1),
                                 shift: l.inputs.has(2) ? try l.value(2) : nil, table: l.table))
    }
}

/// A transposed convolution with its epilogue (bias, an unfolded BN's scale, the activation),
/// all in `ConvolutionTranspose.forward`.
struct ConvTransposeStep: Step {
    let x: ValueID
    private(set) var y: ValueID
    let geometry: TransposedConvGeometry
    /// Images per unit (dim 0 of the unit's shape; 1 in batch plans).
    let batchPerUnit: Int
    let weight: ValueID
    private(set) var scale: ValueID?
    private(set) var shift: ValueID?
    private(set) var activation: Activation = .identity
    let table: ValueTable

    init(x: ValueID, y: ValueID, geometry: TransposedConvGeometry, batchPerUnit: Int, weight: ValueID, shift: ValueID?,
         table: ValueTable) {
        self.x = x
        self.y = y
        self.geometry = geometry
        self.batchPerUnit = batchPerUnit
        self.weight = weight
        self.shift = shift
        self.table = table
    }

    var reads: [ValueID] { [x, weight] + [scale, shift].compactMap { $0 } }
    var writes: [ValueID] { [y] }
    var traits: StepTraits { [.perUnit, .splitsItself] }
    var summary: String {
        let g = geometry
        return "convtranspose \(g.adjoint.window.kernel.map(String.init).joined(separator: "×")) \(g.inChannels)→\(g.outChannels)"
            + (g.groups > 1 ? " g\(g.groups)" : "") + (shift != nil ? " +bias" : "") + (scale != nil ? " +scale" : "")
            + (activation == .identity ? "" : " +\(activation.name)")
    }

    func scratch(serial: Bool) -> Int { serial ? geometry.scratchPerSlice : geometry.scratchCount }

    func fusing(_ next: any Step) -> (any Step)? {
        guard activation == .identity else { return nil }
        switch next.epilogue {
        case .activation(let a)?:
            var s = self
            s.activation = a
            s.y = next.writes[0]
            return s
        case .channelAffine(let outer, let channels, let inner, let s2, let b2)?
            where outer == batchPerUnit && channels == geometry.outChannels && inner == geometry.outSpatial
                && EpilogueAlgebra.constant(s2, b2, table) && EpilogueAlgebra.constant(scale, shift, table):
            var s = self
            (s.scale, s.shift) = EpilogueAlgebra.compose(scale: scale, shift: shift, then: s2, b2, channels: channels, table: table)
            s.y = next.writes[0]
            return s
        default:
            return nil
        }
    }

    func run(_ frame: Frame, units: Range<Int>, serial: Bool) {
        let f = units.lowerBound
        ConvolutionTranspose.forward(geometry, batch: units.count * batchPerUnit, input: frame.input(x, f),
                                     weight: frame.input(weight, 0), scale: scale.map { frame.input($0, 0) },
                                     bias: shift.map { frame.input($0, 0) }, activation: activation,
                                     output: frame.pointer(y, f), scratch: frame.scratch, parallel: !serial)
    }
}
