import BNCGraph
import BNCOps

/// Reading and writing bnc model files (ONNX `ModelProto`, see schemas/onnx.proto).
///
/// Every model that `load`/`decode` returns has passed the wire-level checks of the
/// decoder and `ModelValidator.validate` (structure, opset, each node against its operator). Errors carry the file, the place (byte offset,
/// node, tensor, attribute) and the problem.
///
/// Tensors stored as ONNX external data are read from their side files relative to the
/// model's folder (`ExternalDataReader`, which checks every location and range first), and
/// a model that had them is saved with a new side file (`ExternalDataWriter`).
public enum ModelFile {
    /// Largest model file bnc reads: protobuf messages are limited to 2 GiB. Side files of
    /// external data are not counted: they may be of any size.
    public static let maximumFileSize = Int(Int32.max)

    /// Reads, decodes and validates the model at `path`, with its external data.
    public static func load(path: String) throws(ModelError) -> Model {
        let bytes = try AtomicFile.read(path, limit: maximumFileSize)
        return try decode(bytes, path: path, externalDataFolder: folder(of: path))
    }

    /// Decodes and validates a model from bytes; `path` names the source in errors.
    /// A stored integrity digest (`bnc.integrity.sha256`) must match the tensors. Tensors
    /// stored as external data are read from `externalDataFolder`; without one, a model
    /// that has them is refused.
    public static func decode(_ bytes: [UInt8], path: String? = nil, externalDataFolder: String? = nil) throws(ModelError) -> Model {
        do throws(ModelError) {
            var model = try ModelDecoder.decode(bytes)
            try resolveExternalData(&model, folder: externalDataFolder)
            try ModelValidator.validate(model)
            if case .mismatch(let stored, let computed) = TensorDigest.status(of: model) {
                throw ModelError(.integrityMismatch, place: "metadata '\(MetadataKey.integritySHA256)'",
                                 problem: "the tensors hash to \(computed.prefix(16))…, the file says \(stored.prefix(16))…: a weight was changed or damaged after the file was written")
            }
            return model
        } catch {
            throw path.map { error.inFile($0) } ?? error
        }
    }

    /// Decodes without semantic validation (for tools that inspect broken files); external
    /// data is read when `externalDataFolder` is given, else such tensors stay empty.
    public static func decodeUnvalidated(_ bytes: [UInt8], path: String? = nil, externalDataFolder: String? = nil) throws(ModelError) -> Model {
        do throws(ModelError) {
            var model = try ModelDecoder.decode(bytes)
            if let externalDataFolder { try resolveExternalData(&model, folder: externalDataFolder) }
            return model
        } catch {
            throw path.map { error.inFile($0) } ?? error
        }
    }

    /// Encodes a model with its integrity digest set (`TensorDigest.stamped`), every tensor
    /// inside the model (also those loaded from external data; `save` keeps them outside).
    /// The same model always gives the same bytes, and so does a re-encode of a decode.
    public static func encode(_ model: Model) -> [UInt8] {
        ModelEncoder.encode(TensorDigest.stamped(model))
    }

    /// Encodes exactly the given model, without adding or refreshing a digest.
    public static func encodeUnstamped(_ model: Model) -> [UInt8] {
        ModelEncoder.encode(model)
    }

    /// Validates, encodes and atomically writes `model` to `path`; a model with external
    /// data gets a new side file beside `path`, written atomically with it (see
    /// `ExternalDataWriter` for which tensors go there and how).
    /// An IR < 4 model is written with every initializer listed among its graph inputs, as
    /// that IR requires (`InitializerInputs.restore`; entries already there are kept).
    public static func save(_ model: Model, to path: String) throws(ModelError) {
        var model = model
        if InitializerInputs.listed(irVersion: model.irVersion) {
            model.graph = InitializerInputs.restore(model.graph, originalInputs: model.graph.inputs)
        }
        do {
            try ModelValidator.validate(model)
        } catch {
            throw error.inFile(path)
        }
        if ExternalDataWriter.usesExternalData(model) {
            try ExternalDataWriter.save(TensorDigest.stamped(model), to: path)
        } else {
            try AtomicFile.write(encode(model), to: path)
        }
    }

    /// Whether any tensor of the model was stored as external data.
    public static func hasExternalData(_ model: Model) -> Bool {
        ExternalDataReader.hasExternalData(model)
    }

    /// The folder a model file's relative external-data locations start from.
    public static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    private static func resolveExternalData(_ model: inout Model, folder: String?) throws(ModelError) {
        guard ExternalDataReader.hasExternalData(model) else { return }
        guard let folder else {
            let name = model.graph.initializers.first { $0.external != nil }?.name ?? "?"
            throw ModelError(.unsupportedModel, place: "tensor '\(name)'",
                             problem: "stores its data in an external file; load the model from its file so that the side file can be found")
        }
        try ExternalDataReader.resolve(&model, folder: folder)
    }
}
