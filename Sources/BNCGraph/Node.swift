/// One operator application: an ONNX `NodeProto`.
public struct Node: Equatable, Sendable {
    /// Node name; may be empty in files from other tools (see `label`).
    public var name: String
    /// ONNX operator name, e.g. "BatchNormalization".
    public var opType: String
    /// Operator domain; "" (or "ai.onnx") is the default ONNX domain.
    public var domain: String
    /// Input value names in operator order; "" marks an omitted optional input.
    public var inputs: [String]
    /// Output value names in operator order.
    public var outputs: [String]
    public var attributes: [Attribute]
    public var docString: String
    public var unknownFields: UnknownFields

    public init(
        name: String, opType: String, domain: String = "", inputs: [String], outputs: [String],
        attributes: [Attribute] = [], docString: String = "", unknownFields: UnknownFields = UnknownFields()
    ) {
        self.name = name
        self.opType = opType
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
        self.docString = docString
        self.unknownFields = unknownFields
    }

    /// How messages name this node: `node 'bn1' (BatchNormalization)`, or by position
    /// when it has no name (`node #3 (Gemm)`); `index` is its position in the graph.
    public func label(index: Int? = nil) -> String {
        if !name.isEmpty { return "node '\(name)' (\(opType))" }
        if let index { return "node #\(index) (\(opType))" }
        return "unnamed node (\(opType))"
    }

    /// The attribute with this name, if present.
    public func attribute(_ name: String) -> Attribute? {
        attributes.first { $0.name == name }
    }

    /// Sets (replacing or appending) an attribute.
    public mutating func setAttribute(_ attribute: Attribute) {
        if let i = attributes.firstIndex(where: { $0.name == attribute.name }) {
            attributes[i] = attribute
        } else {
            attributes.append(attribute)
        }
    }

    /// An INT attribute, or `defaultValue` when absent. Throws when present with another type.
    public func int(_ name: String, default defaultValue: Int64) throws(ModelError) -> Int64 {
        guard let a = attribute(name) else { return defaultValue }
        guard case .int(let v) = a.value else { throw wrongType(a, expected: "INT") }
        return v
    }

    /// A FLOAT attribute, or `defaultValue` when absent. Throws when present with another type.
    public func float(_ name: String, default defaultValue: Float) throws(ModelError) -> Float {
        guard let a = attribute(name) else { return defaultValue }
        guard case .float(let v) = a.value else { throw wrongType(a, expected: "FLOAT") }
        return v
    }

    /// An INTS attribute, or nil when absent. Throws when present with another type.
    public func ints(_ name: String) throws(ModelError) -> [Int64]? {
        guard let a = attribute(name) else { return nil }
        guard case .ints(let v) = a.value else { throw wrongType(a, expected: "INTS") }
        return v
    }

    /// A STRING attribute decoded as UTF-8, or nil when absent. Throws when present with another type.
    public func string(_ name: String) throws(ModelError) -> String? {
        guard let a = attribute(name) else { return nil }
        guard case .string(let v) = a.value else { throw wrongType(a, expected: "STRING") }
        return String(decoding: v, as: UTF8.self)
    }

    private func wrongType(_ a: Attribute, expected: String) -> ModelError {
        ModelError(
            .wrongAttributeType, place: "\(label()) attribute '\(a.name)'",
            problem: "has type \(a.value.typeName), expected \(expected)")
    }
}

/// A named node attribute: an ONNX `AttributeProto`.
public struct Attribute: Equatable, Sendable {
    public var name: String
    public var value: AttributeValue
    public var docString: String
    public var unknownFields: UnknownFields

    public init(_ name: String, _ value: AttributeValue, docString: String = "", unknownFields: UnknownFields = UnknownFields()) {
        self.name = name
        self.value = value
        self.docString = docString
        self.unknownFields = unknownFields
    }
}

/// The typed value of an attribute (ONNX `AttributeProto.AttributeType`).
public enum AttributeValue: Equatable, Sendable {
    case float(Float)
    case int(Int64)
    /// Raw bytes; ONNX strings are UTF-8 by convention.
    case string([UInt8])
    case tensor(Tensor)
    case floats([Float])
    case ints([Int64])
    case strings([[UInt8]])

    /// The ONNX `AttributeType` code.
    public var typeCode: Int32 {
        switch self {
        case .float: return 1
        case .int: return 2
        case .string: return 3
        case .tensor: return 4
        case .floats: return 6
        case .ints: return 7
        case .strings: return 8
        }
    }

    /// The ONNX name of the type ("FLOAT", "INTS", ...).
    public var typeName: String { AttributeValue.typeName(typeCode) }

    /// The ONNX name of an `AttributeType` code.
    public static func typeName(_ code: Int32) -> String {
        switch code {
        case 0: return "UNDEFINED"
        case 1: return "FLOAT"
        case 2: return "INT"
        case 3: return "STRING"
        case 4: return "TENSOR"
        case 5: return "GRAPH"
        case 6: return "FLOATS"
        case 7: return "INTS"
        case 8: return "STRINGS"
        case 9: return "TENSORS"
        case 10: return "GRAPHS"
        case 11: return "SPARSE_TENSOR"
        case 12: return "SPARSE_TENSORS"
        default: return "code \(code)"
        }
    }
}
