/// The element types of the IDX format that bnc reads.
///
/// IDX (the MNIST file format) also defines 0x09 signed byte, 0x0B int16, 0x0C int32 and
/// 0x0E float64; bnc rejects those with a message naming the code.
public enum IDXElementType: UInt8, Sendable, Equatable {
    /// 0x08: unsigned byte (MNIST pixels and labels).
    case uint8 = 0x08
    /// 0x0D: IEEE-754 float32, stored big-endian.
    case float32 = 0x0D

    /// Bytes per element in the file.
    public var byteWidth: Int { self == .uint8 ? 1 : 4 }

    /// The name used in messages.
    public var name: String { self == .uint8 ? "unsigned byte" : "float32" }

    /// How `ImageSet`/`IDXReader` turn an element into a Float by default:
    /// `"x/255"` for unsigned bytes (pixels in [0, 1]), `"x"` for float32 (taken as is).
    public var scaling: String { self == .uint8 ? "x/255" : "x" }
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

    /// The most dims bnc accepts (N, C, H, W).
    static let maximumDims = 4

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
            let known: [UInt8: String] = [0x09: "signed byte", 0x0B: "int16", 0x0C: "int32", 0x0E: "float64"]
            let what = known[start.2].map { "IDX element type \(hex(start.2)) (\($0)) is not supported" }
                ?? "unknown IDX element type code \(hex(start.2))"
            throw DataError(
                file: path, place: "byte 2",
                problem: "\(what); bnc reads 0x08 (unsigned byte) and 0x0D (float32)")
        }
        let ndims = Int(start.3)
        if ndims == 0 || ndims > maximumDims {
            throw DataError(
                file: path, place: "byte 3",
                problem: "the header declares \(ndims) dims; bnc reads IDX files with 1 to \(maximumDims) dims")
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
