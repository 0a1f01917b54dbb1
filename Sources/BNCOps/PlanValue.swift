import BNCGraph

/// Element types a value can have while planning. Float32 is the type of computation; the
/// integer types (and bool, held as 0/1) exist for shape arithmetic and indices and are
/// always known while planning, never computed at run time.
public enum ElementType: Sendable, Equatable, Hashable {
    case float, int64, int32, bool

    /// The type of an ONNX `TensorProto.DataType` code, or nil for one bnc does not handle.
    public init?(dataType code: Int32) {
        switch code {
        case DataType.float: self = .float
        case DataType.int64: self = .int64
        case DataType.int32: self = .int32
        case DataType.bool: self = .bool
        default: return nil
        }
    }

    /// The ONNX `TensorProto.DataType` code.
    public var dataType: Int32 {
        switch self {
        case .float: return DataType.float
        case .int64: return DataType.int64
        case .int32: return DataType.int32
        case .bool: return DataType.bool
        }
    }

    /// "FLOAT", "INT64", …
    public var name: String { DataType.name(dataType) }

    public var isInteger: Bool { self != .float }
}

/// What planning knows about one value: its shape and element type always, its contents
/// when they are known before anything runs (initializers, `Constant`, shape arithmetic,
/// and anything computed from those alone).
public struct PlanValue: Sendable, Equatable {
    /// Contents: floats for FLOAT, Int64 for every integer type and bool.
    public enum Contents: Sendable, Equatable {
        case floats([Float])
        case ints([Int64])
    }

    /// Dimensions, outermost first; [] for a scalar.
    public var shape: [Int]
    public var type: ElementType
    public var contents: Contents?

    public init(shape: [Int], type: ElementType = .float, contents: Contents? = nil) {
        self.shape = shape
        self.type = type
        self.contents = contents
    }

    /// A constant float value.
    public init(shape: [Int], floats: [Float]) {
        precondition(floats.count == Tensor.elementCount(shape), "PlanValue: \(floats.count) floats for \(shape)")
        self.init(shape: shape, type: .float, contents: .floats(floats))
    }

    /// A constant integer value (`type` one of the integer types).
    public init(shape: [Int], ints: [Int64], type: ElementType = .int64) {
        precondition(ints.count == Tensor.elementCount(shape), "PlanValue: \(ints.count) ints for \(shape)")
        self.init(shape: shape, type: type, contents: .ints(ints))
    }

    /// The facts of a tensor of the model (an initializer or a Constant's value); nil for an
    /// element type bnc does not handle.
    public init?(_ tensor: Tensor) {
        switch tensor.storage {
        case .float(let v): self.init(shape: tensor.dims, type: .float, contents: .floats(v))
        case .int64(let v): self.init(shape: tensor.dims, type: .int64, contents: .ints(v))
        case .int32(let v): self.init(shape: tensor.dims, type: .int32, contents: .ints(v.map(Int64.init)))
        case .bool(let v): self.init(shape: tensor.dims, type: .bool, contents: .ints(v.map { $0 ? 1 : 0 }))
        }
    }

    /// Number of elements.
    public var count: Int { Tensor.elementCount(shape) }
    public var rank: Int { shape.count }
    public var isConstant: Bool { contents != nil }

    /// The contents as floats (nil when unknown or integer).
    public var floats: [Float]? {
        if case .floats(let v) = contents { return v }
        return nil
    }

    /// The contents as integers (nil when unknown or float).
    public var ints: [Int64]? {
        if case .ints(let v) = contents { return v }
        return nil
    }

    /// The value as a model tensor (contents required), in its own element type.
    public func tensor(named name: String) -> Tensor? {
        switch contents {
        case .floats(let v)?: return Tensor(name: name, dims: shape, floats: v)
        case .ints(let v)?:
            switch type {
            case .int32: return Tensor(name: name, dims: shape, int32s: v.map { Int32(truncatingIfNeeded: $0) })
            case .bool: return Tensor(name: name, dims: shape, bools: v.map { $0 != 0 })
            default: return Tensor(name: name, dims: shape, int64s: v)
            }
        case nil: return nil
        }
    }

    /// "2×3×4 FLOAT", "scalar INT64".
    public var description: String {
        (shape.isEmpty ? "scalar" : shape.map(String.init).joined(separator: "×")) + " " + type.name
    }
}

/// The inputs of one node as its operator sees them while planning.
public struct Inputs: Sendable {
    public let view: NodeView
    /// One entry per node input; nil for an omitted optional input ("").
    public let values: [PlanValue?]

    public init(view: NodeView, values: [PlanValue?]) {
        self.view = view
        self.values = values
    }

    /// Number of inputs given (trailing omitted ones not counted).
    public var count: Int {
        var n = values.count
        while n > 0 && values[n - 1] == nil { n -= 1 }
        return n
    }

    public subscript(_ i: Int) -> PlanValue? { i < values.count ? values[i] : nil }

    public func has(_ i: Int) -> Bool { self[i] != nil }

    /// The input's name in the graph.
    public func name(_ i: Int) -> String { i < view.node.inputs.count ? view.node.inputs[i] : "" }

    public func fail(_ problem: String, kind: ModelError.Kind = .unsupportedModel) -> ModelError {
        view.fail(problem, kind: kind)
    }

    /// Input i, which must be present.
    public func value(_ i: Int) throws(ModelError) -> PlanValue {
        guard let v = self[i] else { throw fail("input \(i) is missing") }
        return v
    }

    /// Input i, which must be present and FLOAT (the type bnc computes in).
    public func float(_ i: Int) throws(ModelError) -> PlanValue {
        let v = try value(i)
        guard v.type == .float else {
            throw fail("input \(i) '\(name(i))' is \(v.type.name); bnc computes \(view.node.opType) in FLOAT", kind: .unsupportedDataType)
        }
        return v
    }

    /// The shape of input i (present).
    public func shape(_ i: Int) throws(ModelError) -> [Int] { try value(i).shape }

    /// Integer contents of input i, which must be known while planning (a shape, axes,
    /// indices…): `role` names it in the error.
    public func constantInts(_ i: Int, role: String) throws(ModelError) -> [Int64] {
        let v = try value(i)
        guard v.type.isInteger else {
            throw fail("\(role) input '\(name(i))' is \(v.type.name); it must be an integer tensor", kind: .unsupportedDataType)
        }
        guard let ints = v.ints else {
            throw fail("\(role) input '\(name(i))' is computed at run time; bnc needs it while planning (an initializer, a Constant, or shape arithmetic)")
        }
        return ints
    }

    /// Float contents of input i, which must be known while planning.
    public func constantFloats(_ i: Int, role: String) throws(ModelError) -> [Float] {
        let v = try float(i)
        guard let f = v.floats else {
            throw fail("\(role) input '\(name(i))' is computed at run time; bnc needs it as a constant")
        }
        return f
    }

    /// An axis attribute or input normalized to 0..<rank (negative counts from the end).
    public func axis(_ a: Int64, rank: Int, what: String = "axis") throws(ModelError) -> Int {
        guard let i = Int(exactly: a), i >= -rank, i < rank else {
            throw fail("\(what) \(a) is out of range for rank \(rank)", kind: .badValue)
        }
        return i < 0 ? i + rank : i
    }
}

/// "(2, 3, 4)": shapes in messages.
public func shapeText(_ s: [Int]) -> String { "(" + s.map(String.init).joined(separator: ", ") + ")" }
