import BNCKernels

/// Parameter update rules, run over the whole `ParameterStore` after each backward pass.
///
/// L2 weight decay λ adds λ·w to the gradient of every weight (dense and conv kernels; not
/// biases or BN γ/β), i.e. the loss gains λ/2·‖w‖².
public enum OptimizerKind: Equatable, Sendable {
    /// v = momentum·v − lr·g; w += v (plain SGD when momentum = 0). Keras's SGD.
    case sgd(learningRate: Float, momentum: Float)
    /// Adam (Kingma & Ba 2015) in Keras's form: m, v moving averages (β1 0.9, β2 0.999),
    /// w −= lr·√(1 − β2ᵗ)/(1 − β1ᵗ) · m/(√v + ε), ε = 1e-7.
    case adam(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-7)

    /// Short description for metadata, e.g. "adam lr=0.001" or "sgd lr=0.01 momentum=0.9".
    public var text: String {
        switch self {
        case .sgd(let lr, let m): return m == 0 ? "sgd lr=\(lr)" : "sgd lr=\(lr) momentum=\(m)"
        case .adam(let lr, let b1, let b2, let e): return "adam lr=\(lr) beta1=\(b1) beta2=\(b2) epsilon=\(e)"
        }
    }

    /// Names of the per-parameter state slots ("velocity" or "m", "v").
    var stateNames: [String] {
        switch self {
        case .sgd(_, let m): return m == 0 ? [] : ["velocity"]
        case .adam: return ["m", "v"]
        }
    }
}

/// An optimizer bound to one network's parameters, with its state (same layout as the store).
final class Optimizer {
    let kind: OptimizerKind
    let weightDecay: Float
    let store: ParameterStore
    /// One buffer per `kind.stateNames`, each `store.count` values.
    let state: [FloatBuffer]
    /// Updates applied so far (Adam's t).
    var step: Int = 0

    init(_ kind: OptimizerKind, weightDecay: Float, store: ParameterStore) {
        self.kind = kind
        self.weightDecay = weightDecay
        self.store = store
        state = kind.stateNames.map { _ in FloatBuffer(count: store.count) }
    }

    /// Applies one update from the gradients in the store.
    func update() {
        step += 1
        let w = store.values, g = store.gradients
        if weightDecay != 0 {
            let l = weightDecay
            for e in store.entries where e.decays {
                for i in e.offset..<(e.offset + e.count) { g[i] += l * w[i] }
            }
        }
        let n = store.count
        // Elementwise, so the halves give the same bits as one pass; small stores (such as
        // the MLP's 89k parameters) stay on one core, where the fork/join would cost more.
        let split = n >= Optimizer.splitThreshold
        switch kind {
        case .sgd(let lr, let momentum):
            if momentum == 0 {
                Parallel.forEachSlice(split) { slice in
                    for i in Parallel.range(slice, of: n, split: split) { w[i] -= lr * g[i] }
                }
            } else {
                let v = state[0].pointer
                Parallel.forEachSlice(split) { slice in
                    for i in Parallel.range(slice, of: n, split: split) {
                        v[i] = momentum * v[i] - lr * g[i]
                        w[i] += v[i]
                    }
                }
            }
        case .adam(let lr, let b1, let b2, let eps):
            let alpha = Float(Double(lr) * (1 - integerPower(Double(b2), step)).squareRoot() / (1 - integerPower(Double(b1), step)))
            let m = state[0].pointer, v = state[1].pointer
            let c1 = 1 - b1, c2 = 1 - b2
            Parallel.forEachSlice(split) { slice in
                for i in Parallel.range(slice, of: n, split: split) {
                    let gi = g[i]
                    m[i] = b1 * m[i] + c1 * gi
                    v[i] = b2 * v[i] + c2 * gi * gi
                    w[i] -= alpha * m[i] / (v[i].squareRoot() + eps)
                }
            }
        }
    }

    /// Parameters from which an update runs on both cores.
    static let splitThreshold = 1 << 17
}

/// x^y for the bias corrections, from exp/log-free repeated squaring so that results are the
/// same on every platform (integer exponent t).
func integerPower(_ base: Double, _ exponent: Int) -> Double {
    var result = 1.0, b = base
    var e = exponent
    while e > 0 {
        if e & 1 == 1 { result *= b }
        b *= b
        e >>= 1
    }
    return result
}
