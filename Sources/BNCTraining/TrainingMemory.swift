import BNCKernels

/// The memory a network needs for training (or for the forward passes of calibration),
/// found from its layer specs before anything is allocated, so that a size from a flag
/// (`--batch-size`, an `--arch` width) is refused with figures instead of ending in a failed
/// allocation.
///
/// The figures follow what the layers reserve (`Layer.reserve(batch:)`), per example of a
/// batch, in floats (4 bytes; int32 argmax and label buffers count as one):
///
///     dense, conv   output + input gradient                      out + in
///     max pool      output + argmax + input gradient             2·out + in
///     BN            x̂ + output + input gradient                  3·count
///     activation    output (none when fused into the BN before)  count
///     dropout       output + mask                                2·count
///     trainer       input batch, output gradient, probabilities, labels/targets/classes
///
/// and, for a convolution on oneDNN, its workspaces' bound (`DNNLTrainingConvolution.workspaceBound`:
/// x, dx, y, dy blocked by up to 16 channels, 2·(⌈C⌉₁₆·in + ⌈M⌉₁₆·out) per example, and
/// reordered weights and scratchpads once per thread);
/// plus, once: parameters and their gradients, the optimizer's state (one slot per
/// parameter for SGD with momentum, two for Adam), each convolution's scratch, and 11 floats
/// per BN channel (moving and batch statistics, 1/σ, the folded a and b, two gradient
/// scratches, ones and zeros). Overflowing products saturate
/// at `Int.max`, which no machine has. `TrainingMemoryTests` checks the estimate against the
/// bytes the layers really allocate.
public struct TrainingMemory: Equatable, Sendable {
    /// Trainable parameters.
    public var parameters: Int
    /// Bytes that do not grow with the batch.
    public var fixedBytes: Int
    /// Bytes per example in a batch.
    public var bytesPerExample: Int

    /// Total bytes for batches of `batch` examples (saturating).
    public func bytes(batch: Int) -> Int {
        TrainingMemory.add(fixedBytes, TrainingMemory.multiply(bytesPerExample, batch))
    }

    /// The estimate for `layers` on per-example inputs of `inputShape` ((K) or (C, H, W)),
    /// with `optimizerSlots` state values per parameter. Throws the errors building the
    /// `Network` would (a convolution larger than its input, a dense layer on images …).
    /// `oneDNN`: whether convolutions will run on oneDNN (their workspaces' bound then counts).
    public static func estimate(inputShape: [Int], layers: [LayerSpec], optimizerSlots: Int,
                                oneDNN: Bool = DNNL.isAvailable) throws(TrainingError) -> TrainingMemory {
        var shape = inputShape
        var parameters = 0, fixed = 0, perExample = 0
        var afterBatchNorm = false
        for (i, spec) in layers.enumerated() {
            let place = "--arch layer \(i + 1)"
            let count = shape.reduce(1) { multiply($0, $1) }
            var isBatchNorm = false
            switch spec {
            case .dense(let units, let bias):
                guard shape.count == 1 else {
                    throw TrainingError(place: place, problem: "dense needs flat input, got \(shape); put flat before it")
                }
                parameters = add(parameters, add(multiply(units, count), bias ? units : 0))
                perExample = add(perExample, add(units, count))
                shape = [units]
            case .conv(let c):
                guard shape.count == 3 else {
                    throw TrainingError(place: place, problem: "convolution needs (C, H, W) input, got \(shape)")
                }
                let g: ConvGeometry
                do {
                    g = try ConvLayer.geometry(input: shape, spec: c)
                } catch { throw TrainingError(place: place, problem: error.description) }
                let out = multiply(c.filters, multiply(g.outHeight, g.outWidth))
                parameters = add(parameters, add(multiply(c.filters, multiply(shape[0] / c.groups, multiply(c.kernel.h, c.kernel.w))),
                                                 c.bias ? c.filters : 0))
                fixed = add(fixed, max(g.forwardScratchCount, g.backwardScratchCount))
                perExample = add(perExample, add(out, count))
                if oneDNN {
                    let w = DNNLTrainingConvolution.workspaceBound(g)
                    fixed = add(fixed, w.fixed)
                    perExample = add(perExample, w.perImage)
                }
                shape = [c.filters, g.outHeight, g.outWidth]
            case .maxPool(let p):
                guard shape.count == 3 else {
                    throw TrainingError(place: place, problem: "max pooling needs (C, H, W) input, got \(shape)")
                }
                let g: PoolGeometry
                do {
                    g = try PoolLayer.geometry(input: shape, spec: p)
                } catch { throw TrainingError(place: place, problem: error.description) }
                let out = multiply(shape[0], multiply(g.outHeight, g.outWidth))
                perExample = add(perExample, add(multiply(2, out), count))
                shape = [shape[0], g.outHeight, g.outWidth]
            case .flatten:
                shape = [count]
            case .dropout:
                perExample = add(perExample, multiply(2, count))
            case .activation:
                if !afterBatchNorm { perExample = add(perExample, count) }
            case .batchNorm:
                let channels = shape[0]
                parameters = add(parameters, multiply(2, channels))
                fixed = add(fixed, multiply(11, channels))
                perExample = add(perExample, multiply(3, count))
                isBatchNorm = true
            }
            afterBatchNorm = isBatchNorm
        }
        let inputs = inputShape.reduce(1) { multiply($0, $1) }
        let outputs = shape.reduce(1) { multiply($0, $1) }
        perExample = add(perExample, add(inputs, add(multiply(2, outputs), 3)))
        fixed = add(fixed, multiply(parameters, 2 + optimizerSlots))
        return TrainingMemory(parameters: parameters, fixedBytes: multiply(fixed, 4), bytesPerExample: multiply(perExample, 4))
    }

    /// a·b, or Int.max when it overflows.
    public static func multiply(_ a: Int, _ b: Int) -> Int {
        let (p, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow || p < 0 ? Int.max : p
    }

    /// a + b, or Int.max when it overflows.
    public static func add(_ a: Int, _ b: Int) -> Int {
        let (s, overflow) = a.addingReportingOverflow(b)
        return overflow ? Int.max : s
    }
}

extension OptimizerKind {
    /// State values per parameter (momentum velocity; Adam's m and v).
    public var stateSlots: Int { stateNames.count }
}
