/// A dense, row-major (C order) array of one element type, as `.npy` files hold them.
///
/// The elements keep the type the file stored, so integers stay exact; `floatValues` and
/// `integerValues` convert for callers that need one type.
public struct NumericArray: Equatable, Sendable {
    /// Element storage; its count is the product of `dims`.
    public enum Elements: Equatable, Sendable {
        case float32([Float])
        case float64([Double])
        case int8([Int8])
        case uint8([UInt8])
        case int16([Int16])
        case int32([Int32])
        case int64([Int64])
        case bool([Bool])
    }

    /// Dims, outermost first; `[]` is a scalar (one element).
    public var dims: [Int]
    public var elements: Elements

    /// Precondition: the element count equals the product of `dims`.
    public init(dims: [Int], elements: Elements) {
        precondition(elements.count == dims.reduce(1, *), "\(elements.count) elements for dims \(dims)")
        self.dims = dims
        self.elements = elements
    }

    /// Number of elements.
    public var count: Int { elements.count }

    /// The values as Float: exact for float32, int8, uint8, int16 and bool (0 or 1); int32
    /// and int64 beyond ±2²⁴ and float64 round to the nearest Float.
    public func floatValues() -> [Float] {
        switch elements {
        case .float32(let v): return v
        case .float64(let v): return v.map { Float($0) }
        case .int8(let v): return v.map { Float($0) }
        case .uint8(let v): return v.map { Float($0) }
        case .int16(let v): return v.map { Float($0) }
        case .int32(let v): return v.map { Float($0) }
        case .int64(let v): return v.map { Float($0) }
        case .bool(let v): return v.map { $0 ? 1 : 0 }
        }
    }

    /// The values of an integer or bool array as Int64, exactly; nil for float arrays.
    public var integerValues: [Int64]? {
        switch elements {
        case .float32, .float64: return nil
        case .int8(let v): return v.map(Int64.init)
        case .uint8(let v): return v.map(Int64.init)
        case .int16(let v): return v.map(Int64.init)
        case .int32(let v): return v.map(Int64.init)
        case .int64(let v): return v
        case .bool(let v): return v.map { $0 ? 1 : 0 }
        }
    }

    /// Whether the elements are float32 or float64.
    public var isFloatingPoint: Bool {
        switch elements {
        case .float32, .float64: return true
        default: return false
        }
    }
}

extension NumericArray.Elements {
    /// Number of elements.
    public var count: Int {
        switch self {
        case .float32(let v): return v.count
        case .float64(let v): return v.count
        case .int8(let v): return v.count
        case .uint8(let v): return v.count
        case .int16(let v): return v.count
        case .int32(let v): return v.count
        case .int64(let v): return v.count
        case .bool(let v): return v.count
        }
    }

    /// numpy's name of the element type ("float32", "int64", "bool", ...).
    public var typeName: String {
        switch self {
        case .float32: return "float32"
        case .float64: return "float64"
        case .int8: return "int8"
        case .uint8: return "uint8"
        case .int16: return "int16"
        case .int32: return "int32"
        case .int64: return "int64"
        case .bool: return "bool"
        }
    }
}
