import BNCGraph
import BNCOps

/// Reading and writing bnc model files (ONNX `ModelProto`, see schemas/onnx.proto).
///
/// Every model that `load`/`decode` returns has passed the wire-level checks of the
/// decoder and `ModelValidator.validate` (structure, opset, each node against its operator). Errors carry the file, the place (byte offset,
/// node, tensor, attribute) and the problem.
public enum ModelFile {
    /// Largest model file bnc reads: protobuf messages are limited to 2 GiB.
    public static let maximumFileSize = Int(Int32.max)

    /// Reads, decodes and validates the model at `path`.
    public static func load(path: String) throws(ModelError) -> Model {
        let bytes = try AtomicFile.read(path, limit: maximumFileSize)
        return try decode(bytes, path: path)
    }

    /// Decodes and validates a model from bytes; `path` names the source in errors.
    /// A stored integrity digest (`bnc.integrity.sha256`) must match the tensors.
    public static func decode(_ bytes: [UInt8], path: String? = nil) throws(ModelError) -> Model {
        do throws(ModelError) {
            let model = try ModelDecoder.decode(bytes)
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

    /// Decodes without semantic validation (for tools that inspect broken files).
    public static func decodeUnvalidated(_ bytes: [UInt8], path: String? = nil) throws(ModelError) -> Model {
        do {
            return try ModelDecoder.decode(bytes)
        } catch {
            throw path.map { error.inFile($0) } ?? error
        }
    }

    /// Encodes a model with its integrity digest set (`TensorDigest.stamped`).
    /// The same model always gives the same bytes, and so does a re-encode of a decode.
    public static func encode(_ model: Model) -> [UInt8] {
        ModelEncoder.encode(TensorDigest.stamped(model))
    }

    /// Encodes exactly the given model, without adding or refreshing a digest.
    public static func encodeUnstamped(_ model: Model) -> [UInt8] {
        ModelEncoder.encode(model)
    }

    /// Validates, encodes and atomically writes `model` to `path`.
    public static func save(_ model: Model, to path: String) throws(ModelError) {
        do {
            try ModelValidator.validate(model)
        } catch {
            throw error.inFile(path)
        }
        try AtomicFile.write(encode(model), to: path)
    }
}
