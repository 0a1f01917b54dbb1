/// A whole IDX file in memory: the format of the MNIST and Fashion-MNIST files.
///
/// Format: bytes 0–1 are zero, byte 2 is the element type, byte 3 the number of dims
/// (1–255), then each dim as a big-endian UInt32, then the elements row-major (multi-byte
/// elements big-endian). The file may be gzip-compressed; gzip is recognised by its magic
/// bytes 1f 8b, not by the name. Images and labels are unsigned bytes (0x08) or float32
/// (0x0D); this type refuses the other element types IDX defines (`IDXTensor` and
/// `IDXReader` read them all as Float).
///
/// Untrusted input: the header is validated and the data size computed with overflow checks
/// before anything is allocated; a plain file must be exactly as long as its header says; a
/// gzip file is inflated only up to the declared size plus one byte (so a gzip bomb is an
/// error, never an allocation), must not inflate to more or less than that, and must not be
/// followed by garbage. Whole-file loads are capped at `maximumDataBytes` (2 GiB); use
/// `IDXReader` to stream larger files. NaN or infinite float32 elements are rejected.
public struct IDXFile: Equatable, Sendable {
    /// The elements, row-major, as stored.
    public enum Elements: Equatable, Sendable {
        case uint8([UInt8])
        case float32([Float])
    }

    /// The largest data section `read`/`parse` load whole: 2 GiB (2,147,483,648 bytes).
    public static let maximumDataBytes = 1 << 31

    /// The file the data came from (as given).
    public var path: String
    /// Dims, outermost first (`[60000, 28, 28]` for MNIST training images).
    public var dims: [Int]
    /// The data; its count is the product of `dims`.
    public var elements: Elements

    public init(path: String, dims: [Int], elements: Elements) {
        self.path = path
        self.dims = dims
        self.elements = elements
    }

    /// The element type.
    public var elementType: IDXElementType {
        if case .uint8 = elements { return .uint8 }
        return .float32
    }

    /// Number of elements.
    public var elementCount: Int {
        switch elements {
        case .uint8(let v): return v.count
        case .float32(let v): return v.count
        }
    }

    /// Reads a plain or gzip IDX file.
    public static func read(path: String) throws(DataError) -> IDXFile {
        try load(ByteStream(path: path))
    }

    /// Parses IDX bytes (plain or gzip) already in memory; `path` names them in messages.
    public static func parse(_ bytes: [UInt8], path: String) throws(DataError) -> IDXFile {
        try load(ByteStream(bytes: bytes, path: path))
    }

    static func load(_ stream: ByteStream) throws(DataError) -> IDXFile {
        let reader = try IDXReader(stream: stream)
        let header = reader.header
        if header.dataBytes > maximumDataBytes {
            throw DataError(
                file: stream.path, place: "header",
                problem: "header declares \(header.dataBytes) bytes of data (dims \(header.dims) of \(header.elementType.name)), more than bnc's limit of 2 GiB (\(maximumDataBytes) bytes) for a file loaded whole")
        }
        let n = header.elementCount
        switch header.elementType {
        case .int8, .int16, .int32, .float64:
            throw DataError(
                file: stream.path, place: "byte 2",
                problem: "holds \(header.elementType.name) elements (type \(hex(header.elementType.rawValue))); images and labels are unsigned bytes (0x08) or float32 (0x0D)")
        case .uint8:
            let values: [UInt8] = try readAll(n) { (buffer: UnsafeMutableBufferPointer<UInt8>) throws(DataError) in
                _ = try reader.readBatch(maxCount: reader.count, into: buffer)
            }
            return IDXFile(path: stream.path, dims: header.dims, elements: .uint8(values))
        case .float32:
            let values: [Float] = try readAll(n) { (buffer: UnsafeMutableBufferPointer<Float>) throws(DataError) in
                _ = try reader.readBatch(maxCount: reader.count, into: buffer)
            }
            return IDXFile(path: stream.path, dims: header.dims, elements: .float32(values))
        }
    }

    /// An array of `n` elements filled by `fill` (which reads the whole data section);
    /// on failure the memory is initialized before the error is rethrown.
    private static func readAll<T: Numeric>(
        _ n: Int, _ fill: (UnsafeMutableBufferPointer<T>) throws(DataError) -> Void
    ) throws(DataError) -> [T] {
        var failure: DataError?
        let values = [T](unsafeUninitializedCapacity: n) { buffer, initialized in
            do throws(DataError) {
                try fill(buffer)
            } catch {
                buffer.initialize(repeating: 0)
                failure = error
            }
            initialized = n
        }
        if let failure { throw failure }
        return values
    }

    /// The IDX bytes of this file (uncompressed): header, then elements big-endian.
    /// Precondition: the element count equals the product of `dims`, 1–255 dims each < 2³².
    public func encoded() -> [UInt8] {
        precondition((1...IDXHeader.maximumDims).contains(dims.count), "IDX files have 1 to 255 dims")
        precondition(dims.reduce(1, *) == elementCount, "\(elementCount) elements for dims \(dims)")
        var out: [UInt8] = [0, 0, elementType.rawValue, UInt8(dims.count)]
        for d in dims {
            precondition(d >= 0 && d <= Int(UInt32.max), "IDX dims are UInt32")
            let u = UInt32(d)
            out += [UInt8(u >> 24), UInt8((u >> 16) & 0xff), UInt8((u >> 8) & 0xff), UInt8(u & 0xff)]
        }
        switch elements {
        case .uint8(let v):
            out += v
        case .float32(let v):
            out.reserveCapacity(out.count + 4 * v.count)
            for x in v {
                let u = x.bitPattern
                out += [UInt8(u >> 24), UInt8((u >> 16) & 0xff), UInt8((u >> 8) & 0xff), UInt8(u & 0xff)]
            }
        }
        return out
    }
}
