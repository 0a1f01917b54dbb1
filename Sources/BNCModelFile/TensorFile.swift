import BNCGraph
import COnnxProto
import CProtobufC

/// One serialized ONNX `TensorProto` per file (`.pb`): the format of the inputs and
/// expected outputs in ONNX's test data (`test_data_set_0/input_0.pb`).
///
/// Reading applies the model loader's tensor checks (element type, dims, data length
/// before any allocation, BOOL 0/1) and names the file in every error; tensors with
/// external data are refused (a lone tensor file has no model folder to resolve against).
/// Writing gives little-endian `raw_data`, as bnc writes model tensors.
public enum TensorFile {
    /// Largest tensor file bnc reads: protobuf messages are limited to 2 GiB.
    public static let maximumFileSize = Int(Int32.max)

    /// Reads and checks the tensor at `path`.
    public static func load(path: String) throws(ModelError) -> Tensor {
        try decode(AtomicFile.read(path, limit: maximumFileSize), path: path)
    }

    /// Decodes a tensor from bytes; `path` names the source in errors.
    public static func decode(_ bytes: [UInt8], path: String? = nil) throws(ModelError) -> Tensor {
        do throws(ModelError) {
            let message: UnsafeMutablePointer<Onnx__TensorProto>? = bytes.withUnsafeBufferPointer { buf in
                onnx__tensor_proto__unpack(nil, buf.count, buf.baseAddress)
            }
            guard let message else {
                throw WireScanner.locateDamage(in: bytes, message: "TensorProto")
            }
            defer { onnx__tensor_proto__free_unpacked(message, nil) }
            if message.pointee.has_data_type == 0 {
                throw ModelError(.missingField, place: "TensorProto",
                                 problem: bytes.isEmpty ? "the file is empty" : "data_type is missing (is this a model rather than a tensor?)")
            }
            return try ModelDecoder.tensor(message.pointee, place: nil)
        } catch {
            throw path.map { error.inFile($0) } ?? error
        }
    }

    /// The `TensorProto` bytes of `tensor`.
    public static func encode(_ tensor: Tensor) -> [UInt8] {
        ModelEncoder.encode(tensor)
    }

    /// Encodes and atomically writes `tensor` to `path`.
    public static func save(_ tensor: Tensor, to path: String) throws(ModelError) {
        try AtomicFile.write(encode(tensor), to: path)
    }
}
