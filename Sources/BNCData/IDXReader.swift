/// Streams the items of an IDX file (plain or gzip) without loading it whole, so that
/// `bnc infer` keeps its memory flat on files of any size.
///
/// Items are the slices along the first dim: images of an `[N, H, W]` file, labels of an `[N]`
/// file, `[N, C, H, W]` samples. A 2-dim file `[H, W]` is one image (`count` 1).
///
/// The header is validated and the declared size checked against the file before anything is
/// read (see `IDXFile` for the rules). After the last item, the reader checks that the data
/// ends exactly there (no trailing bytes; for gzip also the CRC), so the last `readBatch`
/// throws if the file is longer than its header says.
///
/// Every IDX element type is read as Float: unsigned bytes as `x/255` by default (pixels),
/// the others as their value (int32 beyond ±2²⁴ and float64 rounded to the nearest Float;
/// a float64 beyond Float's range is refused like a NaN).
///
/// Not thread-safe (it owns a file descriptor and a zlib stream); use one per task.
public final class IDXReader {
    /// The file, as given.
    public let path: String
    /// The element type in the file.
    public let elementType: IDXElementType
    /// All dims from the header, outermost first.
    public let dims: [Int]
    /// Number of items: `dims[0]`, or 1 for a 2-dim (single image) file.
    public let count: Int
    /// Dims of one item: `dims.dropFirst()`, or `dims` for a 2-dim file; `[]` for labels.
    public let itemDims: [Int]
    /// Elements per item (product of `itemDims`).
    public let itemElements: Int
    /// Items read so far.
    public private(set) var position = 0
    /// Items not yet read.
    public var remaining: Int { count - position }
    /// The default Float conversion: `"x/255"` for unsigned bytes, `"x"` for the other types.
    public var scaling: String { elementType.scaling }

    let header: IDXHeader
    let stream: ByteStream
    private var endChecked = false
    /// Raw bytes of one batch (of any type but float32, which is read in place), reused.
    private var scratch = UnsafeMutableBufferPointer<UInt8>(start: nil, count: 0)

    /// The largest single item the reader accepts, in bytes (2 GiB, as for `IDXFile`).
    public static let maximumItemBytes = 1 << 31

    /// Opens `path` (plain or gzip, recognised by content) and validates its header.
    public convenience init(path: String) throws(DataError) {
        try self.init(stream: ByteStream(path: path))
    }

    /// Reads an IDX file already in memory; `path` names it in messages.
    public convenience init(bytes: [UInt8], path: String) throws(DataError) {
        try self.init(stream: ByteStream(bytes: bytes, path: path))
    }

    init(stream: ByteStream) throws(DataError) {
        let header = try IDXHeader.read(from: stream)
        try header.checkAgainstFile(stream)
        self.stream = stream
        self.header = header
        self.path = stream.path
        self.elementType = header.elementType
        self.dims = header.dims
        if header.dims.count == 2 {
            count = 1
            itemDims = header.dims
        } else {
            count = header.dims[0]
            itemDims = Array(header.dims.dropFirst())
        }
        itemElements = count == 0 ? itemDims.reduce(1, { $0 &* $1 }) : header.elementCount / count
        if count == 0 {
            // Overflow of the item size alone is possible when N = 0.
            var p = 1
            for d in itemDims {
                let (q, o) = p.multipliedReportingOverflow(by: d)
                if o {
                    throw DataError(file: path, place: "header", problem: "item dims \(itemDims) overflow a 64-bit integer")
                }
                p = q
            }
        }
        if itemElements > IDXReader.maximumItemBytes / header.elementType.byteWidth {
            throw DataError(
                file: path, place: "header",
                problem: "one item of dims \(itemDims) is larger than bnc's limit of 2 GiB")
        }
    }

    deinit {
        scratch.deallocate()
    }

    /// What one item is called in messages.
    var itemNoun: String { dims.count >= 2 ? "image" : "item" }

    /// Reads the next `min(maxCount, remaining)` items into `buffer` as Float, item after item
    /// (`(n, itemElements)` row-major). Unsigned bytes become `x/255` by default, the other
    /// types are taken as their value; a non-nil `scale` multiplies instead (`x · scale`).
    /// Returns the number of items read: 0 once the file is exhausted.
    ///
    /// `buffer` must hold at least `min(maxCount, remaining) · itemElements` floats.
    public func readBatch(
        maxCount: Int, into buffer: UnsafeMutableBufferPointer<Float>, scale: Float? = nil
    ) throws(DataError) -> Int {
        precondition(maxCount >= 0, "maxCount must not be negative")
        let n = min(maxCount, remaining)
        let elements = n * itemElements
        precondition(buffer.count >= elements, "buffer holds \(buffer.count) floats; \(n) items need \(elements)")
        if n == 0 {
            try checkEnd()
            return 0
        }
        let out = UnsafeMutableBufferPointer(rebasing: buffer[0..<elements])
        switch elementType {
        case .uint8:
            if scratch.count < elements {
                scratch.deallocate()
                scratch = .allocate(capacity: elements)
            }
            let bytes = UnsafeMutableBufferPointer(rebasing: scratch[0..<elements])
            try readExactly(UnsafeMutableRawBufferPointer(bytes), items: n)
            PixelConversion.convert(UnsafeBufferPointer(bytes), into: out, scale: scale)
        case .float32:
            try readExactly(UnsafeMutableRawBufferPointer(out), items: n)
            try decodeFloats(out, firstItem: position, scale: scale)
        case .int8, .int16, .int32, .float64:
            let byteCount = elements * elementType.byteWidth
            if scratch.count < byteCount {
                scratch.deallocate()
                scratch = .allocate(capacity: byteCount)
            }
            let bytes = UnsafeMutableBufferPointer(rebasing: scratch[0..<byteCount])
            try readExactly(UnsafeMutableRawBufferPointer(bytes), items: n)
            try decodeBigEndian(UnsafeRawBufferPointer(bytes), into: out, firstItem: position, scale: scale)
        }
        position += n
        if remaining == 0 { try checkEnd() }
        return n
    }

    /// Reads the next `min(maxCount, remaining)` items of an unsigned-byte file as they are
    /// (labels, raw pixels). Returns the number of items read: 0 once the file is exhausted.
    /// Throws for a float32 file. `buffer` must hold `min(maxCount, remaining) · itemElements` bytes.
    public func readBatch(maxCount: Int, into buffer: UnsafeMutableBufferPointer<UInt8>) throws(DataError) -> Int {
        precondition(maxCount >= 0, "maxCount must not be negative")
        guard elementType == .uint8 else {
            throw DataError(
                file: path, place: "byte 2",
                problem: "holds \(elementType.name) elements where unsigned bytes (type 0x08) are expected")
        }
        let n = min(maxCount, remaining)
        let elements = n * itemElements
        precondition(buffer.count >= elements, "buffer holds \(buffer.count) bytes; \(n) items need \(elements)")
        if n == 0 {
            try checkEnd()
            return 0
        }
        try readExactly(UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buffer)[0..<elements]), items: n)
        position += n
        if remaining == 0 { try checkEnd() }
        return n
    }

    /// Fills `bytes` with the data of the next `items` items or throws naming the item where
    /// the data ends.
    private func readExactly(_ bytes: UnsafeMutableRawBufferPointer, items: Int) throws(DataError) {
        let got = try stream.read(into: bytes)
        if got < bytes.count {
            let itemBytes = itemElements * elementType.byteWidth
            let broken = position + (itemBytes == 0 ? 0 : got / itemBytes)
            let end = header.headerBytes + position * itemBytes + got
            let what = stream.isGzip ? "decompressed data ends" : "file ends"
            throw DataError(
                file: path, place: "\(itemNoun) \(broken)",
                problem: "\(what) at byte \(end) but header declares \(header.dataBytes) bytes of data (\(header.totalBytes) bytes with the header)")
        }
    }

    /// Converts big-endian float32 bits in place; rejects NaN and infinities.
    private func decodeFloats(_ values: UnsafeMutableBufferPointer<Float>, firstItem: Int, scale: Float?) throws(DataError) {
        guard let p = values.baseAddress else { return }
        let bits = UnsafeMutableRawPointer(p).assumingMemoryBound(to: UInt32.self)
        var bad = -1
        var badValue: Float = 0
        let factor = scale ?? 1
        for i in 0..<values.count {
            let v = Float(bitPattern: UInt32(bigEndian: bits[i]))
            if !v.isFinite && bad < 0 {
                bad = i
                badValue = v
            }
            p[i] = scale == nil ? v : v * factor
        }
        if bad >= 0 {
            let per = max(itemElements, 1)
            throw DataError(
                file: path, place: "\(itemNoun) \(firstItem + bad / per)",
                problem: "element \(bad % per) is \(badValue.isNaN ? "NaN" : "infinite"); bnc reads only finite float32 values")
        }
    }

    /// Converts big-endian int8/int16/int32/float64 elements to Float; rejects NaN,
    /// infinities and float64 values beyond Float's range.
    private func decodeBigEndian(
        _ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<Float>, firstItem: Int, scale: Float?
    ) throws(DataError) {
        let factor = scale ?? 1
        let n = out.count
        switch elementType {
        case .int8:
            for i in 0..<n { out[i] = Float(Int8(bitPattern: bytes[i])) * factor }
        case .int16:
            for i in 0..<n { out[i] = Float(Int16(bigEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) * factor }
        case .int32:
            for i in 0..<n { out[i] = Float(Int32(bigEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) * factor }
        case .float64:
            for i in 0..<n {
                let v = Double(bitPattern: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
                let f = Float(v)
                if !f.isFinite {
                    let per = max(itemElements, 1)
                    let what = v.isNaN ? "NaN" : v.isInfinite ? "infinite" : "\(v), beyond the float32 range (±3.4e38)"
                    throw DataError(
                        file: path, place: "\(itemNoun) \(firstItem + i / per)",
                        problem: "element \(i % per) is \(what); bnc reads only finite values that fit a float32")
                }
                out[i] = scale == nil ? f : f * factor
            }
        case .uint8, .float32:
            preconditionFailure("unsigned bytes and float32 have their own paths")
        }
    }

    /// After the last item: the data must end exactly where the header says.
    private func checkEnd() throws(DataError) {
        if endChecked { return }
        endChecked = true
        if try !stream.isAtEnd() {
            if stream.isGzip {
                throw DataError(
                    file: path, place: "byte \(header.totalBytes)",
                    problem: "decompressed data continues past the \(header.totalBytes) bytes the header declares (dims \(dims) of \(elementType.name)); trailing data or a gzip bomb")
            }
            throw DataError(
                file: path, place: "byte \(header.totalBytes)",
                problem: "data continues past the \(header.totalBytes) bytes the header declares (dims \(dims) of \(elementType.name)); trailing data")
        }
    }
}
