import BNCKernels

/// Fully connected layer y = x·Wᵀ + b. x (N, C), W (K, C) out × in, b (K), y (N, K).
final class DenseLayer: Layer {
    let inputCount: Int, outputCount: Int
    let store: ParameterStore
    /// Parameter indices in `store`.
    let weight: Int, bias: Int?
    private let output = FloatBuffer(count: 0)
    private let inputGradient = FloatBuffer(count: 0)
    /// The input of the last training forward, read by backward.
    private var savedInput: UnsafeMutablePointer<Float>?

    init(name: String, inputs: Int, units: Int, bias hasBias: Bool, store: ParameterStore) {
        inputCount = inputs
        outputCount = units
        self.store = store
        weight = store.register(name: "\(name).weight", dims: [units, inputs], decays: true)
        bias = hasBias ? store.register(name: "\(name).bias", dims: [units], decays: false) : nil
    }

    func reserve(batch: Int) {
        output.reserve(batch * outputCount)
        inputGradient.reserve(batch * inputCount)
    }

    func forward(_ x: UnsafeMutablePointer<Float>, batch: Int, mode: Mode) -> UnsafeMutablePointer<Float> {
        savedInput = x
        Dense.forward(x, batch: batch, inputs: inputCount, weight: store.pointer(weight),
                      bias: bias.map { UnsafePointer(store.pointer($0)) }, outputs: outputCount, into: output.pointer)
        return output.pointer
    }

    func backward(_ dy: UnsafeMutablePointer<Float>, batch: Int, needInputGradient: Bool) -> UnsafeMutablePointer<Float>? {
        guard let x = savedInput else { preconditionFailure("backward before forward") }
        Dense.backward(x, batch: batch, inputs: inputCount, weight: store.pointer(weight), outputs: outputCount,
                       gradient: dy, inputGradient: needInputGradient ? inputGradient.pointer : nil,
                       weightGradient: store.gradient(weight), biasGradient: bias.map { store.gradient($0) })
        return needInputGradient ? inputGradient.pointer : nil
    }
}
