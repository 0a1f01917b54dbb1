import BNCData
import BNCKernels

extension SeededGenerator: GaussianSource {}

/// A sequential network being trained: layers built from specs, parameters in one store,
/// buffers sized for the largest batch seen.
///
/// BN followed by an activation runs as one fused kernel; the activation still appears in
/// `units` (and in the exported graph as its own node).
public final class Network {
    /// One spec layer with its export name ("dense1", "bn2", ...).
    public struct Unit: Sendable {
        public var name: String
        public var spec: LayerSpec
        /// Per-example input and output shapes ((K) or (C, H, W)).
        public var inputShape: [Int], outputShape: [Int]
    }

    /// Per-example input shape: (K) flat or (C, H, W).
    public let inputShape: [Int]
    public let units: [Unit]
    public let batchNorm: BatchNormSettings
    /// Per-example output count (classes, or 1 for regression).
    public let outputCount: Int
    /// Classification (softmax cross-entropy, exported with a Softmax) or regression (MSE).
    public let task: Task
    let store: ParameterStore
    /// Executable layers in order (activations after BN fused away, flatten kept as no-op).
    let layers: [Layer]
    /// The BN layers by unit name.
    let batchNormLayers: [(name: String, layer: BatchNormLayer)]
    /// Whether the network has a batch normalization layer.
    public var hasBatchNorm: Bool { !batchNormLayers.isEmpty }
    let dropoutRandom = RandomBox()
    /// Each activation with the index in `layers` of the layer that applies it (a BN with the
    /// activation fused, or an `ActivationLayer`), in order.
    let sites: [(layer: Int, site: ActivationSite)]
    /// Input of `probeActivationInputs` (N, input); empty until a probe runs.
    let probeInput = FloatBuffer(count: 0)
    private(set) var reservedBatch = 0

    /// Builds the network and initializes its weights from `seed` (weights drawn in layer
    /// order from one `SeededGenerator`; biases and β 0, γ 1, moving mean 0, variance 1).
    public init(
        inputShape: [Int], layers specs: [LayerSpec], batchNorm: BatchNormSettings = BatchNormSettings(),
        task: Task, initializer: WeightInitializer, seed: UInt64
    ) throws(TrainingError) {
        self.task = task
        guard inputShape.count == 1 || inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 }) else {
            throw TrainingError(place: "input", problem: "shape \(inputShape) must be (K) or (C, H, W) with positive sizes")
        }
        guard !specs.isEmpty else { throw TrainingError(place: "--arch", problem: "has no layers") }
        self.inputShape = inputShape
        self.batchNorm = batchNorm
        let store = ParameterStore()
        self.store = store
        var units: [Unit] = []
        var layers: [Layer] = []
        var bns: [(String, BatchNormLayer)] = []
        var sites: [(layer: Int, site: ActivationSite)] = []
        var counters: [String: Int] = [:]
        var shape = inputShape
        // (layer, fan in, fan out) of weights to initialize, in order.
        var weights: [(Int, Int, Int)] = []
        for (i, spec) in specs.enumerated() {
            let kind: String
            switch spec {
            case .dense: kind = "dense"
            case .conv: kind = "conv"
            case .maxPool: kind = "pool"
            case .flatten: kind = "flatten"
            case .dropout: kind = "dropout"
            case .activation(let a): kind = a.name
            case .batchNorm: kind = "bn"
            }
            counters[kind, default: 0] += 1
            let name = "\(kind)\(counters[kind]!)"
            let place = "--arch layer \(i + 1) (\(name))"
            let count = shape.reduce(1, *)
            let inShape = shape
            switch spec {
            case .dense(let units, let bias):
                guard shape.count == 1 else {
                    throw TrainingError(place: place, problem: "dense needs flat input, got \(shape); put flat before it")
                }
                let layer = DenseLayer(name: name, inputs: count, units: units, bias: bias, store: store)
                weights.append((layer.weight, count, units))
                layers.append(layer)
                shape = [units]
            case .conv(let c):
                guard shape.count == 3 else {
                    throw TrainingError(place: place, problem: "convolution needs (C, H, W) input, got \(shape)")
                }
                let pads: [Int]
                switch c.padding {
                case .valid: pads = [0, 0, 0, 0]
                case .explicit(let p): pads = p
                case .same:
                    func total(_ size: Int, _ k: Int, _ s: Int, _ d: Int) -> Int {
                        let out = (size + s - 1) / s
                        return max(0, (out - 1) * s + d * (k - 1) + 1 - size)
                    }
                    let th = total(shape[1], c.kernel.h, c.strides.h, c.dilations.h)
                    let tw = total(shape[2], c.kernel.w, c.strides.w, c.dilations.w)
                    pads = [th / 2, tw / 2, th - th / 2, tw - tw / 2]
                }
                let g: ConvGeometry
                do {
                    g = try ConvGeometry(
                        inChannels: shape[0], height: shape[1], width: shape[2], outChannels: c.filters,
                        kernelHeight: c.kernel.h, kernelWidth: c.kernel.w, strides: c.strides,
                        pads: (pads[0], pads[1], pads[2], pads[3]), dilations: c.dilations, groups: c.groups)
                } catch { throw TrainingError(place: place, problem: error.description) }
                let layer = ConvLayer(name: name, geometry: g, bias: c.bias, store: store)
                let k = c.kernel.h * c.kernel.w
                weights.append((layer.weight, shape[0] / c.groups * k, c.filters / c.groups * k))
                layers.append(layer)
                shape = [c.filters, g.outHeight, g.outWidth]
            case .maxPool(let p):
                guard shape.count == 3 else {
                    throw TrainingError(place: place, problem: "max pooling needs (C, H, W) input, got \(shape)")
                }
                let g: PoolGeometry
                do {
                    g = try PoolGeometry(
                        channels: shape[0], height: shape[1], width: shape[2], kernelHeight: p.kernel.h,
                        kernelWidth: p.kernel.w, strides: p.strides, pads: (p.pads[0], p.pads[1], p.pads[2], p.pads[3]))
                } catch { throw TrainingError(place: place, problem: error.description) }
                layers.append(PoolLayer(geometry: g))
                shape = [shape[0], g.outHeight, g.outWidth]
            case .flatten:
                layers.append(FlattenLayer(count: count))
                shape = [count]
            case .dropout(let rate):
                let layer = DropoutLayer(rate: rate, count: count)
                let box = dropoutRandom
                layer.uniform = { box.generator.nextUniformFloat() }
                layers.append(layer)
            case .activation(let a):
                if let bn = layers.last as? BatchNormLayer, bn.activation == .identity,
                   case .batchNorm = units.last?.spec {
                    bn.activation = a
                    sites.append((layers.count - 1, ActivationSite(
                        name: name, activation: a, source: bn.name, afterBatchNorm: true, shape: shape)))
                } else {
                    sites.append((layers.count, ActivationSite(
                        name: name, activation: a, source: units.last?.name ?? "input", afterBatchNorm: false, shape: shape)))
                    layers.append(ActivationLayer(a, count: count))
                }
            case .batchNorm(let center, let scale):
                let channels = shape.count == 3 ? shape[0] : shape[0]
                let spatial = shape.count == 3 ? shape[1] * shape[2] : 1
                let layer = BatchNormLayer(name: name, channels: channels, spatial: spatial, center: center,
                                           scale: scale, settings: batchNorm, store: store)
                layers.append(layer)
                bns.append((name, layer))
            }
            units.append(Unit(name: name, spec: spec, inputShape: inShape, outputShape: shape))
        }
        guard shape.count == 1 else {
            throw TrainingError(place: "--arch", problem: "must end with a dense layer (output shape is \(shape))")
        }
        self.units = units
        self.layers = layers
        self.batchNormLayers = bns
        self.sites = sites
        outputCount = shape[0]
        store.allocate()
        var rng = SeededGenerator(seed: seed)
        for (index, fanIn, fanOut) in weights {
            initializer.fill(store.pointer(index), count: store.entries[index].count, fanIn: fanIn, fanOut: fanOut, using: &rng)
        }
        for (_, bn) in bns { bn.initializeParameters() }
    }

    /// Number of trainable parameters.
    public var parameterCount: Int { store.count }

    /// Grows every buffer for batches of up to `batch` examples.
    public func reserve(batch: Int) {
        guard batch > reservedBatch else { return }
        for layer in layers { layer.reserve(batch: batch) }
        reservedBatch = batch
    }

    /// Runs the layers on x (N, input) and returns the output (N, outputCount), valid until the
    /// next call. Throws for a training batch BN cannot normalize (one value per channel).
    public func forward(_ x: UnsafeMutablePointer<Float>, batch: Int, mode: Mode) throws(TrainingError) -> UnsafeMutablePointer<Float> {
        precondition(batch <= reservedBatch, "batch \(batch) > reserved \(reservedBatch)")
        var h = x
        for layer in layers { h = try layer.forward(h, batch: batch, mode: mode) }
        return h
    }

    /// Backpropagates dOutput (N, outputCount) = ∂L/∂output through the last training forward,
    /// writing every parameter gradient. dOutput is overwritten.
    public func backward(_ dOutput: UnsafeMutablePointer<Float>, batch: Int) {
        var g: UnsafeMutablePointer<Float>? = dOutput
        for (i, layer) in layers.enumerated().reversed() {
            guard let dy = g else { break }
            g = layer.backward(dy, batch: batch, needInputGradient: i > 0)
        }
    }

    // MARK: Named tensors (export, checkpoints, calibration)

    /// Every tensor the inference graph needs, in unit order: weights, biases, BN scale/bias
    /// (ones/zeros when not learned) and moving mean/variance.
    public func namedTensors() -> [(name: String, dims: [Int], values: [Float])] {
        var out: [(String, [Int], [Float])] = []
        for unit in units {
            switch unit.spec {
            case .dense, .conv:
                for suffix in ["weight", "bias"] {
                    if let i = store.index(named: "\(unit.name).\(suffix)") {
                        out.append((store.entries[i].name, store.entries[i].dims, store.array(i)))
                    }
                }
            case .batchNorm:
                guard let bn = batchNormLayers.first(where: { $0.name == unit.name })?.layer else { continue }
                let c = bn.channels
                out.append(("\(unit.name).scale", [c], bn.scale.map { store.array($0) } ?? Array(repeating: 1, count: c)))
                out.append(("\(unit.name).bias", [c], bn.shift.map { store.array($0) } ?? Array(repeating: 0, count: c)))
                out.append(("\(unit.name).mean", [c], bn.runningMean.array(c)))
                out.append(("\(unit.name).var", [c], bn.runningVariance.array(c)))
            default: break
            }
        }
        return out
    }

    /// Replaces the tensor called `name` (a parameter or BN statistic, as in `namedTensors`).
    /// BN scale/bias that are not learned must be exactly ones/zeros.
    public func setTensor(_ name: String, _ values: [Float]) throws(TrainingError) {
        let place = "tensor '\(name)'"
        if let i = store.index(named: name) {
            guard values.count == store.entries[i].count else {
                throw TrainingError(place: place, problem: "has \(values.count) values, the network needs \(store.entries[i].count)")
            }
            values.withUnsafeBufferPointer { store.pointer(i).update(from: $0.baseAddress!, count: values.count) }
            for (_, bn) in batchNormLayers { bn.coefficientsStale = true }
            return
        }
        for (unitName, bn) in batchNormLayers {
            let target: FloatBuffer?
            switch name {
            case "\(unitName).mean": target = bn.runningMean
            case "\(unitName).var": target = bn.runningVariance
            case "\(unitName).scale", "\(unitName).bias":
                let fixed: Float = name.hasSuffix(".scale") ? 1 : 0
                guard values.count == bn.channels, values.allSatisfy({ $0 == fixed }) else {
                    throw TrainingError(place: place, problem: "this BN does not learn it, so it must be \(bn.channels) × \(fixed)")
                }
                return
            default: target = nil
            }
            if let target {
                guard values.count == bn.channels else {
                    throw TrainingError(place: place, problem: "has \(values.count) values, the network needs \(bn.channels)")
                }
                target.assign(values)
                bn.coefficientsStale = true
                return
            }
        }
        throw TrainingError(place: place, problem: "is not a tensor of this network")
    }
}

/// What the network's outputs mean.
public enum Task: String, Sendable {
    /// Logits of classes; trained with softmax cross-entropy, exported ending in Softmax.
    case classification
    /// Values; trained with mean squared error.
    case regression
}

/// The generator dropout layers draw from; the trainer reseeds it each epoch.
final class RandomBox {
    var generator = SeededGenerator(seed: 0)
}
