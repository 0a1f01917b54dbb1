import BNCGraph
import BNCKernels

/// Compiles a graph into `Step`s, constants and an arena layout for `Executor`.
///
/// Sizes come from shape inference at batch 1 ("per sample"); every step scales its
/// outermost count by the batch at run time. That is valid when the graph is batch-
/// polymorphic: inferring at batch 2 and 3 gives, for every value computed from the input,
/// the batch-1 shape with dim 0 multiplied (each sample's data is one contiguous block)
/// and no op reduces over dim 0. Graphs that are not (a Reshape to a literal [1, …], a
/// Softmax over axis 0) get capacity 1: they run one sample at a time.
struct PlanBuilder {
    let graph: Graph
    let inputName: String
    let inputPerSample: [Int]
    let specs: [OpSpec]
    let shapes: [String: [Int]]
    /// Values computed from the input (the rest are initializers).
    let batched: Set<String>
    let polymorphic: Bool

    struct Built {
        var steps: [Step]
        var constants: [Float]
        var arenaCount: Int
        var scratchCount: Int
        /// Every graph output, in graph order.
        var outputs: [Slot]
        var outputShapes: [[Int]]
        /// Whether the plan may run as independent per-core sample ranges (no step splits
        /// itself except GEMM). Such plans get an arena without reuse: see `build`.
        var runsAsIndependentSlices: Bool
        /// The order the steps run in: see `Stage`.
        var stages: [Stage]
        /// Floats of block-local storage per core (`Slot.Storage.local`).
        var localCountPerSlice: Int
    }

    /// Bytes of block-local values one block of a segment aims to stay within, so that a
    /// sample's activations are still in the core's cache (1 MiB of L2 here, shared with
    /// the im2col columns and the weights) when the next step reads them.
    static let blockBytes = 256 << 10

    init(graph: Graph) throws(ModelError) {
        self.graph = graph
        (inputName, inputPerSample) = try ShapeInference.inputSignature(graph)
        guard let out = graph.outputs.first else {
            throw ModelError(.unsupportedModel, place: "graph", problem: "has no outputs")
        }
        let r1 = try ShapeInference.resolve(graph, batch: 1)
        specs = r1.specs
        shapes = r1.shapes
        var batched: Set<String> = [inputName]
        for (i, node) in graph.nodes.enumerated() {
            if node.inputs.contains(where: { batched.contains($0) }) {
                batched.insert(node.outputs[0])
            } else {
                throw ModelError(.unsupportedModel, place: node.label(index: i),
                                 problem: "computes only from constants; bnc runs graphs whose constants are initializers")
            }
        }
        _ = out
        for o in graph.outputs where !batched.contains(o.name) {
            throw ModelError(.unsupportedModel, place: "graph output '\(o.name)'", problem: "does not depend on the input '\(inputName)'")
        }
        self.batched = batched
        polymorphic = PlanBuilder.isPolymorphic(graph, batched: batched, shapes1: r1.shapes, specs1: r1.specs)
    }

    private static func isPolymorphic(_ graph: Graph, batched: Set<String>, shapes1: [String: [Int]], specs1: [OpSpec]) -> Bool {
        for b in [2, 3] {
            guard let r = try? ShapeInference.resolve(graph, batch: b) else { return false }
            for v in batched {
                guard let s1 = shapes1[v], let sb = r.shapes[v], !s1.isEmpty, sb.count == s1.count else { return false }
                if sb[0] != b * s1[0] || sb.dropFirst() != s1.dropFirst() { return false }
            }
            for (i, spec) in r.specs.enumerated() {
                if case .softmax(_, let len, _) = spec, case .softmax(_, let len1, _) = specs1[i], len != len1 { return false }
            }
        }
        return true
    }

    /// Upper bound of the bytes one sample needs: its input plus the arena without buffer
    /// reuse; `Int.max` when that overflows.
    func perSampleBytesEstimate() -> Int {
        var total = Tensor.checkedElementCount(inputPerSample) ?? Int.max / 8
        for node in graph.nodes {
            let floats = (shapes[node.outputs[0]].flatMap(Tensor.checkedElementCount) ?? 0) + 16
            let (sum, overflow) = total.addingReportingOverflow(floats)
            if overflow { return Int.max }
            total = sum
        }
        let (bytes, overflow) = total.multipliedReportingOverflow(by: MemoryLayout<Float>.size)
        return overflow ? Int.max : bytes
    }

    /// The largest value of one sample (the graph input or a node's output), with its
    /// shape at batch 1 and its bytes: what an error about a plan's size names.
    func largestValue() -> (place: String, shape: [Int], bytes: Int) {
        func bytes(_ s: [Int]) -> Int {
            guard let n = Tensor.checkedElementCount(s) else { return Int.max }
            let (b, overflow) = n.multipliedReportingOverflow(by: MemoryLayout<Float>.size)
            return overflow ? Int.max : b
        }
        let input = [1] + inputPerSample
        var best = (place: "graph input '\(inputName)'", shape: input, bytes: bytes(input))
        for (i, node) in graph.nodes.enumerated() {
            guard let s = shapes[node.outputs[0]] else { continue }
            let b = bytes(s)
            if b > best.bytes { best = (node.label(index: i), s, b) }
        }
        return best
    }

    // MARK: Build

    private struct Buffer {
        var perSample: Int
        /// Node indices of the definition and the last read.
        var first: Int
        var last: Int = 0
        /// Arena offset, or for a block-local buffer its offset per sample of a block.
        var offset = 0
        var local = false
    }

    private var constants: [Float] = []
    private var constantOffsets: [String: Int] = [:]
    private var buffers: [Buffer] = []
    /// value → buffer index; the graph input maps to -1.
    private var bufferOf: [String: Int] = [:]
    private var fused: Set<Int> = []
    private var lastRead: [String: Int] = [:]
    private var scratchCount = 0
    /// Largest arena plus scratch, in bytes, that `build` accepts (`Executor`'s memoryLimit).
    private var memoryLimit = Int.max

    mutating func build(capacity: Int, memoryLimit: Int) throws(ModelError) -> Built {
        self.memoryLimit = memoryLimit
        var readers: [String: [Int]] = [:]
        for (i, node) in graph.nodes.enumerated() {
            for name in Set(node.inputs) where !name.isEmpty { readers[name, default: []].append(i) }
        }
        for (v, list) in readers { lastRead[v] = list.max() ?? 0 }
        for o in graph.outputs { lastRead[o.name] = Int.max }
        bufferOf[inputName] = -1

        var steps: [Step] = []
        var stepNodes: [Int] = []
        for (i, node) in graph.nodes.enumerated() where !fused.contains(i) {
            if let step = try compile(i, node, readers: readers) {
                steps.append(step)
                stepNodes.append(i)
            }
        }
        // Arena layout: buffers in order of definition; a buffer whose last reader ran
        // before another's definition gives its space to it — but only when the steps run
        // in order over the whole chunk. A plan run as independent per-core sample ranges
        // has one core at step j while the other is still at step i < j; buffers are laid
        // out sample-major with different per-sample sizes, so a reused region would let
        // one core's later value overwrite the other core's earlier one. Those plans
        // (dense networks) are small per sample, so they simply get no reuse.
        let independentSlices = !steps.contains { $0.splitsItself && !$0.isGemm }
        for (value, b) in bufferOf where b >= 0 {
            buffers[b].last = max(buffers[b].last, lastRead[value] ?? buffers[b].first)
        }
        // Segments (plans with Conv, MaxPool or spatial BN): each maximal run of steps
        // without a GEMM that contains such a step runs depth-first, one small block of
        // samples at a time through all its steps (see `Stage`). A buffer both defined and
        // last read inside one segment is block-local: it lives in a per-core area sized
        // for one block and stays in cache. Every other buffer a segment touches is live
        // for the whole segment, because blocks and cores are at different steps.
        var stages: [Stage] = []
        var localPerSample = 0
        var blockedSegments: [(steps: Range<Int>, nodes: ClosedRange<Int>)] = []
        var j = 0
        while j < steps.count {
            if independentSlices || steps[j].isGemm {
                stages.append(.step(j))
                j += 1
                continue
            }
            var end = j
            while end < steps.count && !steps[end].isGemm { end += 1 }
            if steps[j..<end].contains(where: \.splitsItself) {
                blockedSegments.append((j..<end, stepNodes[j]...stepNodes[end - 1]))
            } else {
                stages += (j..<end).map { .step($0) }
            }
            j = end
        }
        for b in buffers.indices {
            guard let seg = blockedSegments.first(where: { $0.nodes.contains(buffers[b].first) }) else {
                if let seg = blockedSegments.first(where: { $0.nodes.contains(buffers[b].last) }) {
                    buffers[b].last = seg.nodes.upperBound
                }
                continue
            }
            if seg.nodes.contains(buffers[b].last) {
                buffers[b].local = true
                buffers[b].offset = localPerSample
                localPerSample += (buffers[b].perSample + 15) / 16 * 16
            } else {
                buffers[b].first = seg.nodes.lowerBound
                if let end = blockedSegments.first(where: { $0.nodes.contains(buffers[b].last) }) {
                    buffers[b].last = end.nodes.upperBound
                }
            }
        }
        let block = max(1, min(capacity, PlanBuilder.blockBytes / max(1, localPerSample * MemoryLayout<Float>.size)))
        for seg in blockedSegments {
            stages.append(.blocks(seg.steps, blockSize: block))
        }
        stages.sort { $0.firstStep < $1.firstStep }
        var free: [(offset: Int, size: Int)] = []
        var active: [Int] = []
        var top = 0
        for b in buffers.indices.sorted(by: { buffers[$0].first < buffers[$1].first }) where !buffers[b].local {
            let size = (buffers[b].perSample * capacity + 15) / 16 * 16
            active.removeAll { a in
                if !independentSlices && buffers[a].last < buffers[b].first {
                    free.append((buffers[a].offset, (buffers[a].perSample * capacity + 15) / 16 * 16))
                    return true
                }
                return false
            }
            if let best = free.indices.filter({ free[$0].size >= size }).min(by: { free[$0].size < free[$1].size }) {
                buffers[b].offset = free[best].offset
                if free[best].size > size {
                    free[best] = (free[best].offset + size, free[best].size - size)
                } else {
                    free.remove(at: best)
                }
            } else {
                buffers[b].offset = top
                top += size
            }
            active.append(b)
        }
        steps = steps.map { resolveSlots($0, block: block) }
        var outSlots: [Slot] = [], outShapes: [[Int]] = []
        for o in graph.outputs {
            guard let s = shapes[o.name] else {
                throw ModelError(.unsupportedModel, place: "graph output '\(o.name)'", problem: "has no inferred shape")
            }
            outSlots.append(resolve(slot(o.name), block: block))
            outShapes.append(perSampleShape(s))
        }
        return Built(steps: steps, constants: constants, arenaCount: top, scratchCount: scratchCount,
                     outputs: outSlots, outputShapes: outShapes, runsAsIndependentSlices: independentSlices,
                     stages: stages, localCountPerSlice: localPerSample * block)
    }

    /// Per-sample shape reported to callers: dims after the batch dim (dim 0 of the
    /// batch-1 shape is 1 for ordinary graphs).
    private func perSampleShape(_ s: [Int]) -> [Int] {
        s.first == 1 ? Array(s.dropFirst()) : s
    }

    /// Slots hold buffer ids until layout; this swaps in arena (or block-local) offsets.
    /// A block-local buffer of per-sample size p at offset o holds sample i of a block at
    /// o·blockSize + i·p: the offset is scaled here.
    private func resolve(_ s: Slot, block: Int) -> Slot {
        if s.storage == .input { return s }
        let b = buffers[s.offset]
        return Slot(storage: b.local ? .local : .arena, offset: b.local ? b.offset * block : b.offset, perSample: s.perSample)
    }

    private func resolveSlots(_ step: Step, block: Int) -> Step {
        func r(_ s: Slot) -> Slot { resolve(s, block: block) }
        switch step {
        case .gemm(var g): g.a = r(g.a); g.y = r(g.y); return .gemm(g)
        case .conv(var c): c.x = r(c.x); c.y = r(c.y); return .conv(c)
        case .batchNorm(var b): b.x = r(b.x); b.y = r(b.y); return .batchNorm(b)
        case .activation(let x, let y, let a, let n): return .activation(r(x), r(y), a, n)
        case .axisBias(var a): a.x = r(a.x); a.y = r(a.y); return .axisBias(a)
        case .addSame(let a, let b, let y, let n, let act): return .addSame(r(a), r(b), r(y), n, act)
        case .addGeneral(var g): g.a = r(g.a); g.b = r(g.b); g.y = r(g.y); return .addGeneral(g)
        case .maxPool(let x, let y, let g, let p): return .maxPool(r(x), r(y), g, p)
        case .softmax(let x, let y, let o, let l, let i): return .softmax(r(x), r(y), o, l, i)
        }
    }

    /// The slot of a value (buffer id until layout).
    private func slot(_ value: String) -> Slot {
        let b = bufferOf[value] ?? -1
        return Slot(storage: b < 0 ? .input : .arena, offset: max(b, 0), perSample: count(value))
    }

    private func count(_ value: String) -> Int { shapes[value]?.reduce(1, *) ?? 0 }

    /// Gives `value` (defined by node `index`) a buffer: the buffer of an input in
    /// `inPlace` when that input dies here and has the same size, else a new one.
    private mutating func define(_ value: String, at index: Int, inPlace: [String] = []) {
        for cand in inPlace {
            guard let b = bufferOf[cand], b >= 0, buffers[b].perSample == count(value) else { continue }
            let sharers = bufferOf.filter { $0.value == b }.map(\.key)
            if sharers.allSatisfy({ (lastRead[$0] ?? 0) <= index }) {
                bufferOf[value] = b
                return
            }
        }
        buffers.append(Buffer(perSample: count(value), first: index))
        bufferOf[value] = buffers.count - 1
    }

    private func fail(_ index: Int, _ problem: String) -> ModelError {
        ModelError(.unsupportedModel, place: graph.nodes[index].label(index: index), problem: problem)
    }

    /// Float values of an initializer input, or an error naming it.
    private func constantValues(_ index: Int, _ name: String, role: String) throws(ModelError) -> Tensor {
        guard let t = graph.initializer(named: name) else {
            throw fail(index, "\(role) '\(name)' is not an initializer; bnc runs weights from initializers")
        }
        guard t.floats != nil else { throw fail(index, "\(role) '\(name)' is not a FLOAT tensor") }
        return t
    }

    private mutating func constantOffset(_ t: Tensor) -> Int {
        if let o = constantOffsets[t.name] { return o }
        let o = append(t.floats ?? [])
        constantOffsets[t.name] = o
        return o
    }

    private mutating func append(_ values: [Float]) -> Int {
        while constants.count % 16 != 0 { constants.append(0) }
        let o = constants.count
        constants += values
        return o
    }

    /// The single reader of `value` when it can be fused (not a graph output, read once).
    private func soleReader(_ value: String, readers: [String: [Int]]) -> Int? {
        guard !graph.isGraphOutput(value), let list = readers[value], list.count == 1,
              graph.nodes[list[0]].inputs.filter({ $0 == value }).count == 1 else { return nil }
        return list[0]
    }

    /// A following Relu/Sigmoid/Tanh to fuse: (activation, its output value).
    private mutating func fuseActivation(after value: String, readers: [String: [Int]]) -> (Activation, String) {
        guard let j = soleReader(value, readers: readers) else { return (.identity, value) }
        let act: Activation
        switch graph.nodes[j].opType {
        case "Relu": act = .relu
        case "Sigmoid": act = .sigmoid
        case "Tanh": act = .tanh
        default: return (.identity, value)
        }
        fused.insert(j)
        return (act, graph.nodes[j].outputs[0])
    }

    /// A MaxPool reading only `value` (a Conv's output with `activation`) that the
    /// convolution can apply itself: a plain 2×2 window with stride 2 over the whole
    /// output, after no activation or ReLU (`Conv2D.forward`).
    private func fusablePool(
        after value: String, geometry: BNCKernels.ConvGeometry, activation: Activation, readers: [String: [Int]]
    ) -> (node: Int, geometry: BNCKernels.PoolGeometry)? {
        guard activation == .identity || activation == .relu, let j = soleReader(value, readers: readers),
              graph.nodes[j].opType == "MaxPool", case .maxPool(let p) = specs[j],
              p.c == geometry.outChannels, p.h == geometry.outHeight, p.w == geometry.outWidth,
              let pool = try? BNCKernels.PoolGeometry(
                  channels: p.c, height: p.h, width: p.w, kernelHeight: p.kh, kernelWidth: p.kw,
                  strides: (p.strideH, p.strideW), pads: (p.padTop, p.padLeft, p.padBottom, p.padRight),
                  dilations: (p.dilationH, p.dilationW), ceilMode: p.ceilMode),
              pool.isPlain2x2, pool.outHeight == p.oh, pool.outWidth == p.ow else { return nil }
        return (j, pool)
    }

    /// Constant operand of an Add that is a bias along one axis d ≥ 1 of `outShape`
    /// (all its other dims 1), as (outer, channels, inner, values expanded to channels).
    private func axisBias(_ t: Tensor, outShape: [Int]) -> (Int, Int, Int, [Float])? {
        guard t.dims.count <= outShape.count, let v = t.floats else { return nil }
        let padded = Array(repeating: 1, count: outShape.count - t.dims.count) + t.dims
        let nonOne = padded.indices.filter { padded[$0] != 1 }
        let axis: Int
        if nonOne.isEmpty {
            axis = outShape.count - 1  // a scalar: repeat along the last axis
        } else if nonOne.count == 1, nonOne[0] >= 1 {
            axis = nonOne[0]
        } else {
            return nil
        }
        guard axis >= 1 else { return nil }
        let c = outShape[axis]
        let values = v.count == c ? v : [Float](repeating: v[0], count: c)
        return (outShape[..<axis].reduce(1, *), c, outShape[(axis + 1)...].reduce(1, *), values)
    }

    // MARK: Per node

    private mutating func compile(_ i: Int, _ node: Node, readers: [String: [Int]]) throws(ModelError) -> Step? {
        let out = node.outputs[0]
        switch specs[i] {
        case .alias:
            bufferOf[out] = bufferOf[node.inputs[0]] ?? -1
            return nil

        case .gemm(let g):
            guard batched.contains(node.inputs[0]), !g.transA else {
                throw fail(i, g.transA ? "transA = 1 on the data input mixes samples; bnc runs Gemm with transA = 0" : "input A is not computed from the graph input")
            }
            let w = try constantValues(i, node.inputs[1], role: "B")
            var bias: [Float]? = nil
            if node.inputs.count > 2, !node.inputs[2].isEmpty, g.beta != 0 {
                let c = try constantValues(i, node.inputs[2], role: "C")
                let cv = c.floats ?? []
                bias = (0..<g.n).map { j in Float(Double(g.beta) * Double(cv.count == 1 ? cv[0] : cv[j])) }
            }
            return try linear(i, node, a: node.inputs[0], weight: w, n: g.n, k: g.k, rowsPerSample: g.m,
                              transB: g.transB, alpha: g.alpha, bias: bias, readers: readers)

        case .matMul(let m):
            guard batched.contains(node.inputs[0]) else { throw fail(i, "input A is not computed from the graph input") }
            let w = try constantValues(i, node.inputs[1], role: "B")
            return try linear(i, node, a: node.inputs[0], weight: w, n: m.n, k: m.k, rowsPerSample: m.rows,
                              transB: false, alpha: 1, bias: nil, readers: readers)

        case .conv(let c):
            guard batched.contains(node.inputs[0]) else { throw fail(i, "input X is not computed from the graph input") }
            let w = try constantValues(i, node.inputs[1], role: "W")
            let geometry: BNCKernels.ConvGeometry
            do {
                geometry = try BNCKernels.ConvGeometry(
                    inChannels: c.c, height: c.h, width: c.w, outChannels: c.m, kernelHeight: c.kh, kernelWidth: c.kw,
                    strides: (c.strideH, c.strideW), pads: (c.padTop, c.padLeft, c.padBottom, c.padRight),
                    dilations: (c.dilationH, c.dilationW), groups: c.group)
            } catch {
                throw fail(i, error.description)
            }
            guard geometry.outHeight == c.oh, geometry.outWidth == c.ow else {
                throw fail(i, "output \(geometry.outHeight)×\(geometry.outWidth) differs from the inferred \(c.oh)×\(c.ow)")
            }
            var bias: Int? = nil
            if node.inputs.count > 2, !node.inputs[2].isEmpty {
                bias = constantOffset(try constantValues(i, node.inputs[2], role: "B"))
            }
            // Checked here: the im2col columns of one sample can dwarf every value's size.
            let (rows, o1) = geometry.columnRows.multipliedReportingOverflow(by: geometry.outSpatial)
            let (floats, o2) = rows.multipliedReportingOverflow(by: Parallel.ways)
            guard !o1, !o2, floats <= memoryLimit / MemoryLayout<Float>.size else {
                throw fail(i, "its im2col scratch (\(geometry.columnRows) × \(geometry.outSpatial) floats per sample) exceeds the executor's memory limit of \(Executor.byteText(memoryLimit))")
            }
            // The activation after a Conv is applied with its bias, per sample, right after
            // the sample's product (one pass over the output while it is in cache), and a
            // plain 2×2 max-pool after that is fused too (see `Conv2D.forward`).
            var (act, final) = fuseActivation(after: out, readers: readers)
            let pool = fusablePool(after: final, geometry: geometry, activation: act, readers: readers)
            if let pool {
                fused.insert(pool.node)
                final = graph.nodes[pool.node].outputs[0]
            }
            scratchCount = max(scratchCount, geometry.forwardScratchCount(pooled: pool != nil))
            define(final, at: i)
            // c.n (the batch-1 dim 0) is 1 unless a reshape folded rows into dim 0.
            return .conv(Step.Conv(x: slot(node.inputs[0]), y: slot(final), geometry: geometry, samplesPerSample: c.n,
                                   weight: constantOffset(w), bias: bias, activation: act, pool: pool?.geometry))

        case .batchNorm(let c, let inner, let eps):
            var params: [[Float]] = []
            for (k, role) in ["scale", "B", "mean", "var"].enumerated() {
                params.append(try constantValues(i, node.inputs[k + 1], role: role).floats ?? [])
            }
            var a = [Float](repeating: 0, count: c), b = [Float](repeating: 0, count: c)
            params[0].withUnsafeBufferPointer { g in
                params[1].withUnsafeBufferPointer { be in
                    params[2].withUnsafeBufferPointer { mu in
                        params[3].withUnsafeBufferPointer { v in
                            BatchNorm.inferenceCoefficients(
                                scale: g.baseAddress!, bias: be.baseAddress!, mean: mu.baseAddress!, variance: v.baseAddress!,
                                epsilon: Double(eps), channels: c, a: &a, b: &b)
                        }
                    }
                }
            }
            let (act, final) = fuseActivation(after: out, readers: readers)
            define(final, at: i, inPlace: [node.inputs[0]])
            return .batchNorm(Step.BatchNorm(x: slot(node.inputs[0]), y: slot(final), outerPerSample: count(out) / (c * inner),
                                             channels: c, spatial: inner, a: append(a), b: append(b), activation: act))

        case .relu, .sigmoid, .tanh:
            let act: Activation = node.opType == "Relu" ? .relu : node.opType == "Sigmoid" ? .sigmoid : .tanh
            define(out, at: i, inPlace: [node.inputs[0]])
            return .activation(slot(node.inputs[0]), slot(out), act, count(out))

        case .add(let spec):
            let (a, b) = (node.inputs[0], node.inputs[1])
            let outShape = shapes[out] ?? spec.outShape
            if batched.contains(a) && batched.contains(b) && shapes[a] == outShape && shapes[b] == outShape {
                let (act, final) = fuseActivation(after: out, readers: readers)
                define(final, at: i, inPlace: [a, b])
                return .addSame(slot(a), slot(b), slot(final), count(out), act)
            }
            for (x, c) in [(a, b), (b, a)] where batched.contains(x) && !batched.contains(c) && shapes[x] == outShape {
                if let t = graph.initializer(named: c), let (outer, ch, inner, values) = axisBias(t, outShape: outShape) {
                    let (act, final) = fuseActivation(after: out, readers: readers)
                    define(final, at: i, inPlace: [x])
                    return .axisBias(Step.AxisBias(x: slot(x), y: slot(final), outerPerSample: outer, channels: ch, inner: inner,
                                                   bias: append(values), activation: act))
                }
            }
            // General broadcasting, one sample at a time.
            let rank = outShape.count
            func padded(_ v: String) -> [Int] {
                let s = shapes[v] ?? []
                return Array(repeating: 1, count: rank - s.count) + s
            }
            var aConst: Int? = nil, bConst: Int? = nil
            if !batched.contains(a) { aConst = constantOffset(try constantValues(i, a, role: "operand")) }
            if !batched.contains(b) { bConst = constantOffset(try constantValues(i, b, role: "operand")) }
            var aShape = padded(a), bShape = padded(b), yShape = outShape
            // Per sample: batched operands and the output lose their batch block.
            if batched.contains(a) { aShape[0] = aShape[0] / max(1, outShape[0]) }
            if batched.contains(b) { bShape[0] = bShape[0] / max(1, outShape[0]) }
            yShape[0] = 1
            if aShape[0] == 0 || bShape[0] == 0 || outShape[0] != 1 {
                throw fail(i, "broadcasting \(shapes[a] ?? []) with \(shapes[b] ?? []) across the batch dim is not supported")
            }
            let (act, final) = fuseActivation(after: out, readers: readers)
            define(final, at: i)
            return .addGeneral(Step.AddGeneral(
                a: slot(a), b: slot(b), y: slot(final), aBatched: batched.contains(a), bBatched: batched.contains(b),
                aConstant: aConst, bConstant: bConst, aShape: aShape, bShape: bShape, yShape: yShape,
                aCount: count(a), bCount: count(b), yCount: count(out), activation: act))

        case .maxPool(let p):
            let geometry: BNCKernels.PoolGeometry
            do {
                geometry = try BNCKernels.PoolGeometry(
                    channels: p.c, height: p.h, width: p.w, kernelHeight: p.kh, kernelWidth: p.kw,
                    strides: (p.strideH, p.strideW), pads: (p.padTop, p.padLeft, p.padBottom, p.padRight),
                    dilations: (p.dilationH, p.dilationW), ceilMode: p.ceilMode)
            } catch {
                throw fail(i, error.description)
            }
            guard geometry.outHeight == p.oh, geometry.outWidth == p.ow else {
                throw fail(i, "output \(geometry.outHeight)×\(geometry.outWidth) differs from the inferred \(p.oh)×\(p.ow)")
            }
            define(out, at: i)
            return .maxPool(slot(node.inputs[0]), slot(out), geometry, p.n)

        case .softmax(let outer, let length, let inner):
            define(out, at: i, inPlace: [node.inputs[0]])
            return .softmax(slot(node.inputs[0]), slot(out), outer, length, inner)
        }
    }

    /// Gemm/MatMul: y = alpha·A·op(B) (+ bias) with an Add of a constant row bias and an
    /// activation after it fused in when they are the sole readers.
    private mutating func linear(
        _ i: Int, _ node: Node, a: String, weight: Tensor, n: Int, k: Int, rowsPerSample: Int,
        transB: Bool, alpha: Float, bias: [Float]?, readers: [String: [Int]]
    ) throws(ModelError) -> Step {
        var bias = bias
        var value = node.outputs[0]
        if bias == nil, let j = soleReader(value, readers: readers), graph.nodes[j].opType == "Add" {
            let add = graph.nodes[j]
            let other = add.inputs[0] == value ? add.inputs[1] : add.inputs[0]
            if let t = graph.initializer(named: other), let outShape = shapes[add.outputs[0]], outShape == shapes[value],
               let (_, c, inner, values) = axisBias(t, outShape: outShape), inner == 1, c == n {
                bias = values
                fused.insert(j)
                value = add.outputs[0]
            }
        }
        let (act, final) = fuseActivation(after: value, readers: readers)
        define(final, at: i)
        return .gemm(Step.Gemm(
            a: slot(a), y: slot(final), rowsPerSample: rowsPerSample, n: n, k: k, transB: transB, alpha: alpha,
            weight: constantOffset(weight), bias: bias.map { append($0) }, activation: act))
    }
}

