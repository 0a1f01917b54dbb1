import BNCKernels

/// Max pooling. x (N, C, H, W), y (N, C, oH, oW); argmax (N, C, oH, oW) kept for backward.
final class PoolLayer: Layer {
    let geometry: PoolGeometry
    let inputCount: Int, outputCount: Int
    private let output = FloatBuffer(count: 0)
    private let inputGradient = FloatBuffer(count: 0)
    private let argmax = Buffer<Int32>(count: 0)

    /// The pooling `spec` of an input (C, H, W); its window comes from `Window.resolve`, as
    /// the executor's does.
    init(input shape: [Int], spec p: PoolSpec) throws(KernelShapeError) {
        geometry = try PoolLayer.geometry(input: shape, spec: p)
        inputCount = geometry.channels * geometry.inSpatial
        outputCount = geometry.channels * geometry.outSpatial
    }

    /// The geometry of `spec` over an input (C, H, W) (also what `TrainingMemory` sizes).
    static func geometry(input shape: [Int], spec p: PoolSpec) throws(KernelShapeError) -> PoolGeometry {
        guard shape.count == 3 else { throw KernelShapeError("max pooling needs (C, H, W) input, got \(shape)") }
        let window = try Window.resolve(autoPad: .notSet, input: [shape[1], shape[2]], kernel: [p.kernel.h, p.kernel.w],
                                        strides: [p.strides.h, p.strides.w], pads: p.pads)
        return try PoolGeometry(window: window, channels: shape[0])
    }

    func reserve(batch: Int) {
        output.reserve(batch * outputCount)
        inputGradient.reserve(batch * inputCount)
        argmax.reserve(batch * outputCount)
    }

    func forward(_ x: UnsafeMutablePointer<Float>, batch: Int, mode: Mode) -> UnsafeMutablePointer<Float> {
        MaxPooling.forward(geometry, batch: batch, input: x, output: output.pointer,
                          argmax: mode == .training ? argmax.pointer : nil)
        return output.pointer
    }

    func backward(_ dy: UnsafeMutablePointer<Float>, batch: Int, needInputGradient: Bool) -> UnsafeMutablePointer<Float>? {
        guard needInputGradient else { return nil }
        MaxPooling.backward(geometry, batch: batch, gradient: dy, argmax: argmax.pointer, inputGradient: inputGradient.pointer)
        return inputGradient.pointer
    }
}

/// Flatten: (C, H, W) → (C·H·W). Contiguous NCHW data is already flat: passes pointers through.
final class FlattenLayer: Layer {
    let inputCount: Int, outputCount: Int
    init(count: Int) {
        inputCount = count
        outputCount = count
    }
    func reserve(batch: Int) {}
    func forward(_ x: UnsafeMutablePointer<Float>, batch: Int, mode: Mode) -> UnsafeMutablePointer<Float> { x }
    func backward(_ dy: UnsafeMutablePointer<Float>, batch: Int, needInputGradient: Bool) -> UnsafeMutablePointer<Float>? {
        needInputGradient ? dy : nil
    }
}

/// A pointwise nonlinearity on its own (when no BN before it to fuse with).
final class ActivationLayer: Layer {
    let activation: Activation
    let inputCount: Int, outputCount: Int
    private let output = FloatBuffer(count: 0)

    init(_ activation: Activation, count: Int) {
        self.activation = activation
        inputCount = count
        outputCount = count
    }

    func reserve(batch: Int) { output.reserve(batch * outputCount) }

    func forward(_ x: UnsafeMutablePointer<Float>, batch: Int, mode: Mode) -> UnsafeMutablePointer<Float> {
        activation.forward(x, output.pointer, count: batch * outputCount)
        return output.pointer
    }

    func backward(_ dy: UnsafeMutablePointer<Float>, batch: Int, needInputGradient: Bool) -> UnsafeMutablePointer<Float>? {
        guard needInputGradient else { return nil }
        activation.backward(output: output.pointer, gradient: dy, into: dy, count: batch * outputCount)
        return dy
    }
}

/// Inverted dropout: in training y = x·mask with mask ∈ {0, 1/(1 − rate)}; identity in
/// inference. The mask comes from the generator the trainer hands over before each step.
final class DropoutLayer: Layer {
    let rate: Float
    let inputCount: Int, outputCount: Int
    private let output = FloatBuffer(count: 0)
    let mask = FloatBuffer(count: 0)
    /// Uniform [0, 1) draws for the next training forward (set by the network).
    var uniform: () -> Float = { 1 }
    /// Examples of the global batch before and after this process's shard (data-parallel
    /// runs): their draws are made and discarded, so each example gets the mask it would get
    /// in one process.
    var shard = (before: 0, after: 0)

    init(rate: Float, count: Int) {
        self.rate = rate
        inputCount = count
        outputCount = count
    }

    func reserve(batch: Int) {
        output.reserve(batch * outputCount)
        mask.reserve(batch * outputCount)
    }

    func forward(_ x: UnsafeMutablePointer<Float>, batch: Int, mode: Mode) -> UnsafeMutablePointer<Float> {
        let n = batch * outputCount
        guard mode == .training, rate > 0 else {
            output.pointer.update(from: x, count: n)
            return output.pointer
        }
        let keep = 1 / (1 - rate)
        let m = mask.pointer, y = output.pointer
        for _ in 0..<(shard.before * outputCount) { _ = uniform() }
        for i in 0..<n {
            m[i] = uniform() < rate ? 0 : keep
            y[i] = x[i] * m[i]
        }
        for _ in 0..<(shard.after * outputCount) { _ = uniform() }
        return y
    }

    func backward(_ dy: UnsafeMutablePointer<Float>, batch: Int, needInputGradient: Bool) -> UnsafeMutablePointer<Float>? {
        guard needInputGradient else { return nil }
        guard rate > 0 else { return dy }
        let m = mask.pointer
        for i in 0..<(batch * outputCount) { dy[i] *= m[i] }
        return dy
    }
}
