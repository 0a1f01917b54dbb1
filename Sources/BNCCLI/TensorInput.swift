import BNCData
import BNCGraph
import BNCModelFile

#if canImport(Glibc)
import Glibc
#endif

/// One model input as `bnc infer` read it from a file: the whole tensor, batch dim first,
/// in the element type the model input declares.
struct InputTensor: Equatable {
    var name: String
    var file: String
    var dims: [Int]
    var storage: Tensor.Storage
}

/// Reads `bnc infer`'s input files, whatever their format, into model inputs.
///
/// The format is recognised by content, then by name: `\x93NUMPY` is `.npy`; a file named
/// `*.pb` that is not IDX is one serialized ONNX `TensorProto` (ONNX's test data); anything else
/// is IDX (plain or gzip), whose reader explains what it expected. IDX files read whole become
/// Float values as `IDXTensor` converts them, unsigned bytes scaled as the model's
/// `bnc.input.scaling` says (x/255 by default); `.npy` and `.pb` data are values as they are.
///
/// The values are converted to the model input's element type: FLOAT takes float32, float64
/// (rounded; beyond Float's range refused) and integers (int32/int64 beyond ±2²⁴ rounded); INT64
/// takes integers and bools; INT32 takes integers within its range; BOOL takes bools. Anything
/// else is refused naming both types. The file's dims must equal the input's full shape, batch
/// dim included: fixed dims exactly, a symbolic dim any size (the same name the same size across
/// inputs); a mismatch is one line naming both shapes.
enum TensorInput {
    enum Format: Equatable { case idx, npy, tensorProto }

    /// The format of `path` (its first bytes, then its name).
    static func format(of path: String) -> Format {
        var head = [UInt8](repeating: 0, count: 6)
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        var got = 0
        if fd >= 0 {
            got = max(0, head.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 6) })
            close(fd)
        }
        let prefix = Array(head.prefix(got))
        if NPYFile.hasMagic(prefix) { return .npy }
        let idxMagic = prefix.count >= 2 && ((prefix[0] == 0 && prefix[1] == 0) || (prefix[0] == 0x1F && prefix[1] == 0x8B))
        let lower = path.lowercased()
        if lower.hasSuffix(".pb") && !idxMagic { return .tensorProto }
        if lower.hasSuffix(".npy") { return .npy }
        return .idx
    }

    /// `NAME=FILE` of `--input`, split at the first `=`.
    static func parse(_ spec: String) -> (name: String, file: String)? {
        guard let eq = spec.firstIndex(of: "="), eq != spec.startIndex, spec.index(after: eq) != spec.endIndex else { return nil }
        return (String(spec[..<eq]), String(spec[spec.index(after: eq)...]))
    }

    /// Reads `path` as the whole value of model input `input` (from `modelPath`).
    static func read(_ path: String, for input: ValueInfo, model: Model, modelPath: String) throws -> InputTensor {
        let array: NumericArray
        switch format(of: path) {
        case .npy:
            array = try NPYFile.read(path: path)
        case .tensorProto:
            let t = try TensorFile.load(path: path)
            array = NumericArray(dims: t.dims, elements: elements(t.storage))
        case .idx:
            let reader = try IDXReader(path: path)
            let scale = try ModelInput.scale(expression: model[metadata: MetadataKey.inputScaling], elementType: reader.elementType, modelPath: modelPath)
            let t = try IDXTensor.read(reader, scale: scale)
            array = NumericArray(dims: t.dims, elements: .float32(t.values))
        }
        let storage = try convert(array, file: path, to: input, modelPath: modelPath)
        return InputTensor(name: input.name, file: path, dims: array.dims, storage: storage)
    }

    /// Checks every input's dims against its model input; a symbolic dim takes one size
    /// across all inputs.
    static func checkShapes(_ inputs: [InputTensor], of graph: Graph, modelPath: String) throws(DataError) {
        var sizes: [String: (Int, String)] = [:]
        for t in inputs {
            guard let info = graph.inputs.first(where: { $0.name == t.name }), let shape = info.shape else { continue }
            func mismatch(_ why: String) -> DataError {
                DataError(file: t.file, place: "dims \(t.dims)",
                          problem: "do not match \(modelPath) input '\(t.name)' (\(info.shapeDescription))\(why); the file holds the whole input, batch dim included")
            }
            guard shape.count == t.dims.count else { throw mismatch("") }
            for (i, d) in shape.enumerated() {
                switch d {
                case .value(let v) where Int64(t.dims[i]) != v:
                    throw mismatch(": dim \(i) is \(t.dims[i]), not \(v)")
                case .param(let p):
                    if let (size, other) = sizes[p], size != t.dims[i] {
                        throw mismatch(": dim \(i) '\(p)' is \(t.dims[i]) here but \(size) in \(other)")
                    }
                    sizes[p] = (t.dims[i], t.file)
                default:
                    break
                }
            }
        }
    }

    /// numpy-style elements of a tensor's storage.
    static func elements(_ s: Tensor.Storage) -> NumericArray.Elements {
        switch s {
        case .float(let v): return .float32(v)
        case .int64(let v): return .int64(v)
        case .int32(let v): return .int32(v)
        case .bool(let v): return .bool(v)
        }
    }

    /// The array's values in the model input's element type, or the reason they do not fit.
    static func convert(_ a: NumericArray, file: String, to input: ValueInfo, modelPath: String) throws -> Tensor.Storage {
        let type = input.elemType == DataType.undefined ? DataType.float : input.elemType
        func refuse(_ takes: String) -> DataError {
            DataError(file: file, place: "\(a.elements.typeName) elements",
                      problem: "\(modelPath) input '\(input.name)' is \(DataType.name(type)), which takes \(takes)")
        }
        switch type {
        case DataType.float:
            if case .float64(let v) = a.elements, let bad = v.firstIndex(where: { !Float($0).isFinite && $0.isFinite }) {
                throw DataError(file: file, place: "element \(bad)", problem: "\(v[bad]) is beyond the float32 range of \(modelPath) input '\(input.name)'")
            }
            if case .bool = a.elements { throw refuse("float or integer values") }
            return .float(a.floatValues())
        case DataType.int64:
            guard let v = a.integerValues else { throw refuse("integer or bool values") }
            return .int64(v)
        case DataType.int32:
            guard let v = a.integerValues else { throw refuse("integer or bool values within its range") }
            if let bad = v.firstIndex(where: { Int32(exactly: $0) == nil }) {
                throw DataError(file: file, place: "element \(bad)", problem: "\(v[bad]) does not fit \(modelPath) input '\(input.name)' (INT32)")
            }
            return .int32(v.map { Int32($0) })
        case DataType.bool:
            guard case .bool(let v) = a.elements else { throw refuse("bool values") }
            return .bool(v)
        default:
            throw ModelError(.unsupportedModel, file: modelPath, place: "graph input '\(input.name)'",
                             problem: "has element type \(DataType.name(type)); bnc feeds FLOAT, INT64, INT32 and BOOL inputs")
        }
    }
}
