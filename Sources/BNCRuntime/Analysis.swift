import BNCGraph
import BNCKernels
import BNCOps

/// Everything planning knows about a graph for given runtime inputs: each node's operator
/// (its internal form for the model's opset) and the facts of every value — shape, element
/// type and, for values known before anything runs, the contents.
///
/// Contents are computed here, once: initializers and Constants; shape arithmetic
/// (`Operator.outputs` fills it in); and any node whose inputs are all known, by running its
/// lowered steps on them (`ConstantEvaluation`). What remains are the runtime nodes, which
/// the plan lowers and runs.
struct Analysis {
    let graph: Graph
    let opset: Int
    /// Facts of every value by name.
    var values: [String: PlanValue] = [:]
    /// Operator and view per node.
    var operators: [(any Operator, NodeView)] = []
    /// Nodes with an output not known while planning, in graph order.
    var runtimeNodes: [Int] = []

    /// Limit on the elements of any one value (from the executor's memory limit), checked
    /// before a value is computed.
    let elementLimit: Int

    /// Analyzes `graph` with runtime inputs of the given facts (float inputs: shape only;
    /// integer inputs: shape and contents).
    init(graph: Graph, opset: Int, inputs: [String: PlanValue], elementLimit: Int) throws(ModelError) {
        self.graph = graph
        self.opset = opset
        self.elementLimit = elementLimit
        for t in graph.initializers {
            guard let v = PlanValue(t) else {
                throw ModelError(.unsupportedDataType, place: "tensor '\(t.name)'", problem: "has element type \(DataType.name(t.dataType))")
            }
            values[t.name] = v
        }
        for (name, v) in inputs where values[name] == nil { values[name] = v }
        for (index, node) in graph.nodes.enumerated() {
            try analyze(node, index: index)
        }
    }

    private mutating func analyze(_ node: Node, index: Int) throws(ModelError) {
        let (type, view) = try Registry.resolve(node, index: index, opset: opset)
        let op = try type.init(view)
        operators.append((op, view))
        var facts: [PlanValue?] = []
        for name in node.inputs {
            if name.isEmpty { facts.append(nil); continue }
            guard let v = values[name] else {
                throw ModelError(.undefinedInput, place: view.label, problem: "input '\(name)' is not defined before this node")
            }
            facts.append(v)
        }
        let inputs = Inputs(view: view, values: facts)
        var outs = try op.outputs(inputs)
        let produced = node.outputs.count
        guard outs.count >= produced || node.outputs[outs.count...].allSatisfy(\.isEmpty) else {
            throw view.fail("output \(outs.count) '\(node.outputs[outs.count])' is not produced by \(node.opType)-\(view.version)")
        }
        for (k, v) in outs.enumerated() where k < produced && !node.outputs[k].isEmpty {
            // Runtime values are sized against the memory limit with the whole plan (see
            // `Compilation`); here only overflow. Constants are held while planning.
            guard let n = Tensor.checkedElementCount(v.shape), n <= (v.isConstant ? elementLimit : 1 << 40) else {
                throw view.fail("output '\(node.outputs[k])' would have shape \(shapeText(v.shape)), more elements than the executor's memory limit allows")
            }
            guard n > 0 else {
                throw view.fail("output '\(node.outputs[k])' would have shape \(shapeText(v.shape)); bnc does not run empty tensors")
            }
        }
        let allKnown = facts.allSatisfy { $0?.isConstant ?? true }
        let used = (0..<min(produced, outs.count)).filter { !node.outputs[$0].isEmpty }
        if used.contains(where: { !outs[$0].isConstant }) {
            if allKnown {
                // Known inputs, unknown outputs: run the node's steps on the constants now.
                outs = try ConstantEvaluation.evaluate(op, view, inputs: inputs, outputs: outs, elementLimit: elementLimit)
            } else if let k = used.first(where: { outs[$0].type != .float && !outs[$0].isConstant }) {
                throw view.fail("computes the \(outs[k].type.name) output '\(node.outputs[k])' from run-time data; bnc runs integer tensors only when they are known while planning")
            } else {
                runtimeNodes.append(index)
            }
        }
        for k in used { values[node.outputs[k]] = outs[k] }
    }
}

/// Runs one node whose inputs are all constants through its own lowered steps, once, while
/// planning: the same kernels as at run time, so a folded constant equals what the graph
/// would compute.
enum ConstantEvaluation {
    static func evaluate(
        _ op: any Operator, _ view: NodeView, inputs: Inputs, outputs: [PlanValue], elementLimit: Int
    ) throws(ModelError) -> [PlanValue] {
        let node = view.node
        var wanted: [Int] = []
        for (k, name) in node.outputs.enumerated() where !name.isEmpty && k < outputs.count && !outputs[k].isConstant {
            guard outputs[k].type == .float else {
                throw view.fail("cannot compute its \(outputs[k].type.name) output '\(name)' while planning")
            }
            wanted.append(k)
        }
        let table = ValueTable()
        var outputIDs: [ValueID?] = Array(repeating: nil, count: outputs.count)
        for k in wanted { outputIDs[k] = table.runtime(node.outputs[k], shape: outputs[k].shape) }
        var lowering = Lowering(view: view, inputs: inputs, outputs: outputs, table: table,
                                runtimeInputs: Array(repeating: nil, count: node.inputs.count), outputIDs: outputIDs)
        try op.lower(&lowering)
        var results = outputs
        var aliased: [Int: [Float]] = [:]
        for (k, i) in lowering.aliases {
            guard let v = inputs[i]?.floats else { throw view.fail("cannot alias a missing input while planning") }
            aliased[k] = v
        }
        let program = try StepProgram(steps: lowering.steps, table: table, elementLimit: elementLimit)
        let computed = program.run(outputs: wanted.filter { aliased[$0] == nil }.compactMap { outputIDs[$0] })
        var next = 0
        for k in wanted {
            if let v = aliased[k] {
                results[k].contents = .floats(v)
            } else {
                results[k].contents = .floats(computed[next])
                next += 1
            }
        }
        return results
    }
}

/// Steps run once on constants, each value in its own buffer: what `ConstantEvaluation`
/// uses (the executor's arena and scheduling are for runtime plans).
struct StepProgram {
    let steps: [any Step]
    let table: ValueTable
    let offsets: [Int]
    let total: Int

    init(steps: [any Step], table: ValueTable, elementLimit: Int) throws(ModelError) {
        self.steps = steps
        self.table = table
        var offsets: [Int] = []
        var total = 0
        for e in table.entries {
            offsets.append(total)
            total += (Tensor.checkedElementCount(e.shape) ?? Int.max / 2 + 15) / 16 * 16 + 16
            if total > elementLimit {
                throw ModelError(.unsupportedModel, place: "graph", problem: "a constant computed while planning needs more than the executor's memory limit")
            }
        }
        self.offsets = offsets
        self.total = total
    }

    /// Runs every step and returns the contents of `outputs`.
    func run(outputs: [ValueID]) -> [[Float]] {
        let memory = UnsafeMutablePointer<Float>.allocate(capacity: max(1, total))
        memory.initialize(repeating: 0, count: max(1, total))
        defer { memory.deallocate() }
        for (i, e) in table.entries.enumerated() {
            if let c = e.constant { (memory + offsets[i]).update(from: c, count: c.count) }
        }
        var slots = offsets.map { Slot(base: Slot.arena, offset: $0, stride: 0) }
        let scratchCount = steps.map { $0.scratch(serial: false) }.max() ?? 0
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(1, scratchCount))
        scratch.initialize(repeating: 0, count: max(1, scratchCount))
        defer { scratch.deallocate() }
        var bases = [memory, memory, memory]
        slots.withUnsafeMutableBufferPointer { s in
            bases.withUnsafeMutableBufferPointer { b in
                let frame = Frame(slots: s.baseAddress!, bases: b.baseAddress!, blockFirst: 0, scratch: scratch)
                for step in steps { step.run(frame, units: 0..<1, serial: false) }
            }
        }
        return outputs.map { id in Array(UnsafeBufferPointer(start: memory + offsets[id.index], count: table.count(id))) }
    }
}
