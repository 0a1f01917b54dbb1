/// A named, dense, row-major tensor held in Swift memory: an ONNX `TensorProto`.
///
/// bnc stores Float32 weights, the integer tensors of shape arithmetic (Int64 as ONNX's
/// shape operators use them, Int32 as tf2onnx writes them) and Bool tensors (Dropout's
/// `training_mode`, masks); other ONNX element types are rejected by the loader with a
/// message naming the tensor.
public struct Tensor: Equatable, Sendable {
    /// Element storage. The count always equals the product of `dims`.
    public enum Storage: Equatable, Sendable {
        case float([Float])
        case int64([Int64])
        case int32([Int32])
        case bool([Bool])
    }

    public var name: String
    /// Dimensions, outermost first. `[]` is a scalar (one element).
    public var dims: [Int]
    public var storage: Storage
    public var docString: String
    /// Fields of the `TensorProto` that bnc's schema leaves out, kept for re-save.
    public var unknownFields: UnknownFields

    public init(
        name: String, dims: [Int], storage: Storage, docString: String = "",
        unknownFields: UnknownFields = UnknownFields()
    ) {
        self.name = name
        self.dims = dims
        self.storage = storage
        self.docString = docString
        self.unknownFields = unknownFields
    }

    /// A Float32 tensor. `values.count` must equal the product of `dims`.
    public init(name: String, dims: [Int], floats values: [Float], docString: String = "") {
        precondition(values.count == Tensor.elementCount(dims), "tensor \(name): \(values.count) values for dims \(dims)")
        self.init(name: name, dims: dims, storage: .float(values), docString: docString)
    }

    /// An Int64 tensor. `values.count` must equal the product of `dims`.
    public init(name: String, dims: [Int], int64s values: [Int64], docString: String = "") {
        precondition(values.count == Tensor.elementCount(dims), "tensor \(name): \(values.count) values for dims \(dims)")
        self.init(name: name, dims: dims, storage: .int64(values), docString: docString)
    }

    /// An Int32 tensor. `values.count` must equal the product of `dims`.
    public init(name: String, dims: [Int], int32s values: [Int32], docString: String = "") {
        precondition(values.count == Tensor.elementCount(dims), "tensor \(name): \(values.count) values for dims \(dims)")
        self.init(name: name, dims: dims, storage: .int32(values), docString: docString)
    }

    /// A Bool tensor. `values.count` must equal the product of `dims`.
    public init(name: String, dims: [Int], bools values: [Bool], docString: String = "") {
        precondition(values.count == Tensor.elementCount(dims), "tensor \(name): \(values.count) values for dims \(dims)")
        self.init(name: name, dims: dims, storage: .bool(values), docString: docString)
    }

    /// The ONNX `TensorProto.DataType` code of the storage (FLOAT = 1, INT32 = 6, INT64 = 7,
    /// BOOL = 9).
    public var dataType: Int32 { storage.dataType }

    /// The Float32 elements, or nil for a tensor of another type.
    public var floats: [Float]? {
        if case .float(let v) = storage { return v }
        return nil
    }

    /// The Int64 elements, or nil for a tensor of another type.
    public var int64s: [Int64]? {
        if case .int64(let v) = storage { return v }
        return nil
    }

    /// The Int32 elements, or nil for a tensor of another type.
    public var int32s: [Int32]? {
        if case .int32(let v) = storage { return v }
        return nil
    }

    /// The Bool elements, or nil for a tensor of another type.
    public var bools: [Bool]? {
        if case .bool(let v) = storage { return v }
        return nil
    }

    /// The elements of an integer or Bool tensor widened to Int64 (false = 0, true = 1),
    /// exactly; nil for a Float32 tensor. For shape arithmetic, whatever type the file used.
    public var integers: [Int64]? {
        switch storage {
        case .float: return nil
        case .int64(let v): return v
        case .int32(let v): return v.map(Int64.init)
        case .bool(let v): return v.map { $0 ? 1 : 0 }
        }
    }

    /// Number of elements.
    public var count: Int { storage.count }

    /// Bytes per element in ONNX's little-endian `raw_data` form (BOOL: one byte).
    public var elementByteWidth: Int { storage.elementByteWidth }

    /// Product of `dims` (1 for a scalar). Callers validate dims first; see `checkedElementCount`.
    public static func elementCount(_ dims: [Int]) -> Int {
        dims.reduce(1, *)
    }

    /// Product of `dims`, or nil when a dim is negative or the product overflows `Int`.
    public static func checkedElementCount<S: Sequence>(_ dims: S) -> Int? where S.Element: BinaryInteger {
        var n = 1
        for d in dims {
            guard d >= 0, let di = Int(exactly: d) else { return nil }
            let (p, o) = n.multipliedReportingOverflow(by: di)
            if o { return nil }
            n = p
        }
        return n
    }
}

extension Tensor.Storage {
    /// The ONNX `TensorProto.DataType` code of these elements.
    public var dataType: Int32 {
        switch self {
        case .float: return DataType.float
        case .int64: return DataType.int64
        case .int32: return DataType.int32
        case .bool: return DataType.bool
        }
    }

    /// Number of elements.
    public var count: Int {
        switch self {
        case .float(let v): return v.count
        case .int64(let v): return v.count
        case .int32(let v): return v.count
        case .bool(let v): return v.count
        }
    }

    /// Bytes per element in ONNX's little-endian `raw_data` form (BOOL: one byte).
    public var elementByteWidth: Int {
        switch self {
        case .float, .int32: return 4
        case .int64: return 8
        case .bool: return 1
        }
    }
}

/// ONNX `TensorProto.DataType` codes (onnx.proto).
public enum DataType {
    public static let undefined: Int32 = 0
    public static let float: Int32 = 1
    public static let uint8: Int32 = 2
    public static let int8: Int32 = 3
    public static let uint16: Int32 = 4
    public static let int16: Int32 = 5
    public static let int32: Int32 = 6
    public static let int64: Int32 = 7
    public static let string: Int32 = 8
    public static let bool: Int32 = 9
    public static let float16: Int32 = 10
    public static let double: Int32 = 11

    /// The element types a `Tensor` holds: FLOAT, INT64, INT32 and BOOL.
    public static let stored: [Int32] = [float, int64, int32, bool]

    /// The ONNX name of a data type code, for error messages ("FLOAT16", "code 42").
    public static func name(_ code: Int32) -> String {
        let names = [
            "UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64", "STRING",
            "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16",
        ]
        if code >= 0 && Int(code) < names.count { return names[Int(code)] }
        return "code \(code)"
    }
}
