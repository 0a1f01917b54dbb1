/// A whole IDX file of any rank and element type as one Float tensor: `dims` from the
/// header, `values` row-major.
///
/// Conversion as `IDXReader` does it: unsigned bytes become `x/255` by default (or
/// `x · scale`), the other types their value (int32 beyond ±2²⁴ and float64 rounded to the
/// nearest Float; NaN, infinities and float64 values beyond Float's range are refused).
/// The header is validated and the data size checked against the file before anything is
/// allocated; the Float values may take at most `maximumValueBytes`.
public struct IDXTensor: Equatable, Sendable {
    /// Dims from the header, outermost first.
    public var dims: [Int]
    /// `dims.reduce(1, *)` values, row-major.
    public var values: [Float]
    /// The element type the values were stored as.
    public var elementType: IDXElementType

    /// The most Float bytes a whole-file load produces: 2 GiB (2³¹ bytes, 2²⁹ values).
    public static let maximumValueBytes = 1 << 31

    public init(dims: [Int], values: [Float], elementType: IDXElementType) {
        self.dims = dims
        self.values = values
        self.elementType = elementType
    }

    /// Reads a plain or gzip IDX file.
    public static func read(path: String, scale: Float? = nil) throws(DataError) -> IDXTensor {
        try load(IDXReader(path: path), scale: scale)
    }

    /// Parses IDX bytes (plain or gzip) already in memory; `path` names them in messages.
    public static func parse(_ bytes: [UInt8], path: String, scale: Float? = nil) throws(DataError) -> IDXTensor {
        try load(IDXReader(bytes: bytes, path: path), scale: scale)
    }

    static func load(_ reader: IDXReader, scale: Float?, limit: Int = maximumValueBytes) throws(DataError) -> IDXTensor {
        let header = reader.header
        let n = header.elementCount
        guard n <= limit / MemoryLayout<Float>.size else {
            throw DataError(
                file: reader.path, place: "header",
                problem: "dims \(header.dims) hold \(n) elements; bnc loads at most \(limit / MemoryLayout<Float>.size) (\(limit) bytes of float32) from one file")
        }
        var failure: DataError?
        let values = [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            buffer.initialize(repeating: 0)
            initialized = n
            do throws(DataError) {
                _ = try reader.readBatch(maxCount: reader.count, into: buffer, scale: scale)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return IDXTensor(dims: header.dims, values: values, elementType: header.elementType)
    }
}
