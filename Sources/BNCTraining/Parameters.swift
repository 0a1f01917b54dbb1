/// All trainable parameters of a network in one contiguous buffer, with their gradients in a
/// second one of the same layout, so that optimizers run one loop over everything and a
/// data-parallel step sums every gradient across processes in one reduction. The gradient
/// buffer has one more slot after the last gradient (`lossSlot`), where that step carries
/// its loss through the same reduction.
///
/// Layers register their tensors while the network is built (`register`), then `allocate()`
/// fixes the layout; pointers stay valid for the store's lifetime.
final class ParameterStore {
    /// One named tensor in the store.
    struct Entry {
        /// Initializer name in exported models, e.g. "dense1.weight".
        var name: String
        /// ONNX dims, e.g. (out, in) for a dense weight.
        var dims: [Int]
        var offset: Int
        var count: Int
        /// Whether L2 weight decay applies (weights yes; biases and BN γ/β no).
        var decays: Bool
    }

    private(set) var entries: [Entry] = []
    private(set) var count = 0
    private(set) var values: UnsafeMutablePointer<Float>
    private(set) var gradients: UnsafeMutablePointer<Float>
    private var allocated = false

    init() {
        values = .allocate(capacity: 1)
        gradients = .allocate(capacity: 1)
    }

    /// Reserves a tensor; returns its index for `pointer(_:)`.
    func register(name: String, dims: [Int], decays: Bool) -> Int {
        precondition(!allocated, "register after allocate")
        let n = dims.reduce(1, *)
        entries.append(Entry(name: name, dims: dims, offset: count, count: n, decays: decays))
        count += n
        return entries.count - 1
    }

    func allocate() {
        precondition(!allocated)
        values.deallocate()
        gradients.deallocate()
        values = .allocate(capacity: max(count, 1))
        values.initialize(repeating: 0, count: max(count, 1))
        gradients = .allocate(capacity: count + 1)
        gradients.initialize(repeating: 0, count: count + 1)
        allocated = true
    }

    func pointer(_ index: Int) -> UnsafeMutablePointer<Float> { values + entries[index].offset }
    /// The slot after the last gradient (`gradients[count]`), free for a step's loss.
    var lossSlot: UnsafeMutablePointer<Float> { gradients + count }
    func gradient(_ index: Int) -> UnsafeMutablePointer<Float> { gradients + entries[index].offset }

    func array(_ index: Int) -> [Float] {
        Array(UnsafeBufferPointer(start: pointer(index), count: entries[index].count))
    }

    func index(named name: String) -> Int? { entries.firstIndex { $0.name == name } }

    deinit {
        values.deallocate()
        gradients.deallocate()
    }
}

/// How weights are drawn at the start of training (biases start at 0, BN γ at 1, β at 0).
public enum WeightInitializer: String, Sendable, CaseIterable {
    /// He normal (He et al. 2015), for ReLU, drawn as Keras's `he_normal`: a normal
    /// truncated at ±2 standard deviations, scaled so the variance is still 2/fan_in.
    case he
    /// Glorot uniform: U(±√(6/(fan_in + fan_out))) (Glorot & Bengio 2010), Keras's default.
    case glorot
    /// N(0, 1), the badly scaled start the BN tutorials use to show BN rescuing a network.
    case normal

    /// Fills `count` weights.
    func fill<G: RandomNumberGenerator & GaussianSource>(
        _ w: UnsafeMutablePointer<Float>, count: Int, fanIn: Int, fanOut: Int, using rng: inout G
    ) {
        switch self {
        case .he:
            // 0.8796… is the standard deviation of a unit normal truncated at ±2.
            let sd = (2 / Double(fanIn)).squareRoot() / 0.87962566103423978
            for i in 0..<count {
                var z = rng.nextGaussian()
                while abs(z) > 2 { z = rng.nextGaussian() }
                w[i] = Float(z * sd)
            }
        case .glorot:
            let limit = (6 / Double(fanIn + fanOut)).squareRoot()
            for i in 0..<count { w[i] = Float((2 * rng.nextUniform() - 1) * limit) }
        case .normal:
            for i in 0..<count { w[i] = Float(rng.nextGaussian()) }
        }
    }
}

/// The random draws training needs, with results fixed by the seed on every platform.
protocol GaussianSource {
    mutating func nextGaussian() -> Double
    mutating func nextUniform() -> Double
}
