import BNCGraph
import BNCKernels
import BNCOps

/// A compiled plan: steps in order, where every value lives, and how the steps run.
struct Plan {
    var steps: [any Step]
    var stages: [Stage]
    /// One slot per value id.
    var slots: [Slot]
    var constants: [Float]
    var arenaCount: Int
    /// Largest scratch of a step running on the whole chunk, and of one per core.
    var scratchWhole: Int
    var scratchPerSlice: Int
    /// Floats of block-local storage per core.
    var localPerSlice: Int
    /// Whether the plan may run as independent per-core unit ranges (no step but products
    /// splits itself).
    var runsAsIndependentSlices: Bool
    /// Every graph output: a runtime value, or a constant known while planning.
    var outputs: [Output]

    enum Output {
        case value(ValueID, unitShape: [Int])
        case constant(PlanValue)
    }
}

/// How `Executor` walks the steps of a chunk.
enum Stage: Equatable {
    /// One step over the whole chunk.
    case step(Int)
    /// Steps run depth-first: each core takes its share of the chunk's units and runs them
    /// `blockSize` at a time through all the steps, every kernel on its own thread.
    case blocks(Range<Int>, blockSize: Int)

    var firstStep: Int {
        switch self {
        case .step(let i): return i
        case .blocks(let r, _): return r.lowerBound
        }
    }
}

/// Lowers the runtime nodes of an analysis into steps, fuses them, and lays out memory.
///
/// Values are sized per unit (the analysis' shapes); a plan for `capacity` units gives
/// each runtime value `capacity` units of arena, sample-major. Buffers whose values are dead
/// are reused, except in plans run as independent per-core slices (one core may still be at
/// an earlier step); values that live only inside a depth-first segment get per-core
/// block-local storage instead.
struct PlanBuilder {
    let analysis: Analysis
    /// Runtime graph inputs in the order the caller passes them.
    let inputNames: [String]
    let options: PlanOptions

    /// Bytes of block-local values one block of a segment aims to stay within, so that a
    /// sample's activations are still in the core's cache when the next step reads them.
    static let blockBytes = 256 << 10

    private let table = ValueTable()
    private var idOf: [String: ValueID] = [:]
    private var steps: [any Step] = []
    /// The node each step came from (for messages).
    private var stepNodes: [Int] = []

    init(analysis: Analysis, inputNames: [String], options: PlanOptions = PlanOptions()) {
        self.analysis = analysis
        self.inputNames = inputNames
        self.options = options
    }

    /// Lowers every runtime node and fuses the steps.
    mutating func lower() throws(ModelError) {
        let graph = analysis.graph
        for name in inputNames {
            idOf[name] = table.runtime(name, shape: analysis.values[name]?.shape ?? [])
        }
        var readers: [String: Int] = [:]
        for n in graph.nodes { for i in Set(n.inputs) where !i.isEmpty { readers[i, default: 0] += 1 } }
        for o in graph.outputs { readers[o.name, default: 0] += 1 }
        for index in analysis.runtimeNodes {
            let node = graph.nodes[index]
            let (op, view) = analysis.operators[index]
            let facts = node.inputs.map { $0.isEmpty ? nil : analysis.values[$0] }
            let inputs = Inputs(view: view, values: facts)
            let outs = node.outputs.map { $0.isEmpty ? PlanValue(shape: []) : (analysis.values[$0] ?? PlanValue(shape: [])) }
            let runtimeInputs = node.inputs.map { name -> ValueID? in
                guard !name.isEmpty, analysis.values[name]?.isConstant == false else { return nil }
                return idOf[name]
            }
            let outputIDs = node.outputs.enumerated().map { k, name -> ValueID? in
                guard !name.isEmpty, readers[name] != nil, analysis.values[name]?.isConstant == false else { return nil }
                return table.runtime(name, shape: outs[k].shape)
            }
            // Nothing reads any output (a dead branch of the graph): no steps.
            if outputIDs.allSatisfy({ $0 == nil }) { continue }
            var lowering = Lowering(view: view, inputs: inputs, outputs: outs, table: table,
                                    runtimeInputs: runtimeInputs, outputIDs: outputIDs)
            try op.lower(&lowering)
            for (k, name) in node.outputs.enumerated() where outputIDs[k] != nil {
                if let i = lowering.aliases[k] {
                    guard let source = runtimeInputs[i] else { throw view.fail("aliases a constant input") }
                    idOf[name] = source
                } else {
                    idOf[name] = outputIDs[k]
                }
            }
            steps += lowering.steps
            stepNodes += lowering.steps.map { _ in index }
        }
        fuse()
        orderChains()
        steps = steps.map { $0.compiled(options) }
    }

    /// Picks the values that chains of oneDNN convolutions hand each other in the order oneDNN
    /// works in (`PlanOptions.chainOrder`: channels-last, or channel blocks), so that no reorder
    /// runs between two convolutions of a chain: a value is held in that order when an
    /// either-order step (a convolution, a global pooling) or a same-order step (an elementwise
    /// step or a max-pool, all of whose operands are held) writes it, the order keeps its floats
    /// at its plain size (whole channel blocks), it is not a graph output, and every step
    /// reading it is an either-order step reading it as its input or such a same-order step.
    /// Everything else stays in planes; a convolution turns the order at a chain's ends.
    private mutating func orderChains() {
        let order = options.chainOrder
        guard order != .planes else { return }
        let outputs = graphOutputIDs()
        var readers: [ValueID: [Int]] = [:]
        for (i, s) in steps.enumerated() { for r in Set(s.reads) { readers[r, default: []].append(i) } }
        func fits(_ v: ValueID) -> Bool {
            let shape = table[v].shape
            return shape.count < 2 || order.holds(channels: shape[1])
        }
        var held = Set<ValueID>()
        // Steps are in dependency order: an elementwise step's operands are settled before it.
        for s in steps where s.writes.count == 1 && fits(s.writes[0]) {
            switch s.orderUse {
            case .eitherOrder: held.insert(s.writes[0])
            case .sameOrder where s.reads.allSatisfy(held.contains): held.insert(s.writes[0])
            default: break
            }
        }
        func keeps(_ v: ValueID) -> Bool {
            guard !outputs.contains(v) else { return false }
            return (readers[v] ?? []).allSatisfy { i in
                let s = steps[i]
                switch s.orderUse {
                case .none: return false
                case .eitherOrder: return s.reads.firstIndex(of: v) == 0 && s.reads.lastIndex(of: v) == 0
                case .sameOrder: return held.contains(s.writes[0])
                }
            }
        }
        var changed = true
        while changed {
            changed = false
            for v in Array(held) where !keeps(v) {
                held.remove(v)
                changed = true
            }
            for s in steps where s.orderUse == .sameOrder && held.contains(s.writes[0]) && !s.reads.allSatisfy(held.contains) {
                held.remove(s.writes[0])
                changed = true
            }
        }
        steps = steps.map { s in
            guard s.orderUse != .none, let x = s.reads.first, let y = s.writes.first else { return s }
            return s.ordered(input: held.contains(x) ? order : .planes, output: held.contains(y) ? order : .planes)
        }
    }

    /// Whether every step works unit by unit (the plan can run any number of units).
    var perUnit: Bool { steps.allSatisfy { $0.traits.contains(.perUnit) } }

    private func graphOutputIDs() -> Set<ValueID> {
        Set(analysis.graph.outputs.compactMap { idOf[$0.name] })
    }

    /// Fuses each step with the sole reader of its output when that reader is a map the
    /// step can absorb (an activation, a per-channel affine, a pooling, x·σ(x)), until none
    /// fuses. A reader with an epilogue maps its first read, so it is offered only when that
    /// is the output; other readers (a Mul of x and σ(x)) read it anywhere, once, and the
    /// step's `fusing` checks the position itself.
    private mutating func fuse() {
        let outputs = graphOutputIDs()
        var changed = true
        while changed {
            changed = false
            var readCount: [ValueID: Int] = [:]
            for s in steps { for r in s.reads { readCount[r, default: 0] += 1 } }
            var i = 0
            while i < steps.count {
                let v = steps[i].writes.first
                if let v, steps[i].writes.count == 1, !outputs.contains(v), readCount[v] == 1,
                   let j = steps[(i + 1)...].firstIndex(where: { $0.reads.contains(v) }),
                   steps[j].reads.first == v || steps[j].epilogue == nil, steps[j].reads.filter({ $0 == v }).count == 1,
                   let merged = steps[i].fusing(steps[j]) {
                    steps[i] = merged
                    steps.remove(at: j)
                    stepNodes.remove(at: j)
                    changed = true
                    continue
                }
                i += 1
            }
        }
    }

    // MARK: Layout

    private struct Buffer {
        var count: Int
        /// Step indices of the definition and the last read.
        var first: Int
        var last: Int
        var offset = 0
        var local = false
    }

    /// Lays out memory for `capacity` units (1 when the plan is not per unit) and returns
    /// the plan. `memoryLimit` bounds arena, scratch and local storage, in bytes.
    func build(capacity: Int, memoryLimit: Int, batched: Bool) throws(ModelError) -> Plan {
        let graphOutputs = graphOutputIDs()
        let entries = table.entries
        // Each runtime value (written by a step) gets a buffer; in place when its step allows
        // it and the input dies there with the same size.
        var bufferOf = [Int](repeating: -1, count: entries.count)
        var buffers: [Buffer] = []
        var lastRead = [Int](repeating: -1, count: entries.count)
        for (i, s) in steps.enumerated() { for r in s.reads { lastRead[r.index] = max(lastRead[r.index], i) } }
        for v in graphOutputs { lastRead[v.index] = Int.max }
        let inputIDs = Set(inputNames.compactMap { idOf[$0] })
        var sharers: [[Int]] = []
        for (i, s) in steps.enumerated() {
            for (k, w) in s.writes.enumerated() where bufferOf[w.index] < 0 {
                let count = table.count(w)
                if k == 0, let p = s.inPlace, p < s.reads.count {
                    let source = s.reads[p]
                    let b = bufferOf[source.index]
                    if b >= 0, !inputIDs.contains(source), buffers[b].count == count,
                       sharers[b].allSatisfy({ lastRead[$0] <= i }) {
                        bufferOf[w.index] = b
                        sharers[b].append(w.index)
                        continue
                    }
                }
                buffers.append(Buffer(count: count, first: i, last: i))
                bufferOf[w.index] = buffers.count - 1
                sharers.append([w.index])
            }
        }
        for (v, b) in bufferOf.enumerated() where b >= 0 {
            buffers[b].last = max(buffers[b].last, lastRead[v] == Int.max ? steps.count : max(lastRead[v], buffers[b].first))
        }
        let independentSlices = batched && !steps.contains { $0.traits.contains(.splitsItself) && !$0.traits.contains(.product) }
        // Segments: each maximal run of non-product steps containing a step that splits
        // itself runs depth-first (see `Stage`), in batch plans.
        var stages: [Stage] = []
        var segments: [Range<Int>] = []
        var j = 0
        while j < steps.count {
            if !batched || independentSlices || steps[j].traits.contains(.product) {
                stages.append(.step(j))
                j += 1
                continue
            }
            var end = j
            while end < steps.count && !steps[end].traits.contains(.product) { end += 1 }
            if steps[j..<end].contains(where: { $0.traits.contains(.splitsItself) }) {
                segments.append(j..<end)
            } else {
                stages += (j..<end).map { .step($0) }
            }
            j = end
        }
        var localPerUnit = 0
        for b in buffers.indices {
            guard let seg = segments.first(where: { $0.contains(buffers[b].first) }) else {
                if let seg = segments.first(where: { $0.contains(buffers[b].last) }) { buffers[b].last = seg.upperBound - 1 }
                continue
            }
            if seg.contains(buffers[b].last) {
                buffers[b].local = true
                buffers[b].offset = localPerUnit
                localPerUnit += (buffers[b].count + 15) / 16 * 16
            } else {
                buffers[b].first = seg.lowerBound
                if let end = segments.first(where: { $0.contains(buffers[b].last) }) { buffers[b].last = end.upperBound - 1 }
            }
        }
        let block = max(1, min(capacity, PlanBuilder.blockBytes / max(1, localPerUnit * MemoryLayout<Float>.size)))
        for seg in segments { stages.append(.blocks(seg, blockSize: block)) }
        stages.sort { $0.firstStep < $1.firstStep }
        // Arena: best-fit reuse of dead buffers (none in independent-slice plans).
        var free: [(offset: Int, size: Int)] = []
        var active: [Int] = []
        var top = 0
        func size(_ b: Int) -> Int { (buffers[b].count * capacity + 15) / 16 * 16 }
        for b in buffers.indices.sorted(by: { buffers[$0].first < buffers[$1].first }) where !buffers[b].local {
            active.removeAll { a in
                if !independentSlices && buffers[a].last < buffers[b].first {
                    free.append((buffers[a].offset, size(a)))
                    return true
                }
                return false
            }
            let need = size(b)
            if let best = free.indices.filter({ free[$0].size >= need }).min(by: { free[$0].size < free[$1].size }) {
                buffers[b].offset = free[best].offset
                if free[best].size > need {
                    free[best] = (free[best].offset + need, free[best].size - need)
                } else {
                    free.remove(at: best)
                }
            } else {
                buffers[b].offset = top
                top += need
            }
            active.append(b)
        }
        // Slots: inputs, constants, arena, local.
        var slots = [Slot](repeating: Slot(base: Slot.arena, offset: 0, stride: 0), count: entries.count)
        var constants: [Float] = []
        for (k, name) in inputNames.enumerated() {
            if let id = idOf[name] { slots[id.index] = Slot(base: Slot.firstInput + k, offset: 0, stride: table.count(id)) }
        }
        for (i, e) in entries.enumerated() {
            if let c = e.constant {
                while constants.count % 16 != 0 { constants.append(0) }
                slots[i] = Slot(base: Slot.constants, offset: constants.count, stride: 0)
                constants += c
            } else if bufferOf[i] >= 0 {
                let b = buffers[bufferOf[i]]
                slots[i] = Slot(base: b.local ? Slot.local : Slot.arena, offset: b.local ? b.offset * block : b.offset,
                                stride: table.count(ValueID(i)))
            }
        }
        for (i, s) in steps.enumerated() {
            let (perCore, o) = s.scratch(serial: true).multipliedReportingOverflow(by: Parallel.ways)
            let need = max(s.scratch(serial: false), o ? Int.max : perCore)
            if need > memoryLimit / MemoryLayout<Float>.size {
                let node = analysis.graph.nodes[stepNodes[i]]
                throw ModelError(.unsupportedModel, place: node.label(index: stepNodes[i]),
                                 problem: "its scratch (\(need == Int.max ? "more than \(Int.max)" : "\(need)") floats: \(s.summary)) exceeds the executor's memory limit of \(Executor.byteText(memoryLimit))")
            }
        }
        let scratchWhole = steps.map { $0.scratch(serial: false) }.max() ?? 0
        let scratchPerSlice = steps.map { $0.scratch(serial: true) }.max() ?? 0
        // Checked before anything is allocated from these sizes.
        let floats = [top, scratchWhole, scratchPerSlice * Parallel.ways, localPerUnit * block * Parallel.ways]
        var total = 0
        for f in floats {
            let (sum, o) = total.addingReportingOverflow(f)
            guard !o else { total = Int.max; break }
            total = sum
        }
        if total > memoryLimit / MemoryLayout<Float>.size {
            throw ModelError(.unsupportedModel, place: "graph",
                             problem: "the plan needs \(total == Int.max ? "more than \(Int.max)" : "\(total)") floats of activations and scratch, more than the executor's memory limit of \(Executor.byteText(memoryLimit))")
        }
        var outputs: [Plan.Output] = []
        for o in analysis.graph.outputs {
            if let id = idOf[o.name], analysis.values[o.name]?.isConstant == false {
                outputs.append(.value(id, unitShape: analysis.values[o.name]?.shape ?? []))
            } else if let v = analysis.values[o.name], v.isConstant {
                outputs.append(.constant(v))
            } else {
                throw ModelError(.unsupportedModel, place: "graph output '\(o.name)'", problem: "has no value")
            }
        }
        return Plan(steps: steps, stages: stages, slots: slots, constants: constants, arenaCount: top,
                    scratchWhole: max(scratchWhole, scratchPerSlice * Parallel.ways), scratchPerSlice: scratchPerSlice,
                    localPerSlice: localPerUnit * block, runsAsIndependentSlices: independentSlices, outputs: outputs)
    }
}
