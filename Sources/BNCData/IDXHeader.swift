/// The element types of the IDX format (every type the format defines).
///
/// Multi-byte elements are stored big-endian. Images and labels (`IDXFile`, `ImageSet`,
/// training) are unsigned bytes or float32; `IDXReader` and `IDXTensor` read every type as
/// Float.
public enum IDXElementType: UInt8, Sendable, Equatable, CaseIterable {
    /// 0x08: unsigned byte (MNIST pixels and labels).
    case uint8 = 0x08
    /// 0x09: signed byte.
    case int8 = 0x09
    /// 0x0B: int16.
    case int16 = 0x0B
    /// 0x0C: int32.
    case int32 = 0x0C
    /// 0x0D: IEEE-754 float32.
    case float32 = 0x0D
    /// 0x0E: IEEE-754 float64.
    case float64 = 0x0E

    /// Bytes per element in the file.
    public var byteWidth: Int {
        switch self {
        case .uint8, .int8: return 1
        case .int16: return 2
        case .int32, .float32: return 4
        case .float64: return 8
        }
    }

    /// The name used in messages.
    public var name: String {
        switch self {
        case .uint8: return "unsigned byte"
        case .int8: return "signed byte"
        case .int16: return "int16"
        case .int32: return "int32"
        case .float32: return "float32"
        case .float64: return "float64"
        }
    }

    /// How `ImageSet`/`IDXReader` turn an element into a Float by default:
    /// `"x/255"` for unsigned bytes (pixels in [0, 1]), `"x"` (the value as it is) for every
    /// other type.
    public var scaling: String { self == .uint8 ? "x/255" : "x" }

    /// Whether every element converts to Float exactly (int32 beyond ±2²⁴ and float64 round).
    public var convertsExactly: Bool { byteWidth <= 2 || self == .float32 }
}

/// The header of an IDX file: `00 00 type ndims`, then `ndims` big-endian UInt32 dims.
///
/// Parsed and size-checked before any buffer is sized from it: dims are multiplied with
/// overflow checks and the data size is known before a byte of data is read.
struct IDXHeader: Equatable, Sendable {
    var elementType: IDXElementType
    var dims: [Int]
    /// Elements in the file (product of dims).
    var elementCount: Int
    /// 4 + 4 · ndims.
    var headerBytes: Int
    /// elementCount · element width.
    var dataBytes: Int
    /// headerBytes + dataBytes: the exact (decompressed) file size.
    var totalBytes: Int { headerBytes + dataBytes }

    /// The most dims an IDX header can declare (its rank is one byte).
    static let maximumDims = 255

    /// Reads and validates the header from the front of `stream`.
    static func read(from stream: ByteStream) throws(DataError) -> IDXHeader {
        let path = stream.path
        var start: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
        let got = try withUnsafeMutableBytes(of: &start) { (b) throws(DataError) -> Int in
            try stream.read(into: b)
        }
        if got < 4 {
            throw DataError(
                file: path, place: "header",
                problem: "\(stream.isGzip ? "decompressed data is" : "file is") only \(got) bytes long; an IDX header needs at least 8")
        }
        if start.0 != 0 || start.1 != 0 {
            throw DataError(
                file: path, place: "byte 0",
                problem: "not an IDX file: it starts with \(hex(start.0)) \(hex(start.1)) but IDX files start with 0x00 0x00 (then the type code and the number of dims); gzip files start with 0x1F 0x8B")
        }
        guard let type = IDXElementType(rawValue: start.2) else {
            throw DataError(
                file: path, place: "byte 2",
                problem: "unknown IDX element type code \(hex(start.2)); IDX defines 0x08 (unsigned byte), 0x09 (signed byte), 0x0B (int16), 0x0C (int32), 0x0D (float32) and 0x0E (float64)")
        }
        let ndims = Int(start.3)
        if ndims == 0 {
            throw DataError(
                file: path, place: "byte 3",
                problem: "the header declares 0 dims; an IDX file has 1 to \(maximumDims)")
        }
        var dims: [Int] = []
        for i in 0..<ndims {
            var word: UInt32 = 0
            let got = try withUnsafeMutableBytes(of: &word) { (b) throws(DataError) -> Int in
                try stream.read(into: b)
            }
            if got < 4 {
                throw DataError(
                    file: path, place: "header",
                    problem: "file ends at byte \(4 + 4 * i + got) inside the header (\(ndims) dims need \(4 + 4 * ndims) bytes)")
            }
            dims.append(Int(UInt32(bigEndian: word)))
        }
        var count = 1
        for d in dims {
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            if overflow {
                throw DataError(
                    file: path, place: "header",
                    problem: "dims \(dims) overflow: their product does not fit in a 64-bit integer")
            }
            count = p
        }
        let (dataBytes, overflow) = count.multipliedReportingOverflow(by: type.byteWidth)
        let headerBytes = 4 + 4 * ndims
        if overflow || dataBytes > Int.max - headerBytes {
            throw DataError(
                file: path, place: "header",
                problem: "dims \(dims) of \(type.name) overflow: the data size does not fit in a 64-bit integer")
        }
        return IDXHeader(
            elementType: type, dims: dims, elementCount: count, headerBytes: headerBytes, dataBytes: dataBytes)
    }

    /// Checks the declared size against what the raw file can hold, before anything is
    /// allocated: a plain file must be exactly header + data bytes long; a gzip file cannot
    /// inflate to more than `maximumDeflateRatio` times its size.
    func checkAgainstFile(_ stream: ByteStream) throws(DataError) {
        let rawSize = stream.raw.size
        if !stream.isGzip {
            if rawSize < totalBytes {
                throw DataError(
                    file: stream.path, place: "header",
                    problem: "file ends at byte \(rawSize) but header declares \(dataBytes) bytes of data (dims \(dims) of \(elementType.name), \(totalBytes) bytes with the header)")
            }
            if rawSize > totalBytes {
                throw DataError(
                    file: stream.path, place: "byte \(totalBytes)",
                    problem: "\(rawSize - totalBytes) bytes follow the \(dataBytes) bytes of data the header declares (dims \(dims) of \(elementType.name)); trailing data")
            }
        } else {
            let (bound, overflow) = rawSize.multipliedReportingOverflow(by: IDXHeader.maximumDeflateRatio)
            if !overflow && totalBytes > bound {
                throw DataError(
                    file: stream.path, place: "header",
                    problem: "header declares \(dataBytes) bytes of data (dims \(dims) of \(elementType.name)) but a gzip file of \(rawSize) bytes inflates to at most \(bound) bytes")
            }
        }
    }

    /// Deflate cannot compress better than 1032:1 (a 258-byte match coded in 2 bits), so a
    /// gzip file of n bytes never inflates to more than 1032 · n bytes.
    static let maximumDeflateRatio = 1032
}

func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return "0x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 15)])
}
