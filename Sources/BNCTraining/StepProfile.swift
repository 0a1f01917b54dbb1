import BNCKernels

/// One matrix product of a training step, as bnc issues it: row-major
/// C (m, n) = op(A) (m, k) · op(B) (k, n), `count` times per step.
public struct MatrixProduct: Hashable, Sendable {
    public var m: Int, n: Int, k: Int
    public var transA: Bool, transB: Bool
    public var count: Int

    /// Floating-point operations of all `count` products (2·m·n·k each).
    public var flops: Double { 2 * Double(m) * Double(n) * Double(k) * Double(count) }
}

/// Where the time of a training step goes, layer by layer (for `tools/bench/run`).
public struct StepProfile: Sendable {
    public struct Layer: Sendable {
        /// e.g. "dense 784→100", "conv 1×28×28→32×28×28", "bn+relu 100".
        public var name: String
        /// Mean seconds per step in forward and in backward.
        public var forwardSeconds: Double, backwardSeconds: Double
        /// The layer's matrix products per step (forward, weight gradient, input gradient).
        public var products: [MatrixProduct]

        public var seconds: Double { forwardSeconds + backwardSeconds }
        public var flops: Double { products.reduce(0) { $0 + $1.flops } }
    }

    public var batch: Int
    public var steps: Int
    public var layers: [Layer]
    /// Mean seconds per step copying the batch in, in the loss, and in the optimizer update.
    public var dataSeconds: Double, lossSeconds: Double, optimizerSeconds: Double
    /// Mean seconds per whole step (the sum of the parts above).
    public var stepSeconds: Double {
        layers.reduce(0) { $0 + $1.seconds } + dataSeconds + lossSeconds + optimizerSeconds
    }
}

extension Trainer {
    /// Runs `steps` training steps of the trainer's batch size on consecutive examples of
    /// `data` (after `warmup` untimed ones), timing each layer's forward and backward, the
    /// loss and the optimizer. The steps are real: they change the weights.
    ///
    /// The arithmetic is exactly `trainEpoch`'s; only clock reads are added between layers.
    public func profile(_ data: Examples, steps: Int, warmup: Int = 5) throws(TrainingError) -> StepProfile {
        precondition(steps >= 1 && warmup >= 0)
        let b = min(options.batchSize, data.count)
        guard b >= 2 else { throw TrainingError(place: "data", problem: "needs at least 2 examples to profile") }
        network.reserve(batch: b)
        let x = FloatBuffer(count: b * data.inputCount)
        let labels = Buffer<Int32>(count: b), values = FloatBuffer(count: b)
        let k = network.outputCount
        let probabilities = FloatBuffer(count: b * k), dOutput = FloatBuffer(count: b * k)
        let layers = network.layers
        var forward = [Double](repeating: 0, count: layers.count), backward = forward
        var dataTime = 0.0, lossTime = 0.0, optimizerTime = 0.0
        let clock = ContinuousClock()
        var start = 0
        for step in 0..<(warmup + steps) {
            let timed = step >= warmup
            if start + b > data.count { start = 0 }
            let indices = ArraySlice(start..<(start + b))
            start += b
            var t = clock.now
            func lap() -> Double {
                let now = clock.now
                defer { t = now }
                return timed ? (now - t).seconds : 0
            }
            data.copyInputs(indices, into: x.pointer)
            data.copyTargets(indices, labels: labels.pointer, values: values.pointer)
            dataTime += lap()
            var h = x.pointer
            for (i, layer) in layers.enumerated() {
                h = try layer.forward(h, batch: b, mode: .training)
                forward[i] += lap()
            }
            if network.isClassifier {
                _ = Loss.softmaxCrossEntropy(logits: h, labels: labels.pointer, rows: b, columns: k,
                                             probabilities: probabilities.pointer, gradient: dOutput.pointer,
                                             gradientScale: 1 / Float(b))
            } else {
                _ = Loss.squaredError(prediction: h, target: values.pointer, count: b * k, gradient: dOutput.pointer,
                                      gradientScale: 1 / Float(b * k))
            }
            lossTime += lap()
            var g: UnsafeMutablePointer<Float>? = dOutput.pointer
            for (i, layer) in layers.enumerated().reversed() {
                guard let dy = g else { break }
                g = layer.backward(dy, batch: b, needInputGradient: i > 0)
                backward[i] += lap()
            }
            optimizer.update()
            optimizerTime += lap()
        }
        let n = Double(steps)
        var profiled: [StepProfile.Layer] = []
        for (i, layer) in layers.enumerated() {
            profiled.append(StepProfile.Layer(
                name: Self.describe(layer), forwardSeconds: forward[i] / n, backwardSeconds: backward[i] / n,
                products: Self.products(of: layer, batch: b, first: i == 0)))
        }
        return StepProfile(batch: b, steps: steps, layers: profiled, dataSeconds: dataTime / n,
                           lossSeconds: lossTime / n, optimizerSeconds: optimizerTime / n)
    }

    static func describe(_ layer: any Layer) -> String {
        switch layer {
        case let d as DenseLayer:
            return "dense \(d.inputCount)→\(d.outputCount)"
        case let c as ConvLayer:
            let g = c.geometry
            return "conv \(g.inChannels)×\(g.height)×\(g.width)→\(g.outChannels)×\(g.outHeight)×\(g.outWidth)" + (c.direct != nil ? " onednn" : "")
        case let bn as BatchNormLayer:
            return (bn.activation == .identity ? "bn" : "bn+\(bn.activation.name)") + " \(bn.channels)"
        case is PoolLayer:
            return "maxpool \(layer.inputCount)→\(layer.outputCount)"
        case is FlattenLayer:
            return "flatten"
        case let a as ActivationLayer:
            return "\(a.activation.name) \(a.inputCount)"
        case is DropoutLayer:
            return "dropout \(layer.inputCount)"
        default:
            return "layer \(layer.inputCount)→\(layer.outputCount)"
        }
    }

    /// The products `Dense` and `Convolution` issue for one step of `batch` examples (see their
    /// forward and backward); the first layer computes no input gradient.
    static func products(of layer: any Layer, batch b: Int, first: Bool) -> [MatrixProduct] {
        switch layer {
        case let d as DenseLayer:
            let c = d.inputCount, k = d.outputCount
            var p = [
                MatrixProduct(m: b, n: k, k: c, transA: false, transB: true, count: 1),   // y = x·Wᵀ
                MatrixProduct(m: k, n: c, k: b, transA: true, transB: false, count: 1),   // dW = dyᵀ·x
            ]
            if !first { p.append(MatrixProduct(m: b, n: c, k: k, transA: false, transB: false, count: 1)) }  // dx = dy·W
            return p
        case let conv as ConvLayer:
            let g = conv.geometry
            let mg = g.outChannels / g.groups, kg = g.columnRows, s = g.outSpatial, count = b * g.groups
            var p = [
                MatrixProduct(m: mg, n: s, k: kg, transA: false, transB: false, count: count),  // y = W·col
                MatrixProduct(m: mg, n: kg, k: s, transA: false, transB: true, count: count),   // dW += dy·colᵀ
            ]
            if !first { p.append(MatrixProduct(m: kg, n: s, k: mg, transA: true, transB: false, count: count)) }  // dcol = Wᵀ·dy
            return p
        default:
            return []
        }
    }
}
