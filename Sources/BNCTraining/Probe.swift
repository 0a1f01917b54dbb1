import BNCKernels

/// Where a network applies an activation, and what feeds it.
///
/// BN followed by an activation runs fused (`BatchNormLayer`), so the values entering such an
/// activation are γ·x̂ + β, never stored by training; a dense or conv without BN feeds its
/// own output x·Wᵀ + b. Unit names come from the spec ("relu2", "dense2", "bn3"), so the
/// same activation has the same `name` in a network with BN and in its `--no-bn` twin.
public struct ActivationSite: Equatable, Sendable {
    /// The activation's unit name, e.g. "relu2".
    public var name: String
    public var activation: Activation
    /// The unit whose output enters the activation: a BN ("bn3", γ·x̂ + β) or a dense/conv
    /// ("dense2", x·Wᵀ + b), or whatever else precedes it ("input" when nothing does).
    public var source: String
    /// Whether `source` is a batch normalization.
    public var afterBatchNorm: Bool
    /// Per-example shape of the values: (K) features or (C, H, W) channels. A "unit" is a
    /// feature or a channel.
    public var shape: [Int]

    /// Units (features or channels): shape[0].
    public var units: Int { shape[0] }
    /// Values per unit per example: 1, or H·W after a convolution.
    public var spatial: Int { shape.dropFirst().reduce(1, *) }
}

/// Watches a training run step by step, for reports and plots.
///
/// The trainer calls it after every optimizer step, between steps, when the network's
/// buffers hold nothing the next step needs: the observer may run
/// `Network.probeActivationInputs` there. An observer must not change the network or the
/// trainer; with none attached (the default) training does nothing extra.
public protocol TrainingObserver: AnyObject {
    /// After optimizer step `step` (1-based, counted over the whole run) with the mean loss
    /// of its batch (cross-entropy, or squared error summed over outputs, per example).
    func trainer(_ trainer: Trainer, didFinishStep step: Int, batchLoss: Double) throws(TrainingError)
}

extension Network {
    /// Where the activations are, in order.
    public var activationSites: [ActivationSite] { sites.map(\.site) }

    /// Runs `data` through the network as a training step would see it, without changing
    /// anything training depends on, and hands `visit` the values entering each activation,
    /// (N, shape) row-major, valid during the call.
    ///
    /// BN normalizes with the statistics of this batch (all of `data`), as in training, but
    /// the moving statistics are left alone; dropout is off (no random draws). Layer buffers
    /// are reused as scratch (and grown to `data.count`), which is safe between training
    /// steps: every step's forward rewrites what its backward reads. The bits of a training
    /// run with probes equal those of one without.
    ///
    /// - Throws: `TrainingError` when the data does not fit the network, or has one example
    ///   for a network with BN.
    public func probeActivationInputs(
        _ data: Examples, visit: (ActivationSite, UnsafeBufferPointer<Float>) -> Void
    ) throws(TrainingError) {
        guard data.inputShape == inputShape else {
            throw TrainingError(place: "probe data", problem: "examples have shape \(data.inputShape), the network takes \(inputShape)")
        }
        let n = data.count
        guard n >= 1 else { throw TrainingError(place: "probe data", problem: "is empty") }
        reserve(batch: n)
        probeInput.reserve(n * inputShape.reduce(1, *))
        data.copyInputs(ArraySlice(0..<n), into: probeInput.pointer)
        var h = probeInput.pointer
        var next = 0
        for (i, layer) in layers.enumerated() {
            let isSite = next < sites.count && sites[next].layer == i
            if let bn = layer as? BatchNormLayer {
                h = try bn.probeForward(h, batch: n) { values in
                    if isSite { visit(sites[next].site, values) }
                }
            } else {
                if isSite { visit(sites[next].site, UnsafeBufferPointer(start: h, count: n * layer.inputCount)) }
                h = try layer.forward(h, batch: n, mode: .inference)
            }
            if isSite { next += 1 }
        }
    }
}
