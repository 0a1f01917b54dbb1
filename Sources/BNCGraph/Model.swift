/// A whole model file's content: an ONNX `ModelProto` as Swift values.
public struct Model: Equatable, Sendable {
    /// ONNX IR version; bnc writes `Model.irVersionWritten`.
    public var irVersion: Int64
    public var opsetImports: [OpsetImport]
    public var producerName: String
    public var producerVersion: String
    public var domain: String
    public var modelVersion: Int64
    public var docString: String
    public var graph: Graph
    /// `metadata_props`, in file order. bnc's own keys start with "bnc." (see `MetadataKey`).
    public var metadata: [MetadataEntry]
    public var unknownFields: UnknownFields

    /// The IR version bnc writes (ONNX 1.10+).
    public static let irVersionWritten: Int64 = 8
    /// The default-domain operator set bnc writes.
    public static let opsetWritten: Int64 = 15
    public init(
        graph: Graph, irVersion: Int64 = Model.irVersionWritten,
        opsetImports: [OpsetImport] = [OpsetImport(domain: "", version: Model.opsetWritten)],
        producerName: String = "bnc", producerVersion: String = "", domain: String = "",
        modelVersion: Int64 = 0, docString: String = "", metadata: [MetadataEntry] = [],
        unknownFields: UnknownFields = UnknownFields()
    ) {
        self.irVersion = irVersion
        self.opsetImports = opsetImports
        self.producerName = producerName
        self.producerVersion = producerVersion
        self.domain = domain
        self.modelVersion = modelVersion
        self.docString = docString
        self.graph = graph
        self.metadata = metadata
        self.unknownFields = unknownFields
    }

    /// The version of the default ONNX operator set ("" or "ai.onnx"), if imported.
    public var defaultOpset: Int64? {
        opsetImports.first { $0.domain == "" || $0.domain == "ai.onnx" }?.version
    }

    /// Metadata value for `key` (the first entry with that key). Setting nil removes
    /// every entry with the key; setting a value replaces the first or appends.
    public subscript(metadata key: String) -> String? {
        get { metadata.first { $0.key == key }?.value }
        set {
            if let newValue {
                if let i = metadata.firstIndex(where: { $0.key == key }) {
                    metadata[i].value = newValue
                } else {
                    metadata.append(MetadataEntry(key: key, value: newValue))
                }
            } else {
                metadata.removeAll { $0.key == key }
            }
        }
    }
}

/// An `OperatorSetIdProto`: which version of an operator domain the graph uses.
public struct OpsetImport: Equatable, Sendable {
    public var domain: String
    public var version: Int64
    public var unknownFields: UnknownFields

    public init(domain: String, version: Int64, unknownFields: UnknownFields = UnknownFields()) {
        self.domain = domain
        self.version = version
        self.unknownFields = unknownFields
    }
}

/// A `StringStringEntryProto` of `metadata_props`.
public struct MetadataEntry: Equatable, Sendable {
    public var key: String
    public var value: String
    public var unknownFields: UnknownFields

    public init(key: String, value: String, unknownFields: UnknownFields = UnknownFields()) {
        self.key = key
        self.value = value
        self.unknownFields = unknownFields
    }
}
