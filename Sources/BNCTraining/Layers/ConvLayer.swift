import BNCKernels

/// 2-D convolution. x (N, C, H, W), weight (M, C/G, kh, kw), bias (M), y (N, M, oH, oW):
/// through oneDNN's training primitives (`DNNLTrainingConvolution`) where it has them and
/// each output sums at least `oneDNNDepth` products, else, and should oneDNN fail at run
/// time, bnc's im2col + GEMM (`Convolution`).
final class ConvLayer: Layer {
    /// The products per output (C/G·kh·kw, the im2col GEMM's depth) from which oneDNN runs
    /// the layer. Measured on the CNN preset at batch 128 (Zen 4): its first convolution
    /// (depth 9, one input channel) took 1.8–2.1 ms a step on im2col and 2.7–3.1 ms on oneDNN
    /// (the reorders of its 32-channel output and gradient outweigh the products); the second
    /// (depth 288) 26.4 ms on im2col and 13.5 ms on oneDNN. 32 lies between, unmeasured.
    static let oneDNNDepth = 32

    let geometry: ConvGeometry
    let inputCount: Int, outputCount: Int
    let store: ParameterStore
    let weight: Int, bias: Int?
    private let output = FloatBuffer(count: 0)
    private let inputGradient = FloatBuffer(count: 0)
    private let scratch: FloatBuffer
    private var savedInput: UnsafeMutablePointer<Float>?
    /// oneDNN's primitives; nil: bnc's kernel.
    let direct: DNNLTrainingConvolution?
    /// Whether the last forward ran on oneDNN (its backward then does too).
    private var forwardWasDirect = false

    /// The convolution `spec` of an input (C, H, W); its window comes from `Window.resolve`
    /// ('same' padding is ONNX SAME_UPPER), as the executor's does.
    init(name: String, input shape: [Int], spec c: ConvSpec, store: ParameterStore) throws(KernelShapeError) {
        let geometry = try ConvLayer.geometry(input: shape, spec: c)
        self.geometry = geometry
        inputCount = geometry.inChannels * geometry.inSpatial
        outputCount = geometry.outChannels * geometry.outSpatial
        self.store = store
        weight = store.register(
            name: "\(name).weight",
            dims: [geometry.outChannels, geometry.inChannels / geometry.groups, geometry.kernelHeight, geometry.kernelWidth],
            decays: true)
        bias = c.bias ? store.register(name: "\(name).bias", dims: [geometry.outChannels], decays: false) : nil
        scratch = FloatBuffer(count: max(geometry.forwardScratchCount, geometry.backwardScratchCount))
        direct = DNNL.isAvailable && geometry.columnRows >= ConvLayer.oneDNNDepth
            ? DNNLTrainingConvolution(geometry: geometry, bias: c.bias) : nil
    }

    /// Which kernel runs the layer: "onednn forward …" or "bnc im2col".
    var kernel: String { direct.map { "onednn " + $0.implementation } ?? "bnc im2col" }

    /// The geometry of `spec` over an input (C, H, W) (also what `TrainingMemory` sizes).
    static func geometry(input shape: [Int], spec c: ConvSpec) throws(KernelShapeError) -> ConvGeometry {
        guard shape.count == 3 else { throw KernelShapeError("convolution needs (C, H, W) input, got \(shape)") }
        let autoPad: Window.AutoPad, pads: [Int]?
        switch c.padding {
        case .same: (autoPad, pads) = (.sameUpper, nil)
        case .valid: (autoPad, pads) = (.valid, nil)
        case .explicit(let p): (autoPad, pads) = (.notSet, p)
        }
        let window = try Window.resolve(autoPad: autoPad, input: [shape[1], shape[2]], kernel: [c.kernel.h, c.kernel.w],
                                        strides: [c.strides.h, c.strides.w], dilations: [c.dilations.h, c.dilations.w], pads: pads)
        return try ConvGeometry(window: window, inChannels: shape[0], outChannels: c.filters, groups: c.groups)
    }

    func reserve(batch: Int) {
        output.reserve(batch * outputCount)
        inputGradient.reserve(batch * inputCount)
        direct?.reserve(batch: batch)
    }

    func forward(_ x: UnsafeMutablePointer<Float>, batch: Int, mode: Mode) -> UnsafeMutablePointer<Float> {
        savedInput = x
        let b = bias.map { UnsafePointer(store.pointer($0)) }
        forwardWasDirect = direct?.forward(batch: batch, input: x, weight: store.pointer(weight), bias: b, output: output.pointer) ?? false
        if forwardWasDirect { return output.pointer }
        Convolution.forward(geometry, batch: batch, input: x, weight: store.pointer(weight),
                       bias: bias.map { UnsafePointer(store.pointer($0)) }, output: output.pointer, scratch: scratch.pointer)
        return output.pointer
    }

    func backward(_ dy: UnsafeMutablePointer<Float>, batch: Int, needInputGradient: Bool) -> UnsafeMutablePointer<Float>? {
        guard let x = savedInput else { preconditionFailure("backward before forward") }
        if forwardWasDirect, let direct,
           direct.backward(batch: batch, input: x, weight: store.pointer(weight), gradient: dy,
                           inputGradient: needInputGradient ? inputGradient.pointer : nil, weightGradient: store.gradient(weight),
                           biasGradient: bias.map { store.gradient($0) }) {
            return needInputGradient ? inputGradient.pointer : nil
        }
        Convolution.backward(geometry, batch: batch, input: x, weight: store.pointer(weight), gradient: dy,
                        inputGradient: needInputGradient ? inputGradient.pointer : nil,
                        weightGradient: store.gradient(weight), biasGradient: bias.map { store.gradient($0) },
                        scratch: scratch.pointer)
        return needInputGradient ? inputGradient.pointer : nil
    }
}
