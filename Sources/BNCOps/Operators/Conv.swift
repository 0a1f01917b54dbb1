import BNCGraph
import BNCKernels

/// ONNX Conv: Y (N, M, o…) = X (N, C, i…) ⋆ W (M, C/group, k…) + B (M), in 1, 2 or 3
/// spatial dimensions, with groups (depthwise when group = C), strides, dilations, pads and
/// auto_pad (`WindowAttributes`). Versions 1, 11 and 22 differ only in element types.
struct Conv: Operator {
    static let type = "Conv"
    static let versions = [1, 11, 22]
    static func schema(_ version: Int) -> Schema {
        Schema(inputs: 2...3, attributes: WindowAttributes.specs(kernelRequired: false) + [.int("group", default: 1)])
    }
    let window: WindowAttributes
    let group: Int

    init(_ node: NodeView) throws(ModelError) {
        window = try WindowAttributes(node)
        group = try node.attributes.int("group", in: 1...(1 << 24))
    }

    var foldRole: FoldRole { .linear(weight: 1, axis: 0, groups: 1, bias: 2) }

    /// The window over X's spatial dims, after checking X, W and B against each other.
    func geometry(_ inputs: Inputs) throws(ModelError) -> (x: [Int], w: [Int], window: Window) {
        let x = try inputs.float(0).shape, w = try inputs.float(1).shape
        guard x.count >= 3, x.count <= 5, w.count == x.count else {
            throw inputs.fail("Conv needs X (N, C, spatial…) and W (M, C/group, kernel…) of rank 3 to 5, got X \(shapeText(x)) and W \(shapeText(w))")
        }
        guard x[1] % group == 0, w[0] % group == 0 else {
            throw inputs.fail("group \(group) must divide the \(x[1]) input and \(w[0]) output channels")
        }
        guard w[1] * group == x[1] else {
            throw inputs.fail("W \(shapeText(w)) expects \(w[1]) channels per group × \(group) groups, the input has \(x[1])")
        }
        if inputs.has(2) {
            let b = try inputs.float(2).shape
            guard b == [w[0]] else {
                throw inputs.fail("bias \(shapeText(b)) must be (\(w[0])) for \(w[0]) output channels")
            }
        }
        let win = try window.window(inputs.view, input: Array(x[2...]), kernel: Array(w[2...]))
        return (x, w, win)
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let (x, w, win) = try geometry(inputs)
        return [PlanValue(shape: [x[0], w[0]] + win.output)]
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        let (x, w, win) = try geometry(l.inputs)
        let geometry: ConvGeometry
        do throws(KernelShapeError) {
            geometry = try ConvGeometry(window: win, inChannels: x[1], outChannels: w[0], groups: group)
        } catch {
            throw l.fail(error.description)
        }
        l.emit(ConvStep(x: try l.value(0), y: l.output(), geometry: geometry, batchPerUnit: x[0], weight: try l.value(1),
                        shift: l.inputs.has(2) ? try l.value(2) : nil, table: l.table))
    }
}

/// A convolution by constant weights with its epilogue (bias, an unfolded BN's scale, the
/// activation) and optionally a plain 2×2 max-pool after it, all in `Convolution.forward`,
/// or, once compiled with oneDNN (constant weights, scale and shift), in one
/// `DNNLConvolution` (direct convolution in a blocked layout; `Convolution.forward` stays the
/// fallback should oneDNN fail at run time).
struct ConvStep: Step {
    let x: ValueID
    private(set) var y: ValueID
    let geometry: ConvGeometry
    /// Images per unit (dim 0 of the unit's shape; 1 in batch plans).
    let batchPerUnit: Int
    let weight: ValueID
    private(set) var scale: ValueID?
    private(set) var shift: ValueID?
    private(set) var activation: Activation = .identity
    private(set) var pool: PoolGeometry?
    let table: ValueTable
    /// The oneDNN primitives (`compiled`), nil for bnc's im2col kernel.
    private(set) var direct: DNNLConvolution?
    /// The order of x and of y: bnc's planes, or the chain's order (channels-last or channel
    /// blocks) inside a chain of oneDNN convolutions (`ordered`; bnc's own kernel then goes
    /// through planes image by image).
    private(set) var input = ActivationOrder.planes, output = ActivationOrder.planes

    init(x: ValueID, y: ValueID, geometry: ConvGeometry, batchPerUnit: Int, weight: ValueID, shift: ValueID?, table: ValueTable) {
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
        return "conv \(g.window.kernel.map(String.init).joined(separator: "×")) \(g.inChannels)→\(g.outChannels)" + (g.groups > 1 ? " g\(g.groups)" : "")
            + (shift != nil ? " +bias" : "") + (scale != nil ? " +scale" : "")
            + (activation == .identity ? "" : " +\(activation.name)") + (pool != nil ? " +pool" : "")
    }

    func scratch(serial: Bool) -> Int {
        let own = im2colScratch(serial: serial) + (input == .planes && output == .planes ? 0 : imageIn + imageOut + 32)
        guard let direct else { return own }
        return max(own, serial ? direct.scratchPerCall : Parallel.ways * direct.scratchPerCall)
    }

    var kernel: String {
        let order = input == .planes && output == .planes ? "" : ", \(input.name) → \(output.name)"
        guard let direct else { return "bnc im2col" + order }
        return "onednn \(direct.implementation)" + (direct.poolImplementation.map { ", pool \($0)" } ?? "") + order
    }

    /// A convolution oneDNN runs (constant weights, scale and shift) can be part of a chain.
    var orderUse: OrderUse {
        guard table[weight].constant != nil, scale.map({ table[$0].constant != nil }) ?? true,
              shift.map({ table[$0].constant != nil }) ?? true else { return .none }
        return .eitherOrder
    }

    func ordered(input: ActivationOrder, output: ActivationOrder) -> any Step {
        var s = self
        s.input = input
        s.output = output
        return s
    }

    /// Floats of scratch `Convolution.forward` needs (for one core when `serial`).
    private func im2colScratch(serial: Bool) -> Int {
        serial ? geometry.forwardScratchPerSlice(pooled: pool != nil) : geometry.forwardScratchCount(pooled: pool != nil)
    }

    /// Floats of one image's input and output (pooled when `pool`).
    private var imageIn: Int { geometry.inChannels * geometry.inSpatial }
    private var imageOut: Int { geometry.outChannels * (pool?.outSpatial ?? geometry.outSpatial) }

    func compiled(_ options: PlanOptions) -> any Step {
        guard options.oneDNN, direct == nil, let w = table[weight].constant else { return self }
        let s = scale.map { table[$0].constant }, b = shift.map { table[$0].constant }
        // A runtime bias or scale (never composed) keeps the im2col kernel.
        if s == .some(nil) || b == .some(nil) { return self }
        var step = self
        step.direct = DNNLConvolution(geometry: geometry, weight: w, scale: s ?? nil, shift: b ?? nil, activation: activation, pool: pool,
                                      input: input, output: output)
        return step
    }

    func fusing(_ next: any Step) -> (any Step)? {
        guard pool == nil else { return nil }
        if let p = next as? MaxPoolStep, activation.commutesWithMax, scalePositive,
           p.geometry.isPlain2x2, p.geometry.channels == geometry.outChannels, p.geometry.depth == geometry.outDepth,
           p.geometry.height == geometry.outHeight,
           p.geometry.width == geometry.outWidth, p.planesPerUnit == batchPerUnit * geometry.outChannels {
            var s = self
            s.pool = p.geometry
            s.y = p.y
            return s
        }
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

    /// Max-pooling commutes with the epilogue's scale only when every scale is positive.
    /// (Conv's own bias may be a runtime value: it is then never composed.)
    private var scalePositive: Bool {
        guard let scale else { return true }
        return table[scale].constant?.allSatisfy { $0 > 0 } ?? false
    }

    func run(_ frame: Frame, units: Range<Int>, serial: Bool) {
        let f = units.lowerBound
        if let direct, direct.forward(images: units.count * batchPerUnit, input: frame.input(x, f), output: frame.pointer(y, f),
                                      scratch: frame.scratch, parallel: !serial) {
            return
        }
        if input == .planes && output == .planes {
            planes(frame, images: units.count * batchPerUnit, input: frame.input(x, f), output: frame.pointer(y, f), serial: serial)
            return
        }
        // The chain's order at either end: image by image through planes, after bnc's own scratch.
        let g = geometry
        let planesIn = frame.scratch + im2colScratch(serial: serial), planesOut = planesIn + imageIn + 16
        for i in 0..<(units.count * batchPerUnit) {
            var source = frame.input(x, f) + i * imageIn
            if input != .planes {
                input.toPlanes(source, channels: g.inChannels, spatial: g.inSpatial, into: planesIn)
                source = UnsafePointer(planesIn)
            }
            let target = frame.pointer(y, f) + i * imageOut
            planes(frame, images: 1, input: source, output: output == .planes ? target : planesOut, serial: serial)
            if output != .planes {
                output.fromPlanes(planesOut, channels: g.outChannels, spatial: imageOut / g.outChannels, into: target)
            }
        }
    }

    /// bnc's im2col kernel on planes.
    private func planes(_ frame: Frame, images: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, serial: Bool) {
        Convolution.forward(geometry, batch: images, input: input, weight: frame.input(weight, 0),
                            scale: scale.map { frame.input($0, 0) }, bias: shift.map { frame.input($0, 0) },
                            activation: activation, pool: pool, output: output, scratch: frame.scratch, parallel: !serial)
    }
}
