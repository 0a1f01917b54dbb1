/// Why a model could not be read, checked or written.
///
/// Rendered as one line: `file: place: problem`, e.g.
/// `model.pb: tensor 'fc1.weight': 12 elements for dims [4, 4] (16 expected)`.
public struct ModelError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What kind of failure this is; tests and callers branch on it.
    public enum Kind: String, Equatable, Sendable {
        /// The bytes are not a protobuf message of the schema (truncated, corrupt, not ONNX).
        case malformed
        /// A required field is missing (ir_version, graph, a node's op_type, ...).
        case missingField
        /// A tensor's element type is not one bnc handles.
        case unsupportedDataType
        /// A tensor's dims are negative, overflow, or do not match its data.
        case badShape
        /// An operator (or domain, or attribute) outside bnc's supported subset.
        case unsupportedOperator
        /// An attribute has the wrong ONNX type or an invalid value.
        case wrongAttributeType
        /// A value name is produced twice, or two initializers share a name.
        case duplicateName
        /// A node reads a value that nothing defines.
        case undefinedInput
        /// The nodes form a cycle or are not topologically sorted.
        case cycle
        /// No default-domain opset is imported, or its version is outside the supported range.
        case badOpset
        /// A numeric value is invalid (NaN/Inf weight, negative variance, ...).
        case badValue
        /// The stored SHA-256 of the tensors does not match the tensors.
        case integrityMismatch
        /// The model is valid but not something this operation can use (shape mismatch, ...).
        case unsupportedModel
        /// Reading or writing the file failed.
        case io
    }

    public var kind: Kind
    /// The file, when known; the loader fills it in.
    public var file: String?
    /// Where in the file: `node 'bn1' (BatchNormalization)`, `tensor 'w'`, `byte 0`, ...
    public var place: String
    /// What is wrong, as a sentence fragment without a trailing period.
    public var problem: String

    public init(_ kind: Kind, file: String? = nil, place: String, problem: String) {
        self.kind = kind
        self.file = file
        self.place = place
        self.problem = problem
    }

    /// This error with `file` set (when it was not already).
    public func inFile(_ path: String) -> ModelError {
        var e = self
        if e.file == nil { e.file = path }
        return e
    }

    public var description: String {
        var parts: [String] = []
        if let file { parts.append(file) }
        if !place.isEmpty { parts.append(place) }
        parts.append(problem)
        return parts.joined(separator: ": ")
    }
}
