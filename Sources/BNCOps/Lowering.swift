import BNCGraph
import BNCKernels
#if canImport(Glibc)
import Glibc
#endif

// How an operator's node becomes kernel calls. The planner (BNCRuntime) gives each
// operator a `Lowering`; the operator emits `Step`s that name their values by `ValueID`;
// the planner fuses steps, lays out memory and hands each step a `Frame` at run time.
//
// Sizes in steps are per "unit": the value's shape when the plan runs one sample. In a
// batch-polymorphic plan a unit is one sample (dim 0 of the graph input is 1), and a step
// runs `samples` units one after the other in memory; otherwise the whole tensors are one
// unit and steps run exactly one.

/// A value of a plan: a runtime tensor or a constant buffer.
public struct ValueID: Hashable, Sendable, CustomStringConvertible {
    public let index: Int
    public init(_ index: Int) { self.index = index }
    public var description: String { "v\(index)" }
}

/// Where a value lives at run time: `base` picks a storage area of the frame, unit i
/// starts at `offset + i·stride` floats (stride 0: the same data for every unit, as for
/// constants).
public struct Slot: Sendable, Equatable {
    /// Storage areas, indices into `Frame.bases`.
    public static let arena = 0, constants = 1, local = 2, firstInput = 3

    public var base: Int
    public var offset: Int
    public var stride: Int

    public init(base: Int, offset: Int, stride: Int) {
        self.base = base
        self.offset = offset
        self.stride = stride
    }
}

/// What a step sees while it runs: pointers to its values and its scratch.
public struct Frame {
    @usableFromInline let slots: UnsafePointer<Slot>
    @usableFromInline let bases: UnsafePointer<UnsafeMutablePointer<Float>>
    /// The first unit of the block held in block-local storage.
    @usableFromInline let blockFirst: Int
    /// Scratch for this step: `Step.scratch(serial:)` floats.
    public let scratch: UnsafeMutablePointer<Float>

    public init(
        slots: UnsafePointer<Slot>, bases: UnsafePointer<UnsafeMutablePointer<Float>>, blockFirst: Int,
        scratch: UnsafeMutablePointer<Float>
    ) {
        self.slots = slots
        self.bases = bases
        self.blockFirst = blockFirst
        self.scratch = scratch
    }

    /// Unit `unit` of value `v`.
    @inlinable @inline(__always)
    public func pointer(_ v: ValueID, _ unit: Int) -> UnsafeMutablePointer<Float> {
        let s = slots[v.index]
        let u = s.base == Slot.local ? unit - blockFirst : unit
        return bases[s.base] + s.offset + u * s.stride
    }

    /// Read-only unit `unit` of value `v`.
    @inlinable @inline(__always)
    public func input(_ v: ValueID, _ unit: Int) -> UnsafePointer<Float> { UnsafePointer(pointer(v, unit)) }
}

/// How a step may be scheduled.
public struct StepTraits: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// Unit i of every output depends only on unit i of the runtime inputs (and on
    /// constants): the plan may run a batch in slices and blocks of units.
    public static let perUnit = StepTraits(rawValue: 1)
    /// The kernel splits its work over the cores itself when not run serially (it must then
    /// not run inside a per-core slice unless `serial` is set).
    public static let splitsItself = StepTraits(rawValue: 2)
    /// A matrix product: runs on the whole chunk of units at once (it splits itself), and
    /// ends a depth-first segment.
    public static let product = StepTraits(rawValue: 4)
}

/// A pointwise map that a step before it may apply to its own output while it is in cache.
public enum Epilogue: Sendable, Equatable {
    /// y = f(x).
    case activation(Activation)
    /// y = x·scale[c] + shift[c] for x seen per unit as (outer, channels, inner); scale or
    /// shift nil means 1 or 0. Both are constant values of `channels` floats.
    case channelAffine(outer: Int, channels: Int, inner: Int, scale: ValueID?, shift: ValueID?)
}

/// One kernel call of a plan.
public protocol Step {
    /// Values read (runtime values and constant buffers).
    var reads: [ValueID] { get }
    /// Values written (their slots are the planner's to choose).
    var writes: [ValueID] { get }
    var traits: StepTraits { get }
    /// The index in `reads` of an input whose memory `writes[0]` may reuse when the input
    /// dies here and has the same size (elementwise steps); nil when the output must not
    /// overlap any input.
    var inPlace: Int? { get }
    /// Floats of scratch: for one core when `serial`, for the whole step otherwise.
    func scratch(serial: Bool) -> Int
    /// Runs `units` (a contiguous range; one unit in plans that are not batch-polymorphic).
    /// `serial`: run on this thread only (inside a per-core slice), with `frame.scratch`
    /// sized `scratch(serial: true)`.
    func run(_ frame: Frame, units: Range<Int>, serial: Bool)
    /// When this step is a pointwise map of `reads[0]` into `writes[0]`: the map, so that
    /// the step producing its input can absorb it.
    var epilogue: Epilogue? { get }
    /// This step with `next` (the only reader of this step's output, which is not a graph
    /// output) done in the same pass, or nil when it cannot absorb it.
    func fusing(_ next: any Step) -> (any Step)?
    /// Short description for reports and tests, e.g. "conv 3×3 32→64 +relu".
    var summary: String { get }
    /// This step with its kernels prepared once the plan's steps are fused (primitives of an
    /// outside library, weights packed into their layout); itself when it has nothing to prepare.
    func compiled(_ options: PlanOptions) -> any Step
    /// Which library's kernel runs the step: "bnc", or e.g. "onednn brgconv:avx512_core".
    var kernel: String { get }
    /// How the step can meet activations held in a chain's order (`ActivationOrder`).
    var orderUse: OrderUse { get }
    /// This step reading `reads[0]` in `input` order and writing `writes[0]` in `output` order
    /// (steps whose `orderUse` is not `.none`; the others return themselves).
    func ordered(input: ActivationOrder, output: ActivationOrder) -> any Step
}

/// How a step meets activations held in the order chains of convolutions hand each other
/// (channels-last or channel blocks, `PlanOptions.chainOrder`; see `PlanBuilder`, which picks
/// the values held so).
public enum OrderUse: Sendable, Equatable {
    /// Reads and writes bnc's planes only.
    case none
    /// Runs in planes or in the chain's order as long as its operands and its output share it:
    /// a pointwise map of runtime operands of its output's size (the same floats in any
    /// order), or a pooling with a kernel for each order (told by `ordered(input:output:)`,
    /// input and output alike).
    case sameOrder
    /// Reads `reads[0]` (its only runtime operand of that order) and writes `writes[0]` in
    /// planes or in the chain's order, each its own (`ordered(input:output:)`): a convolution
    /// on oneDNN, which turns the order at a chain's ends, or a global pooling, whose output
    /// (one value per channel) is the same floats in every order.
    case eitherOrder
}

/// Which kernels a plan may use.
public struct PlanOptions: Sendable, Equatable {
    /// Convolutions through oneDNN (`DNNLConvolution`) where it has a primitive; otherwise,
    /// and with false, bnc's im2col + GEMM.
    public var oneDNN: Bool
    /// The order chains of oneDNN convolutions hand each other activations in (no reorders
    /// between them): the one oneDNN works in on this CPU (`DNNLConvolution.chainOrder`:
    /// channels-last, or channel blocks), `.planes` for no chains.
    public var chainOrder: ActivationOrder

    /// oneDNN's order on this CPU, unless the environment sets `BNC_CHAINS=0` (every
    /// convolution then reads and writes planes).
    public static let chainOrderByDefault: ActivationOrder = {
        if let v = getenv("BNC_CHAINS"), String(cString: v) == "0" { return .planes }
        return DNNLConvolution.chainOrder
    }()

    /// `chainOrder` nil: oneDNN's order on this CPU (`chainOrderByDefault`); chains only with oneDNN.
    public init(oneDNN: Bool = DNNL.isAvailable, chainOrder: ActivationOrder? = nil) {
        self.oneDNN = oneDNN
        self.chainOrder = oneDNN ? chainOrder ?? PlanOptions.chainOrderByDefault : .planes
    }
}

extension Step {
    public var inPlace: Int? { nil }
    public func scratch(serial: Bool) -> Int { 0 }
    public var epilogue: Epilogue? { nil }
    public func fusing(_ next: any Step) -> (any Step)? { nil }
    public func compiled(_ options: PlanOptions) -> any Step { self }
    public var kernel: String { "bnc" }
    public var orderUse: OrderUse { .none }
    public func ordered(input: ActivationOrder, output: ActivationOrder) -> any Step { self }
}

/// Values of a plan, shared by the planner and the lowering of each node.
public final class ValueTable {
    public struct Entry {
        /// Shape per unit.
        public var shape: [Int]
        /// Contents of a constant buffer; nil for runtime values.
        public var constant: [Float]?
        /// The graph value it holds, "" for buffers made by a lowering (BN coefficients…).
        public var name: String
    }

    public private(set) var entries: [Entry] = []
    private var constantByName: [String: ValueID] = [:]

    public init() {}

    /// A new runtime value.
    public func runtime(_ name: String, shape: [Int]) -> ValueID {
        entries.append(Entry(shape: shape, constant: nil, name: name))
        return ValueID(entries.count - 1)
    }

    /// The constant buffer of a graph value (one per name).
    public func constant(named name: String, shape: [Int], floats: [Float]) -> ValueID {
        if let id = constantByName[name] { return id }
        entries.append(Entry(shape: shape, constant: floats, name: name))
        let id = ValueID(entries.count - 1)
        constantByName[name] = id
        return id
    }

    /// A constant buffer made by a lowering.
    public func constant(_ floats: [Float], shape: [Int]) -> ValueID {
        entries.append(Entry(shape: shape, constant: floats, name: ""))
        return ValueID(entries.count - 1)
    }

    public subscript(_ id: ValueID) -> Entry { entries[id.index] }

    /// Floats per unit of a value.
    public func count(_ id: ValueID) -> Int { Tensor.elementCount(entries[id.index].shape) }
}

/// One node's lowering: its facts, the ids of its values, and the steps it emits.
public struct Lowering {
    public let view: NodeView
    /// Facts about the inputs (shapes per unit).
    public let inputs: Inputs
    /// Facts about the outputs (shapes per unit).
    public let outputs: [PlanValue]
    public let table: ValueTable
    /// Runtime inputs' ids (nil for constants and omitted inputs).
    let runtimeInputs: [ValueID?]
    let outputIDs: [ValueID?]

    public private(set) var steps: [any Step] = []
    /// Outputs that are the memory of an input with a new shape: output index → input index.
    public private(set) var aliases: [Int: Int] = [:]

    public init(view: NodeView, inputs: Inputs, outputs: [PlanValue], table: ValueTable,
                runtimeInputs: [ValueID?], outputIDs: [ValueID?]) {
        self.view = view
        self.inputs = inputs
        self.outputs = outputs
        self.table = table
        self.runtimeInputs = runtimeInputs
        self.outputIDs = outputIDs
    }

    public func fail(_ problem: String) -> ModelError { view.fail(problem) }

    /// Whether input i is known while planning (a weight, a folded constant).
    public func isConstant(_ i: Int) -> Bool { inputs[i]?.isConstant ?? false }

    /// The value of input i: the runtime tensor, or the constant's buffer.
    public func value(_ i: Int) throws(ModelError) -> ValueID {
        if i < runtimeInputs.count, let id = runtimeInputs[i] { return id }
        let v = try inputs.float(i)
        guard let floats = v.floats else { throw fail("input \(i) has no value") }
        return table.constant(named: inputs.name(i), shape: v.shape, floats: floats)
    }

    /// The value of output k.
    public func output(_ k: Int = 0) -> ValueID {
        guard k < outputIDs.count, let id = outputIDs[k] else {
            preconditionFailure("Lowering.output: output \(k) of \(view.label) has no runtime value")
        }
        return id
    }

    /// Whether output k is read by anything (a later node or the graph's outputs).
    public func isUsed(_ k: Int) -> Bool { k < outputIDs.count && outputIDs[k] != nil }

    public mutating func emit(_ step: any Step) { steps.append(step) }

    /// Output k is input i's memory with a new shape (Reshape, Flatten, Identity, …).
    public mutating func alias(output k: Int = 0, input i: Int = 0) { aliases[k] = i }

    /// A constant buffer made by the lowering (e.g. BN's per-channel coefficients).
    public func constant(_ floats: [Float], shape: [Int]) -> ValueID { table.constant(floats, shape: shape) }
}
