import BNCGraph
import BNCKernels

/// Runs an inference graph on batches of Float inputs.
///
/// `init` compiles the graph once into a plan: shapes inferred from the graph input (its
/// dim 0 is the batch), constants copied, BN turned into a per-channel affine (computed in
/// Double, rounded once to Float), activations fused into the op before them (and a 2×2
/// max-pool into the Conv before it), every buffer placed in one arena sized for
/// `batchCapacity` samples (buffers whose values are dead are reused) or, when it lives
/// only inside a convolutional segment, in a per-core area for one block of samples (see
/// `runChunk`). `run` then executes batches without allocating; batches larger than the
/// capacity run in chunks. BatchNormalization always uses the moving statistics, and every
/// op works per sample, so one image at a time gives the same outputs as a whole batch.
///
/// All math comes from BNCKernels (GEMM through OpenBLAS, Conv2D, BatchNorm.affine,
/// activations, MaxPool2D, Softmax, Elementwise).
///
/// Not thread-safe: one executor per thread.
public final class Executor {
    /// The graph's runtime input and its shape per sample (without the batch dim).
    public let inputName: String
    public let inputShape: [Int]
    /// The graph's first output and its shape per sample (without the batch dim).
    public let outputName: String
    public let outputShape: [Int]
    /// Every graph output (the first is `outputName`) and their per-sample shapes.
    public let outputNames: [String]
    public let outputShapes: [[Int]]
    /// Floats per sample of input and output.
    public let inputCount: Int
    public let outputCount: Int
    /// Largest batch one pass of the plan runs; `run` splits larger batches. 1 when the
    /// graph only runs with batch 1 (e.g. a Reshape to a literal [1, …]).
    public let batchCapacity: Int
    /// Number of kernel steps after fusion (for reports).
    public var stepCount: Int { steps.count }

    private let steps: [Step]
    let stages: [Stage]
    private let arena: UnsafeMutablePointer<Float>
    private let arenaCount: Int
    private let constants: UnsafeMutablePointer<Float>
    private let scratch: UnsafeMutablePointer<Float>
    /// Floats of `scratch` a core uses when kernels run inside a slice.
    private let scratchPerSlice: Int
    /// Block-local values, `localPerSlice` floats per core.
    private let local: UnsafeMutablePointer<Float>
    private let localPerSlice: Int
    private let outputs: [Slot]
    /// Whether chunks may be split into per-core sample ranges (no Conv step).
    private let splittable: Bool
    let outputCounts: [Int]

    /// Default for `maxBatch`.
    public static let defaultMaxBatch = 1024
    /// Default for `memoryBudget`: 256 MiB of activations.
    public static let defaultMemoryBudget = 256 << 20

    /// Default for `memoryLimit`: 2 GiB of activations and scratch.
    public static let defaultMemoryLimit = 2 << 30

    /// Compiles `graph`. The capacity is `maxBatch`, lowered so the arena stays within
    /// `memoryBudget` bytes (never below 1). Throws `.unsupportedModel` (naming the node)
    /// for anything bnc cannot run, and when one sample alone needs more than `memoryLimit`
    /// bytes of activations and scratch: sizes come from the file, so they are checked
    /// before anything is allocated (an 85-byte model can declare a 2³¹-float input).
    public init(
        graph: Graph, maxBatch: Int = Executor.defaultMaxBatch, memoryBudget: Int = Executor.defaultMemoryBudget,
        memoryLimit: Int = Executor.defaultMemoryLimit
    ) throws(ModelError) {
        precondition(maxBatch >= 1, "maxBatch must be at least 1")
        var b = try PlanBuilder(graph: graph)
        let perSample = b.perSampleBytesEstimate()
        if perSample > memoryLimit {
            let largest = b.largestValue()
            throw ModelError(.unsupportedModel, place: largest.place,
                             problem: "shape \(largest.shape) alone takes \(Executor.byteText(largest.bytes)); one sample needs \(Executor.byteText(perSample)) in all, more than the executor's memory limit of \(Executor.byteText(memoryLimit))")
        }
        let capacity = b.polymorphic ? max(1, min(maxBatch, memoryBudget / max(1, perSample))) : 1
        let built = try b.build(capacity: capacity, memoryLimit: memoryLimit)
        let localCount = built.localCountPerSlice * Parallel.ways
        let (partial, overflow1) = built.arenaCount.addingReportingOverflow(built.scratchCount)
        let (total, overflow2) = partial.addingReportingOverflow(localCount)
        let overflow = overflow1 || overflow2
        if overflow || total > memoryLimit / MemoryLayout<Float>.size {
            throw ModelError(.unsupportedModel, place: "graph",
                             problem: "the plan needs \(overflow ? "more than \(Int.max)" : "\(total)") floats of activations and scratch, more than the executor's memory limit of \(Executor.byteText(memoryLimit))")
        }
        inputName = b.inputName
        inputShape = b.inputPerSample
        outputNames = graph.outputs.map(\.name)
        outputShapes = built.outputShapes
        outputName = outputNames[0]
        outputShape = built.outputShapes[0]
        inputCount = inputShape.reduce(1, *)
        outputCount = outputShape.reduce(1, *)
        outputCounts = built.outputShapes.map { $0.reduce(1, *) }
        batchCapacity = capacity
        steps = built.steps
        stages = built.stages
        arenaCount = built.arenaCount
        outputs = built.outputs
        splittable = built.runsAsIndependentSlices
        arena = .allocate(capacity: max(1, built.arenaCount))
        arena.initialize(repeating: 0, count: max(1, built.arenaCount))
        let c = UnsafeMutablePointer<Float>.allocate(capacity: max(1, built.constants.count))
        c.initialize(repeating: 0, count: max(1, built.constants.count))
        for (i, v) in built.constants.enumerated() { c[i] = v }
        constants = c
        scratch = .allocate(capacity: max(1, built.scratchCount))
        scratch.initialize(repeating: 0, count: max(1, built.scratchCount))
        scratchPerSlice = built.scratchCount / Parallel.ways
        localPerSlice = built.localCountPerSlice
        local = .allocate(capacity: max(1, localCount))
        local.initialize(repeating: 0, count: max(1, localCount))
    }

    /// "8 GiB", "3.5 MiB", "512 bytes": sizes in error messages.
    static func byteText(_ bytes: Int) -> String {
        if bytes == Int.max { return "more than 8 EiB" }
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var v = Double(bytes), u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        if u == 0 { return "\(bytes) bytes" }
        let tenths = Int((v * 10).rounded())
        return tenths % 10 == 0 ? "\(tenths / 10) \(units[u])" : "\(tenths / 10).\(tenths % 10) \(units[u])"
    }

    deinit {
        arena.deallocate()
        constants.deallocate()
        scratch.deallocate()
        local.deallocate()
    }

    /// Runs `batch` samples: `input` holds batch × `inputCount` floats (row-major, sample
    /// after sample), `output` receives batch × `outputCount` floats.
    public func run(_ input: UnsafeBufferPointer<Float>, batch: Int, output out: UnsafeMutableBufferPointer<Float>) {
        precondition(batch >= 0 && input.count >= batch * inputCount, "Executor.run: \(input.count) input floats for batch \(batch) × \(inputCount)")
        precondition(out.count >= batch * outputCount, "Executor.run: \(out.count) output floats for batch \(batch) × \(outputCount)")
        guard batch > 0, let inBase = input.baseAddress, let outBase = out.baseAddress else { return }
        var done = 0
        while done < batch {
            let n = min(batchCapacity, batch - done)
            runChunk(inBase + done * inputCount, n: n)
            let src = pointer(outputs[0], inBase + done * inputCount)
            (outBase + done * outputCount).update(from: src, count: n * outputCount)
            done += n
        }
    }

    /// Convenience: runs `input.count / inputCount` samples and returns their outputs.
    public func run(_ input: [Float]) -> [Float] {
        precondition(inputCount > 0 && input.count % inputCount == 0, "Executor.run: \(input.count) floats is not a whole number of \(inputCount)-float samples")
        let batch = input.count / inputCount
        var result = [Float](repeating: 0, count: batch * outputCount)
        input.withUnsafeBufferPointer { i in
            result.withUnsafeMutableBufferPointer { o in run(i, batch: batch, output: o) }
        }
        return result
    }

    /// Runs `input.count / inputCount` samples and returns every graph output, each
    /// batch × its per-sample count floats, in graph order.
    public func runAll(_ input: [Float]) -> [[Float]] {
        precondition(inputCount > 0 && input.count % inputCount == 0, "Executor.runAll: \(input.count) floats is not a whole number of \(inputCount)-float samples")
        let batch = input.count / inputCount
        var results = outputCounts.map { [Float](repeating: 0, count: batch * $0) }
        input.withUnsafeBufferPointer { buffer in
            guard let inBase = buffer.baseAddress else { return }
            var done = 0
            while done < batch {
                let n = min(batchCapacity, batch - done)
                let chunk = inBase + done * inputCount
                runChunk(chunk, n: n)
                for (o, slot) in outputs.enumerated() {
                    let src = pointer(slot, chunk), k = outputCounts[o]
                    results[o].withUnsafeMutableBufferPointer { dst in
                        (dst.baseAddress! + done * k).update(from: src, count: n * k)
                    }
                }
                done += n
            }
        }
        return results
    }

    @inline(__always)
    private func pointer(_ s: Slot, _ input: UnsafePointer<Float>, _ first: Int = 0) -> UnsafeMutablePointer<Float> {
        precondition(s.storage != .local, "block-local values exist only inside a segment")
        return (s.storage == .input ? UnsafeMutablePointer(mutating: input) : arena + s.offset) + first * s.perSample
    }

    @inline(__always)
    private func pointer(_ s: Slot, _ frame: Frame, _ first: Int) -> UnsafeMutablePointer<Float> {
        switch s.storage {
        case .input: return UnsafeMutablePointer(mutating: frame.input) + first * s.perSample
        case .arena: return arena + s.offset + first * s.perSample
        case .local: return frame.local + s.offset + (first - frame.blockFirst) * s.perSample
        }
    }

    /// Smallest chunk split over the cores (below, one thread runs it).
    static let splitThreshold = 64

    /// Runs the plan on `n` samples, on both cores when `n` is large enough.
    ///
    /// Plans whose kernels never split themselves (no Conv, MaxPool or spatial BN) run as
    /// `Parallel.ways` independent sample ranges, one per core, every step serial: one
    /// fork/join per chunk instead of one per kernel. Otherwise the plan runs stage by
    /// stage (`Stage`): a GEMM (which splits itself) or a step split by sample range runs
    /// on the whole chunk; a segment of convolutional steps gives each core half the
    /// samples, which it runs a small block at a time through all the segment's steps,
    /// every kernel on its own thread, so the activations between steps stay in cache.
    /// Every step works per sample, so ranges and blocks write disjoint memory and results
    /// do not depend on the split.
    private func runChunk(_ input: UnsafePointer<Float>, n: Int) {
        let split = n >= Executor.splitThreshold && Parallel.isEnabled
        let box = SendableExecutorBox(executor: self, input: input)
        if split && splittable {
            Parallel.forEachSlice { slice in
                let r = Parallel.range(slice, of: n)
                if r.isEmpty { return }
                let frame = box.executor.frame(box.input, slice: slice, blockFirst: r.lowerBound, serial: true)
                for step in box.executor.steps {
                    box.executor.run(step, frame, first: r.lowerBound, n: r.count, serial: true)
                }
            }
            return
        }
        for stage in stages {
            switch stage {
            case .blocks(let range, let blockSize):
                if split {
                    Parallel.forEachSlice { slice in
                        box.executor.runBlocks(range, blockSize: blockSize, box.input,
                                               samples: Parallel.range(slice, of: n), slice: slice, serial: true)
                    }
                } else {
                    runBlocks(range, blockSize: blockSize, input, samples: 0..<n, slice: 0, serial: false)
                }
            case .step(let i):
                let step = steps[i]
                let whole = frame(input, slice: 0, blockFirst: 0, serial: false)
                if step.splitsItself {
                    run(step, whole, first: 0, n: n, serial: false)
                } else if split {
                    Parallel.forEachSlice { slice in
                        let r = Parallel.range(slice, of: n)
                        if r.isEmpty { return }
                        let frame = box.executor.frame(box.input, slice: slice, blockFirst: r.lowerBound, serial: true)
                        box.executor.run(step, frame, first: r.lowerBound, n: r.count, serial: true)
                    }
                } else {
                    run(step, whole, first: 0, n: n, serial: true)
                }
            }
        }
    }

    /// Steps `range` on `samples`, `blockSize` samples at a time through all the steps.
    /// `serial` (inside a slice): every kernel on this thread, with core `slice`'s scratch.
    private func runBlocks(
        _ range: Range<Int>, blockSize: Int, _ input: UnsafePointer<Float>, samples: Range<Int>, slice: Int, serial: Bool
    ) {
        var first = samples.lowerBound
        while first < samples.upperBound {
            let n = min(blockSize, samples.upperBound - first)
            let frame = frame(input, slice: slice, blockFirst: first, serial: serial)
            for i in range { run(steps[i], frame, first: first, n: n, serial: serial) }
            first += n
        }
    }

    /// Where one kernel call finds the input, block-local values and scratch.
    private struct Frame {
        var input: UnsafePointer<Float>
        /// Core's block-local area; its sample 0 is `blockFirst`.
        var local: UnsafeMutablePointer<Float>
        var blockFirst: Int
        var scratch: UnsafeMutablePointer<Float>
    }

    private func frame(_ input: UnsafePointer<Float>, slice: Int, blockFirst: Int, serial: Bool) -> Frame {
        Frame(input: input, local: local + slice * localPerSlice, blockFirst: blockFirst,
              scratch: serial ? scratch + slice * scratchPerSlice : scratch)
    }

    /// One step on samples first..<first + n; `serial` keeps every kernel on the calling
    /// thread (GEMM, Conv, MaxPool and BN otherwise split themselves over the cores).
    private func run(_ step: Step, _ frame: Frame, first f: Int, n: Int, serial: Bool) {
        do {
            switch step {
            case .gemm(let g):
                let a = pointer(g.a, frame, f), y = pointer(g.y, frame, f)
                let rows = n * g.rowsPerSample
                if rows == 1 {
                    GEMM.multiplyRow(transB: g.transB, n: g.n, k: g.k, alpha: g.alpha, x: a, b: constants + g.weight, y: y,
                                     parallel: !serial)
                } else if serial {
                    GEMM.multiplySerial(transB: g.transB, m: rows, n: g.n, k: g.k, alpha: g.alpha, a: a, lda: g.k,
                                        b: constants + g.weight, ldb: g.transB ? g.k : g.n, beta: 0, c: y, ldc: g.n)
                } else {
                    GEMM.multiply(transB: g.transB, m: rows, n: g.n, k: g.k, alpha: g.alpha, a: a, lda: g.k,
                                  b: constants + g.weight, ldb: g.transB ? g.k : g.n, beta: 0, c: y, ldc: g.n)
                }
                Elementwise.addRowBias(y, rows: rows, columns: g.n, bias: g.bias.map { UnsafePointer(constants + $0) }, activation: g.activation)
            case .conv(let c):
                let x = pointer(c.x, frame, f), y = pointer(c.y, frame, f)
                Conv2D.forward(c.geometry, batch: n * c.samplesPerSample, input: x, weight: constants + c.weight,
                               bias: c.bias.map { UnsafePointer(constants + $0) }, activation: c.activation, pool: c.pool,
                               output: y, scratch: frame.scratch, parallel: !serial)
            case .batchNorm(let b):
                BatchNorm.affine(pointer(b.x, frame, f), batch: n * b.outerPerSample, channels: b.channels, spatial: b.spatial,
                                 a: constants + b.a, b: constants + b.b, activation: b.activation, into: pointer(b.y, frame, f),
                                 parallel: !serial)
            case .activation(let x, let y, let act, let count):
                act.forward(pointer(x, frame, f), pointer(y, frame, f), count: n * count)
            case .axisBias(let a):
                let x = pointer(a.x, frame, f), y = pointer(a.y, frame, f)
                if x != y { y.update(from: x, count: n * a.outerPerSample * a.channels * a.inner) }
                if a.inner == 1 {
                    Elementwise.addRowBias(y, rows: n * a.outerPerSample, columns: a.channels, bias: constants + a.bias, activation: a.activation)
                } else {
                    Elementwise.addChannelBias(y, batch: n * a.outerPerSample, channels: a.channels, spatial: a.inner,
                                               bias: constants + a.bias, activation: a.activation)
                }
            case .addSame(let a, let b, let y, let count, let act):
                let pa = pointer(a, frame, f), pb = pointer(b, frame, f), py = pointer(y, frame, f)
                act.map(count: n * count, into: py) { pa[$0] + pb[$0] }
            case .addGeneral(let g):
                let pa = pointer(g.a, frame, f), pb = pointer(g.b, frame, f), py = pointer(g.y, frame, f)
                for i in 0..<n {
                    let sa = g.aBatched ? pa + i * g.aCount : (g.aConstant.map { constants + $0 } ?? pa)
                    let sb = g.bBatched ? pb + i * g.bCount : (g.bConstant.map { constants + $0 } ?? pb)
                    Elementwise.broadcastAdd(sa, shape: g.aShape, sb, shape: g.bShape, into: py + i * g.yCount, shape: g.yShape)
                }
                if g.activation != .identity { g.activation.forward(py, py, count: n * g.yCount) }
            case .maxPool(let x, let y, let geometry, let planesPerSample):
                MaxPool2D.forward(geometry, batch: n * planesPerSample, input: pointer(x, frame, f), output: pointer(y, frame, f),
                                  argmax: nil, parallel: !serial)
            case .softmax(let x, let y, let outer, let length, let inner):
                Softmax.forward(pointer(x, frame, f), outer: n * outer, length: length, inner: inner, into: pointer(y, frame, f))
            }
        }
    }
}

/// Where a value lives: the caller's input buffer, an arena offset or a block-local offset (floats), and its
/// floats per sample (sample i starts at offset + i·perSample).
struct Slot: Equatable {
    enum Storage: Equatable {
        /// The caller's input buffer.
        case input
        /// The arena: sample i at offset + i·perSample.
        case arena
        /// The running core's block-local area: sample i of a block at offset + i·perSample.
        case local
    }
    var storage: Storage
    var offset: Int
    var perSample: Int
}

/// How `Executor.runChunk` walks the steps of a chunk.
enum Stage: Equatable {
    /// One step over the whole chunk.
    case step(Int)
    /// Steps run depth-first: each core takes its share of the chunk's samples and runs
    /// them `blockSize` at a time through all the steps, every kernel on its own thread.
    case blocks(Range<Int>, blockSize: Int)

    var firstStep: Int {
        switch self {
        case .step(let i): return i
        case .blocks(let r, _): return r.lowerBound
        }
    }
}

/// One kernel call of the plan; sizes per sample, scaled by the run's batch.
enum Step {
    struct Gemm {
        var a: Slot, y: Slot
        /// Rows of A per sample (1 for Gemm; Π leading dims for MatMul).
        var rowsPerSample: Int
        var n: Int, k: Int
        var transB: Bool
        var alpha: Float
        /// Offsets into the constants: weight (K, N) or (N, K) with transB, bias (N).
        var weight: Int
        var bias: Int?
        var activation: Activation
    }
    struct Conv {
        var x: Slot, y: Slot
        var geometry: BNCKernels.ConvGeometry
        /// Kernel samples per batch sample (dim 0 at batch 1; normally 1).
        var samplesPerSample: Int
        var weight: Int, bias: Int?
        var activation: Activation
        /// A 2×2 max-pool applied to the output before it is stored (`Conv2D.forward`).
        var pool: BNCKernels.PoolGeometry?
    }
    struct BatchNorm {
        var x: Slot, y: Slot
        var outerPerSample: Int, channels: Int, spatial: Int
        /// Offsets of a (C) and b (C): y = act(x·a + b).
        var a: Int, b: Int
        var activation: Activation
    }
    /// y = act(x + bias) with bias (C) along one axis: x (outer, C, inner).
    struct AxisBias {
        var x: Slot, y: Slot
        var outerPerSample: Int, channels: Int, inner: Int
        var bias: Int
        var activation: Activation
    }
    /// Per-sample numpy broadcasting.
    struct AddGeneral {
        var a: Slot, b: Slot, y: Slot
        var aBatched: Bool, bBatched: Bool
        var aConstant: Int?, bConstant: Int?
        var aShape: [Int], bShape: [Int], yShape: [Int]
        var aCount: Int, bCount: Int, yCount: Int
        var activation: Activation
    }

    case gemm(Gemm)
    case conv(Conv)
    case batchNorm(BatchNorm)
    case activation(Slot, Slot, Activation, Int)
    case axisBias(AxisBias)
    case addSame(Slot, Slot, Slot, Int, Activation)
    case addGeneral(AddGeneral)
    case maxPool(Slot, Slot, BNCKernels.PoolGeometry, Int)
    case softmax(Slot, Slot, Int, Int, Int)

    /// Whether the kernel splits its work over the cores itself (it must then not run
    /// inside a `Parallel` slice): Conv2D, GEMM (unless called serial), MaxPool2D and
    /// BatchNorm.affine on spatial data.
    var splitsItself: Bool {
        switch self {
        case .conv, .gemm, .maxPool: return true
        case .batchNorm(let b): return b.spatial > 1
        default: return false
        }
    }

    var isGemm: Bool {
        if case .gemm = self { return true }
        return false
    }
}

/// Hands the executor and the input pointer to the per-core sample ranges, which touch
/// disjoint samples of every buffer.
private struct SendableExecutorBox: @unchecked Sendable {
    let executor: Executor
    let input: UnsafePointer<Float>
}
