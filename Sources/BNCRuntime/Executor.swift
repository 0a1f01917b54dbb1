import BNCGraph
import BNCKernels
import BNCOps

/// Runs an inference graph on batches of Float inputs.
///
/// `init` compiles the graph once into a plan: every value's facts from the operator
/// registry (shapes, element types, and the contents of everything known before the run,
/// shape arithmetic and constant subgraphs included), each runtime node lowered to kernel
/// steps by its operator, steps fused (activations, per-channel affines and a 2×2 max-pool
/// into the product before them), every buffer placed in one arena sized for
/// `batchCapacity` units (dead buffers reused) or, when it lives only inside a
/// convolutional segment, in a per-core area for one block of units (see `runChunk`).
/// `run` then executes batches without allocating; batches larger than the capacity run in
/// chunks.
///
/// A unit is one sample when the graph is batch-polymorphic (dim 0 of every runtime input
/// is the batch and every step works sample by sample), so one image at a time gives the
/// same outputs as a whole batch; otherwise a unit is the whole input as declared, run one
/// at a time. BatchNormalization always uses the stored statistics.
///
/// All math comes from BNCKernels. Not thread-safe: one executor per thread.
public final class Executor {
    /// The graph's runtime inputs and their shapes per unit without the batch dim.
    public let inputNames: [String]
    public let inputShapes: [[Int]]
    /// The first runtime input and its shape per sample (without the batch dim).
    public var inputName: String { inputNames[0] }
    public var inputShape: [Int] { inputShapes[0] }
    /// The graph's first output and its shape per sample (without the batch dim).
    public let outputName: String
    public let outputShape: [Int]
    /// Every graph output (the first is `outputName`) and their per-sample shapes.
    public let outputNames: [String]
    public let outputShapes: [[Int]]
    /// Floats per sample of the first input and the first output.
    public let inputCount: Int
    public let outputCount: Int
    /// Largest batch one pass of the plan runs; `run` splits larger batches. 1 when the
    /// graph only runs one unit at a time (e.g. a Reshape to a literal [1, …]).
    public let batchCapacity: Int
    /// Number of kernel steps after fusion (for reports).
    public var stepCount: Int { plan.steps.count }
    /// One line per step ("conv 3×3 1→32 +bias +relu"), for reports and tests.
    public var stepSummaries: [String] { plan.steps.map(\.summary) }
    /// Which library runs each step ("bnc", "bnc im2col", "onednn brgconv:avx512_core").
    public var stepKernels: [String] { plan.steps.map(\.kernel) }

    let plan: Plan
    var stages: [Stage] { plan.stages }
    /// Floats per unit of every input and output.
    let inputCounts: [Int]
    let outputCounts: [Int]
    private let slots: UnsafeMutablePointer<Slot>
    private let arena: UnsafeMutablePointer<Float>
    private let constants: UnsafeMutablePointer<Float>
    private let scratch: UnsafeMutablePointer<Float>
    private let local: UnsafeMutablePointer<Float>
    /// Per core: the storage bases of its frames (arena, constants, its local area, inputs).
    private let bases: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    private let basesPerSlice: Int

    /// Default for `maxBatch`.
    public static let defaultMaxBatch = 1024
    /// Default for `memoryBudget`: 256 MiB of activations.
    public static let defaultMemoryBudget = 256 << 20
    /// Default for `memoryLimit`: 2 GiB of activations and scratch.
    public static let defaultMemoryLimit = 2 << 30

    /// Compiles `graph` (operators at default-domain `opset`) for its one runtime input,
    /// whose dims after the batch dim must be fixed. The capacity is `maxBatch`, lowered so
    /// the arena stays within `memoryBudget` bytes (never below 1). Throws
    /// `.unsupportedModel` (naming the node) for anything bnc cannot run, and when one
    /// sample alone needs more than `memoryLimit` bytes of activations and scratch: sizes
    /// come from the file, so they are checked before anything is allocated from them.
    public convenience init(
        graph: Graph, opset: Int = Int(Model.opsetWritten), maxBatch: Int = Executor.defaultMaxBatch,
        memoryBudget: Int = Executor.defaultMemoryBudget, memoryLimit: Int = Executor.defaultMemoryLimit,
        options: PlanOptions = PlanOptions()
    ) throws(ModelError) {
        precondition(maxBatch >= 1, "maxBatch must be at least 1")
        let (name, perSample) = try ShapeInference.inputSignature(graph)
        let compiled = try Compilation(graph: graph, opset: opset, inputs: [name: PlanValue(shape: [1] + perSample)],
                                       inputNames: [name], memoryLimit: memoryLimit, options: options)
        for o in graph.outputs {
            if compiled.analysis.values[o.name]?.isConstant ?? false {
                throw ModelError(.unsupportedModel, place: "graph output '\(o.name)'", problem: "does not depend on the input '\(name)'")
            }
        }
        try self.init(compiled, maxBatch: maxBatch, memoryBudget: memoryBudget, memoryLimit: memoryLimit)
    }

    /// A plan from a compilation: capacity from the budget when the plan runs unit by unit.
    init(_ c: Compilation, maxBatch: Int, memoryBudget: Int, memoryLimit: Int) throws(ModelError) {
        var capacity = 1
        var plan = try c.builder.build(capacity: 1, memoryLimit: memoryLimit, batched: c.polymorphic)
        if c.polymorphic && maxBatch > 1 {
            // The budget bounds the arena as laid out (dead values' buffers reused), which one
            // unit's plan measures: capacity from it, lowered while the arena exceeds the budget.
            let budget = memoryBudget / MemoryLayout<Float>.size
            capacity = max(1, min(maxBatch, budget / max(1, plan.arenaCount)))
            while capacity > 1 {
                let p = try c.builder.build(capacity: capacity, memoryLimit: memoryLimit, batched: true)
                if p.arenaCount <= budget {
                    plan = p
                    break
                }
                capacity = max(1, min(capacity - 1, capacity * budget / max(1, p.arenaCount)))
            }
        }
        self.plan = plan
        batchCapacity = capacity
        inputNames = c.inputNames
        let unitShapes = c.inputNames.map { c.analysis.values[$0]?.shape ?? [] }
        inputCounts = unitShapes.map { Tensor.elementCount($0) }
        inputShapes = unitShapes.map { $0.first == 1 ? Array($0.dropFirst()) : $0 }
        outputNames = c.analysis.graph.outputs.map(\.name)
        var shapes: [[Int]] = [], counts: [Int] = []
        for o in plan.outputs {
            switch o {
            case .value(_, let s):
                shapes.append(s.first == 1 ? Array(s.dropFirst()) : s)
                counts.append(Tensor.elementCount(s))
            case .constant(let v):
                shapes.append(v.shape)
                counts.append(v.count)
            }
        }
        outputShapes = shapes
        outputCounts = counts
        outputName = outputNames[0]
        outputShape = shapes[0]
        inputCount = inputCounts.first ?? 0
        outputCount = counts[0]

        slots = .allocate(capacity: max(1, plan.slots.count))
        slots.initialize(from: plan.slots, count: plan.slots.count)
        arena = .allocate(capacity: max(1, plan.arenaCount))
        arena.initialize(repeating: 0, count: max(1, plan.arenaCount))
        let cp = UnsafeMutablePointer<Float>.allocate(capacity: max(1, plan.constants.count))
        cp.initialize(repeating: 0, count: max(1, plan.constants.count))
        for (i, v) in plan.constants.enumerated() { cp[i] = v }
        constants = cp
        scratch = .allocate(capacity: max(1, plan.scratchWhole))
        scratch.initialize(repeating: 0, count: max(1, plan.scratchWhole))
        local = .allocate(capacity: max(1, plan.localPerSlice * Parallel.ways))
        local.initialize(repeating: 0, count: max(1, plan.localPerSlice * Parallel.ways))
        basesPerSlice = Slot.firstInput + c.inputNames.count
        bases = .allocate(capacity: basesPerSlice * Parallel.ways)
        for slice in 0..<Parallel.ways {
            let b = bases + slice * basesPerSlice
            b.initialize(repeating: arena, count: basesPerSlice)
            b[Slot.constants] = cp
            b[Slot.local] = local + slice * plan.localPerSlice
        }
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
        slots.deallocate()
        arena.deallocate()
        constants.deallocate()
        scratch.deallocate()
        local.deallocate()
        bases.deallocate()
    }

    /// Runs `batch` samples of a one-input graph: `input` holds batch × `inputCount` floats
    /// (row-major, sample after sample), `output` receives batch × `outputCount` floats of
    /// the first output.
    public func run(_ input: UnsafeBufferPointer<Float>, batch: Int, output out: UnsafeMutableBufferPointer<Float>) {
        precondition(inputNames.count == 1, "Executor.run: the graph has \(inputNames.count) inputs")
        precondition(batch >= 0 && input.count >= batch * inputCount, "Executor.run: \(input.count) input floats for batch \(batch) × \(inputCount)")
        precondition(out.count >= batch * outputCount, "Executor.run: \(out.count) output floats for batch \(batch) × \(outputCount)")
        guard batch > 0, let inBase = input.baseAddress, let outBase = out.baseAddress else { return }
        run(inputs: [inBase], units: batch) { o, first, n, pointer in
            if o == 0 { (outBase + first * self.outputCount).update(from: pointer, count: n * self.outputCount) }
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
        precondition(inputNames.count == 1, "Executor.runAll: the graph has \(inputNames.count) inputs")
        precondition(inputCount > 0 && input.count % inputCount == 0, "Executor.runAll: \(input.count) floats is not a whole number of \(inputCount)-float samples")
        let batch = input.count / inputCount
        var results = outputCounts.map { [Float](repeating: 0, count: batch * $0) }
        input.withUnsafeBufferPointer { buffer in
            guard let inBase = buffer.baseAddress else { return }
            run(inputs: [inBase], units: batch) { o, first, n, pointer in
                let k = outputCounts[o]
                results[o].withUnsafeMutableBufferPointer { dst in
                    (dst.baseAddress! + first * k).update(from: pointer, count: n * k)
                }
            }
        }
        return results
    }

    /// Runs `units` units: `inputs[k]` holds units × `inputCounts[k]` floats of input k.
    /// After each chunk, `deliver(output, firstUnit, count, pointer)` receives every
    /// output's floats for that chunk (constants are delivered once per unit).
    func run(
        inputs: [UnsafePointer<Float>], units: Int,
        deliver: (_ output: Int, _ first: Int, _ count: Int, _ values: UnsafePointer<Float>) -> Void
    ) {
        precondition(inputs.count == inputNames.count, "Executor.run: \(inputs.count) inputs for \(inputNames.count)")
        var done = 0
        while done < units {
            let n = min(batchCapacity, units - done)
            for slice in 0..<Parallel.ways {
                for (k, p) in inputs.enumerated() {
                    bases[slice * basesPerSlice + Slot.firstInput + k] = UnsafeMutablePointer(mutating: p + done * inputCounts[k])
                }
            }
            runChunk(n: n)
            let frame = frame(slice: 0, blockFirst: 0, serial: false)
            for (o, output) in plan.outputs.enumerated() {
                switch output {
                case .value(let id, _):
                    deliver(o, done, n, frame.input(id, 0))
                case .constant(let v):
                    let floats = v.floats ?? (v.ints ?? []).map { Float($0) }
                    floats.withUnsafeBufferPointer { b in
                        for u in 0..<n { deliver(o, done + u, 1, b.baseAddress!) }
                    }
                }
            }
            done += n
        }
    }

    /// Smallest chunk split over the cores (below, one thread runs it; a segment of
    /// convolutional steps splits sooner, once each core gets a whole block of it).
    static let splitThreshold = 64

    /// Runs the plan on `n` units, on both cores when `n` is large enough.
    ///
    /// Plans whose steps never split themselves (no Conv, MaxPool or spatial BN) run as
    /// `Parallel.ways` independent unit ranges, one per core, every step serial: one
    /// fork/join per chunk instead of one per kernel. Otherwise the plan runs stage by
    /// stage (`Stage`): a product (which splits itself) or a step split by unit range runs
    /// on the whole chunk; a segment of convolutional steps gives each core half the units,
    /// which it runs a small block at a time through all the segment's steps, every kernel
    /// on its own thread, so the activations between steps stay in cache. Every step works
    /// per unit, so ranges and blocks write disjoint memory and results do not depend on
    /// the split.
    private func runChunk(n: Int) {
        let split = n >= Executor.splitThreshold && Parallel.isEnabled
        let box = SendableExecutorBox(executor: self)
        if split && plan.runsAsIndependentSlices {
            Parallel.forEachSlice { slice in
                let r = Parallel.range(slice, of: n)
                if r.isEmpty { return }
                let e = box.executor
                let frame = e.frame(slice: slice, blockFirst: r.lowerBound, serial: true)
                for step in e.plan.steps { step.run(frame, units: r, serial: true) }
            }
            return
        }
        for stage in plan.stages {
            switch stage {
            case .blocks(let range, let blockSize):
                // A block holds 256 KiB of a segment's activations: when each core gets a
                // whole block, the work per core dwarfs the fork/join (ResNet-50's images are
                // one block each: batch 8 runs 4 images a core, not 8 images on halved kernels).
                if split || (n >= 2 * blockSize && Parallel.isEnabled) {
                    Parallel.forEachSlice { slice in
                        box.executor.runBlocks(range, blockSize: blockSize, units: Parallel.range(slice, of: n), slice: slice, serial: true)
                    }
                } else {
                    runBlocks(range, blockSize: blockSize, units: 0..<n, slice: 0, serial: false)
                }
            case .step(let i):
                let step = plan.steps[i]
                if step.traits.contains(.splitsItself) || !step.traits.contains(.perUnit) {
                    step.run(frame(slice: 0, blockFirst: 0, serial: false), units: 0..<n, serial: false)
                } else if split {
                    Parallel.forEachSlice { slice in
                        let r = Parallel.range(slice, of: n)
                        if r.isEmpty { return }
                        let e = box.executor
                        e.plan.steps[i].run(e.frame(slice: slice, blockFirst: r.lowerBound, serial: true), units: r, serial: true)
                    }
                } else {
                    step.run(frame(slice: 0, blockFirst: 0, serial: true), units: 0..<n, serial: true)
                }
            }
        }
    }

    /// Steps `range` on `units`, `blockSize` units at a time through all the steps.
    /// `serial` (inside a slice): every kernel on this thread, with core `slice`'s scratch.
    private func runBlocks(_ range: Range<Int>, blockSize: Int, units: Range<Int>, slice: Int, serial: Bool) {
        var first = units.lowerBound
        while first < units.upperBound {
            let n = min(blockSize, units.upperBound - first)
            let frame = frame(slice: slice, blockFirst: first, serial: serial)
            for i in range { plan.steps[i].run(frame, units: first..<(first + n), serial: serial) }
            first += n
        }
    }

    private func frame(slice: Int, blockFirst: Int, serial: Bool) -> Frame {
        Frame(slots: slots, bases: bases + slice * basesPerSlice, blockFirst: blockFirst,
              scratch: serial ? scratch + slice * plan.scratchPerSlice : scratch)
    }
}

/// Hands the executor to the per-core unit ranges, which touch disjoint units of every
/// buffer.
private struct SendableExecutorBox: @unchecked Sendable {
    let executor: Executor
}

/// A graph analyzed and lowered for given runtime inputs, before memory is laid out: what
/// an `Executor` is built from.
struct Compilation {
    let analysis: Analysis
    var builder: PlanBuilder
    let inputNames: [String]
    /// Whether the plan runs any number of units (the batch): every step works per unit
    /// and every runtime value's dim 0 scales with the batch.
    let polymorphic: Bool

    /// `inputs`: facts of every runtime input at one unit ([1, …] for a batch of one).
    init(graph: Graph, opset: Int, inputs: [String: PlanValue], inputNames: [String], memoryLimit: Int,
         options: PlanOptions = PlanOptions()) throws(ModelError) {
        let limit = memoryLimit / MemoryLayout<Float>.size
        let analysis = try Analysis(graph: graph, opset: opset, inputs: inputs, elementLimit: limit)
        // One unit's memory, checked before anything is allocated from the file's sizes.
        var total = 0
        var largest: (place: String, shape: [Int], count: Int) = ("graph", [], 0)
        for name in inputNames {
            let s = analysis.values[name]?.shape ?? []
            total += Tensor.elementCount(s)
            if Tensor.elementCount(s) > largest.count { largest = ("graph input '\(name)'", s, Tensor.elementCount(s)) }
        }
        for index in analysis.runtimeNodes {
            let node = graph.nodes[index]
            for o in node.outputs where !o.isEmpty {
                let s = analysis.values[o]?.shape ?? []
                let n = Tensor.elementCount(s)
                let (sum, overflow) = total.addingReportingOverflow(n + 16)
                total = overflow ? Int.max / 8 : sum
                if n > largest.count { largest = (node.label(index: index), s, n) }
            }
        }
        let bytes = total >= Int.max / 8 ? Int.max : total * MemoryLayout<Float>.size
        if bytes > memoryLimit {
            let shape = largest.shape
            throw ModelError(.unsupportedModel, place: largest.place,
                             problem: "shape \(shape) alone takes \(Executor.byteText(largest.count * MemoryLayout<Float>.size)); one sample needs \(Executor.byteText(bytes)) in all, more than the executor's memory limit of \(Executor.byteText(memoryLimit))")
        }
        var builder = PlanBuilder(analysis: analysis, inputNames: inputNames, options: options)
        try builder.lower()
        self.analysis = analysis
        self.builder = builder
        self.inputNames = inputNames
        polymorphic = builder.perUnit && Compilation.scales(graph, opset: opset, unit: analysis, inputs: inputs, limit: limit)
    }

    /// Whether the shapes of every runtime value at two and three units are those at one
    /// unit with dim 0 multiplied: each unit's data is then one contiguous block.
    private static func scales(_ graph: Graph, opset: Int, unit: Analysis, inputs: [String: PlanValue], limit: Int) -> Bool {
        for b in [2, 3] {
            var scaled: [String: PlanValue] = [:]
            for (name, v) in inputs {
                guard v.type == .float, let d0 = v.shape.first else { return false }
                var s = v
                s.shape[0] = d0 * b
                scaled[name] = s
            }
            guard let a = try? Analysis(graph: graph, opset: opset, inputs: scaled, elementLimit: limit) else { return false }
            if a.runtimeNodes != unit.runtimeNodes { return false }
            for index in unit.runtimeNodes {
                let node = graph.nodes[index]
                for o in node.outputs where !o.isEmpty {
                    guard let s1 = unit.values[o]?.shape, let sb = a.values[o]?.shape, let d0 = s1.first,
                          sb.count == s1.count, sb[0] == b * d0, sb.dropFirst() == s1.dropFirst() else { return false }
                }
                // Constants the steps are built from must not depend on the batch (a Range
                // over the batch size, a mask of its shape…).
                let unused = type(of: unit.operators[index].0).contentsUnusedByLowering
                for (i, name) in node.inputs.enumerated() where !name.isEmpty && !unused.contains(i) {
                    if let v = unit.values[name], v.isConstant, a.values[name] != v { return false }
                }
            }
            for o in graph.outputs {
                if let v = unit.values[o.name], v.isConstant, a.values[o.name] != v { return false }
            }
        }
        return true
    }
}
