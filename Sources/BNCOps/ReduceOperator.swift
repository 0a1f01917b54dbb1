import BNCGraph
import BNCKernels

/// A reduction over axes (ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd,
/// ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSum, ReduceLogSumExp): each file gives the
/// mode and the version from which the axes are an input; the schema, the axes rule, the
/// shape rule and the lowering (one `Reduction` kernel) are these.
///
/// Before `axesInputVersion` (18; ReduceSum 13) the axes are the `axes` attribute; absent
/// or empty means every axis. From it they are the optional INT64 input 1, which bnc needs
/// while planning (refused by name when computed at run time); absent or empty means every
/// axis, or no axis with `noop_with_empty_axes` = 1 (each element then passes through the
/// mode's map: ReduceL2 gives |x|, ReduceSumSquare x², as onnxruntime does). Axes may be
/// negative (counting from the end) and repeat (counted once, as onnxruntime accepts).
/// `keepdims` (default 1) keeps each reduced axis as size 1.
///
/// A reduction over the spatial axes of (N, C, spatial…) is a global pool (ReduceMean as
/// GlobalAveragePool, ReduceMax as GlobalMaxPool). Over an axis that includes dim 0 (the
/// batch) the plan runs whole tensors. Integer inputs (shape arithmetic) are reduced while
/// planning by ReduceSum, ReduceProd, ReduceMax and ReduceMin, overflow refused.
protocol ReduceOperator: Operator {
    static var mode: Reduction.Mode { get }
    /// The first version whose axes are an input.
    static var axesInputVersion: Int { get }
    var reduce: ReduceAttributes { get }
    init(reduce: ReduceAttributes)
}

/// The attributes of a reduction node in one form for every version.
struct ReduceAttributes: Sendable {
    /// The `axes` attribute (versions before the axes input); nil when absent.
    var axes: [Int64]?
    var keepDims: Bool
    var noopWithEmptyAxes: Bool
    /// Whether the axes come from input 1.
    var axesFromInput: Bool
}

extension ReduceOperator {
    static func schema(_ version: Int) -> Schema {
        version >= axesInputVersion
            ? Schema(inputs: 1...2, attributes: [.int("keepdims", default: 1), .int("noop_with_empty_axes", default: 0)])
            : Schema(inputs: 1...1, attributes: [.ints("axes"), .int("keepdims", default: 1)])
    }

    init(_ node: NodeView) throws(ModelError) {
        let a = node.attributes
        let fromInput = node.version >= Self.axesInputVersion
        self.init(reduce: ReduceAttributes(
            axes: fromInput ? nil : try a.ints("axes"), keepDims: try a.flag("keepdims"),
            noopWithEmptyAxes: fromInput ? try a.flag("noop_with_empty_axes") : false, axesFromInput: fromInput))
    }
}

/// What a reduction node does to a shape: the axes reduced and the output shape.
struct ReducePlan {
    /// reduced[d]: whether dimension d is reduced.
    var reduced: [Bool]
    var output: [Int]
}

extension ReduceAttributes {
    func plan(_ inputs: Inputs) throws(ModelError) -> ReducePlan {
        let shape = try inputs.value(0).shape
        let rank = shape.count
        var list: [Int64]? = axes
        if axesFromInput && inputs.has(1) {
            let v = try inputs.constantInts(1, role: "axes")
            guard try inputs.value(1).rank <= 1 else {
                throw inputs.fail("axes input '\(inputs.name(1))' has shape \(shapeText(try inputs.shape(1))); it must be 1-D", kind: .badValue)
            }
            list = v
        }
        var reduced = [Bool](repeating: false, count: rank)
        if let list, !list.isEmpty {
            for a in list { reduced[try inputs.axis(a, rank: rank, what: "axes value")] = true }
        } else if !noopWithEmptyAxes {
            reduced = [Bool](repeating: true, count: rank)
        }
        var output: [Int] = []
        for (d, n) in shape.enumerated() {
            if !reduced[d] { output.append(n) } else if keepDims { output.append(1) }
        }
        return ReducePlan(reduced: reduced, output: output)
    }
}

extension ReduceOperator {
    public func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let x = try inputs.value(0)
        let plan = try reduce.plan(inputs)
        if x.type == .float { return [PlanValue(shape: plan.output)] }
        return [try integerReduction(inputs, x, plan)]
    }

    public func lower(_ l: inout Lowering) throws(ModelError) {
        let x = try l.inputs.float(0)
        let plan = try reduce.plan(l.inputs)
        if !plan.reduced.contains(true) && Self.mode.isIdentityOnOneElement { return l.alias() }
        l.emit(ReduceStep(mode: Self.mode, x: try l.value(0), y: l.output(), layout: Reduction.Layout(shape: x.shape, reduced: plan.reduced),
                          perUnit: !(plan.reduced.first ?? false)))
    }

    /// An integer reduction while planning (sum, prod, max, min of shape arithmetic).
    private func integerReduction(_ inputs: Inputs, _ x: PlanValue, _ plan: ReducePlan) throws(ModelError) -> PlanValue {
        let op = inputs.view.node.opType
        let combine: (Int64, Int64) -> Int64?
        let start: Int64
        switch Self.mode {
        case .sum: (start, combine) = (0, { a, b in let (v, o) = a.addingReportingOverflow(b); return o ? nil : v })
        case .prod: (start, combine) = (1, { a, b in let (v, o) = a.multipliedReportingOverflow(by: b); return o ? nil : v })
        case .max: (start, combine) = (Int64.min, { Swift.max($0, $1) })
        case .min: (start, combine) = (Int64.max, { Swift.min($0, $1) })
        default:
            throw inputs.fail("input '\(inputs.name(0))' is \(x.type.name); bnc computes \(op) in FLOAT", kind: .unsupportedDataType)
        }
        guard x.type != .bool else {
            throw inputs.fail("input '\(inputs.name(0))' is BOOL; bnc reduces numbers", kind: .unsupportedDataType)
        }
        guard let values = x.ints else {
            throw inputs.fail("computes \(x.type.name) values from run-time data; bnc runs integer tensors only when they are known while planning")
        }
        let layout = Reduction.Layout(shape: x.shape, reduced: plan.reduced)
        // Output index of each input element, walking x in memory order (as the kernel does).
        var out = [Int64](repeating: start, count: layout.outputCount)
        var failed = false
        let strides = Broadcast.strides(x.shape.enumerated().map { plan.reduced[$0.offset] ? 1 : $0.element }, to: x.shape)
        var flat = 0
        forEachIndex(x.shape) { i in
            let o = offset(i, strides)
            if let v = combine(out[o], values[flat]) { out[o] = v } else { failed = true }
            flat += 1
        }
        let range: ClosedRange<Int64> = x.type == .int32 ? Int64(Int32.min)...Int64(Int32.max) : Int64.min...Int64.max
        guard !failed, out.allSatisfy({ range.contains($0) }) else {
            throw inputs.fail("\(op) of these \(x.type.name) values overflows", kind: .badValue)
        }
        return PlanValue(shape: plan.output, ints: out, type: x.type)
    }
}
