/// A computation graph: an ONNX `GraphProto`.
///
/// Nodes are in topological order. Values are named: each name is produced once, by a
/// graph input, an initializer or a node output (the validator checks this).
public struct Graph: Equatable, Sendable {
    public var name: String
    /// Nodes in topological order.
    public var nodes: [Node]
    /// Constant tensors (weights, BN statistics, shapes).
    public var initializers: [Tensor]
    /// Values fed by the caller. May also name initializers (IR < 4 style).
    public var inputs: [ValueInfo]
    public var outputs: [ValueInfo]
    /// Optional type/shape annotations of intermediate values.
    public var valueInfo: [ValueInfo]
    public var docString: String
    public var unknownFields: UnknownFields

    public init(
        name: String = "", nodes: [Node] = [], initializers: [Tensor] = [], inputs: [ValueInfo] = [],
        outputs: [ValueInfo] = [], valueInfo: [ValueInfo] = [], docString: String = "",
        unknownFields: UnknownFields = UnknownFields()
    ) {
        self.name = name
        self.nodes = nodes
        self.initializers = initializers
        self.inputs = inputs
        self.outputs = outputs
        self.valueInfo = valueInfo
        self.docString = docString
        self.unknownFields = unknownFields
    }

    /// The initializer with this name, if any.
    public func initializer(named name: String) -> Tensor? {
        initializers.first { $0.name == name }
    }

    /// Index of the initializer with this name, if any.
    public func initializerIndex(named name: String) -> Int? {
        initializers.firstIndex { $0.name == name }
    }

    /// Graph inputs that are not initializers: the values a caller must feed.
    public var runtimeInputs: [ValueInfo] {
        let constants = Set(initializers.map(\.name))
        return inputs.filter { !constants.contains($0.name) }
    }

    /// Index of the node producing `value`, if a node does.
    public func producer(of value: String) -> Int? {
        nodes.firstIndex { $0.outputs.contains(value) }
    }

    /// Indices of the nodes reading `value` (a node reading it twice is listed once).
    public func consumers(of value: String) -> [Int] {
        nodes.indices.filter { nodes[$0].inputs.contains(value) }
    }

    /// Whether `value` is one of the graph's outputs.
    public func isGraphOutput(_ value: String) -> Bool {
        outputs.contains { $0.name == value }
    }
}

/// Name, element type and shape of a value: an ONNX `ValueInfoProto` with a tensor type.
public struct ValueInfo: Equatable, Sendable {
    /// One dimension of a shape: a fixed size, a symbolic name (e.g. "N"), or unknown.
    public enum Dimension: Equatable, Sendable, CustomStringConvertible {
        case value(Int64)
        case param(String)
        case unknown

        public var description: String {
            switch self {
            case .value(let v): return String(v)
            case .param(let p): return p
            case .unknown: return "?"
            }
        }
    }

    public var name: String
    /// ONNX element type code (1 = FLOAT); 0 when the file gives none.
    public var elemType: Int32
    /// The shape, or nil when the file gives none (unknown rank).
    public var shape: [Dimension]?
    /// `TypeProto.denotation` (e.g. "TENSOR"), "" when absent.
    public var denotation: String
    /// `Dimension.denotation` per entry of `shape` (e.g. "DATA_BATCH"); empty, or one
    /// entry per dimension with "" where absent.
    public var dimensionDenotations: [String]
    public var docString: String
    public var unknownFields: UnknownFields

    public init(
        name: String, elemType: Int32 = DataType.float, shape: [Dimension]?, denotation: String = "",
        dimensionDenotations: [String] = [], docString: String = "",
        unknownFields: UnknownFields = UnknownFields()
    ) {
        self.name = name
        self.elemType = elemType
        self.shape = shape
        self.denotation = denotation
        self.dimensionDenotations = dimensionDenotations
        self.docString = docString
        self.unknownFields = unknownFields
    }

    /// Shape as text, e.g. "N×784" or "?" for unknown rank.
    public var shapeDescription: String {
        guard let shape else { return "?" }
        if shape.isEmpty { return "scalar" }
        return shape.map(\.description).joined(separator: "×")
    }
}
