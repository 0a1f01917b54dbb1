import BNCData
import BNCGraph
import BNCModelFile

/// `bnc infer --output FILE`: the model's raw outputs, for comparison with other runtimes.
///
/// `.npy` (numpy) or `.pb` (one serialized ONNX `TensorProto`, as ONNX's test data) hold one
/// output, so they are for one-output models; `.npz` holds every output under its name
/// (`numpy.load(FILE)[name]`). Each output is the whole batch (dim 0) in the output's element
/// type. The file is written atomically (temporary file beside it, fsync, rename).
enum TensorOutput {
    enum Kind: Equatable { case npy, tensorProto, npz }

    /// The kind of output file `path` names, by extension; nil for any other.
    static func kind(of path: String) -> Kind? {
        let lower = path.lowercased()
        if lower.hasSuffix(".npy") { return .npy }
        if lower.hasSuffix(".pb") { return .tensorProto }
        if lower.hasSuffix(".npz") { return .npz }
        return nil
    }

    /// Refuses a one-array file for a model with several outputs, before anything runs.
    static func check(_ path: String, outputs: [String], modelPath: String) throws(ModelError) {
        guard let kind = kind(of: path), kind != .npz, outputs.count > 1 else { return }
        throw ModelError(.unsupportedModel, file: modelPath, place: "graph outputs",
                         problem: "the model has \(outputs.count) outputs (\(outputs.joined(separator: ", "))) and --output \(path) holds one; use an .npz file for all of them")
    }

    /// Writes `outputs` to `path` (its kind checked by `check`).
    static func write(_ outputs: [(name: String, dims: [Int], storage: Tensor.Storage)], to path: String) throws {
        let bytes: [UInt8]
        switch kind(of: path) {
        case .npy:
            let o = outputs[0]
            bytes = NPYFile.encoded(NumericArray(dims: o.dims, elements: TensorInput.elements(o.storage)))
        case .tensorProto:
            let o = outputs[0]
            bytes = TensorFile.encode(Tensor(name: o.name, dims: o.dims, storage: o.storage))
        case .npz:
            bytes = try NPZFile.encoded(outputs.map { ($0.name, NumericArray(dims: $0.dims, elements: TensorInput.elements($0.storage))) }, path: path)
        case nil:
            preconditionFailure("--output \(path): kind checked in validate()")
        }
        try AtomicFile.write(bytes, to: path)
    }

    /// "y 3×4×5 float32": one output in a line of text.
    static func describe(_ o: (name: String, dims: [Int], storage: Tensor.Storage)) -> String {
        "\(o.name) \(o.dims.isEmpty ? "scalar" : o.dims.map(String.init).joined(separator: "×")) \(TensorInput.elements(o.storage).typeName)"
    }
}
