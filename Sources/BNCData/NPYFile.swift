/// numpy's `.npy` format: one array, read and written.
///
/// Layout: the magic `\x93NUMPY`, a major and a minor version byte, the header length
/// (little-endian UInt16 for version 1, UInt32 for versions 2 and 3), the header — a Python
/// dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` padded with
/// spaces and ending in a newline (ASCII in versions 1 and 2, UTF-8 in 3) — then the
/// elements.
///
/// Read: versions 1, 2 and 3; little-endian float32 `<f4`, float64 `<f8`, int8 `|i1`,
/// uint8 `|u1`, int16 `<i2`, int32 `<i4`, int64 `<i8` and bool `|b1` (each 0 or 1), in C
/// order. Big-endian, Fortran order, and every other dtype (float16, complex, strings,
/// objects, structured) are refused by name. Untrusted input: the header is parsed
/// strictly (exactly the three keys), the data size is computed with overflow checks and
/// must equal what follows the header in the file before anything is allocated from it.
/// NaN and infinities are data like any other value here.
///
/// Write: version 1.0 (2.0 when the header needs more than 65,535 bytes), little-endian,
/// C order, the header padded so the data starts at a multiple of 64 bytes, as numpy does.
public enum NPYFile {
    /// The largest header bnc parses (numpy's own reader refuses more than 10,000 bytes).
    public static let maximumHeaderBytes = 1 << 20

    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY

    /// Whether `prefix` starts like an .npy file.
    public static func hasMagic(_ prefix: [UInt8]) -> Bool {
        prefix.count >= magic.count && Array(prefix.prefix(magic.count)) == magic
    }

    /// Reads the array in `path`.
    public static func read(path: String) throws(DataError) -> NumericArray {
        try load(RawSource(path: path))
    }

    /// Parses .npy bytes already in memory; `path` names them in messages.
    public static func parse(_ bytes: [UInt8], path: String) throws(DataError) -> NumericArray {
        try load(RawSource(bytes: bytes, path: path))
    }

    // MARK: - Reading

    static func load(_ source: RawSource) throws(DataError) -> NumericArray {
        let path = source.path
        func fail(_ place: String, _ problem: String) -> DataError { DataError(file: path, place: place, problem: problem) }
        let start = try readBytes(source, 8)
        guard start.count == 8, Array(start.prefix(6)) == magic else {
            throw fail("byte 0", "not an .npy file: it does not start with the magic \\x93NUMPY (\(source.size) bytes)")
        }
        let major = start[6], minor = start[7]
        let lengthBytes: Int
        switch major {
        case 1: lengthBytes = 2
        case 2, 3: lengthBytes = 4
        default:
            throw fail("byte 6", "format version \(major).\(minor) is not one bnc reads (1.0, 2.0, 3.0)")
        }
        let lengthField = try readBytes(source, lengthBytes)
        guard lengthField.count == lengthBytes else {
            throw fail("byte 8", "the file ends inside the header length (\(source.size) bytes)")
        }
        let headerLength = lengthField.reversed().reduce(0) { $0 << 8 | Int($1) }
        let headerStart = 8 + lengthBytes
        guard headerLength <= maximumHeaderBytes else {
            throw fail("byte 8", "header length \(headerLength) is more than bnc's limit of \(maximumHeaderBytes) bytes")
        }
        guard headerLength <= source.size - headerStart else {
            throw fail("byte 8", "header length \(headerLength) runs past the end of the file (\(source.size) bytes)")
        }
        let headerBytes = try readBytes(source, headerLength)
        let header = try Header.parse(headerBytes, utf8: major == 3, offset: headerStart, path: path)
        let dataStart = headerStart + headerLength
        guard let count = checkedProduct(header.shape) else {
            throw fail("header", "shape \(header.shape) overflows: its product does not fit in a 64-bit integer")
        }
        let (dataBytes, overflow) = count.multipliedReportingOverflow(by: header.type.width)
        let available = source.size - dataStart
        if overflow || dataBytes > available {
            throw fail("header", "shape \(header.shape) of \(header.type.name) needs \(overflow ? "more than Int.max" : String(dataBytes)) bytes of data; the file has \(available) after the header (truncated)")
        }
        if dataBytes < available {
            throw fail("byte \(dataStart + dataBytes)", "\(available - dataBytes) bytes follow the \(dataBytes) bytes of data that shape \(header.shape) of \(header.type.name) needs (trailing data)")
        }
        let elements = try header.type.read(count, from: source, dataStart: dataStart)
        return NumericArray(dims: header.shape, elements: elements)
    }

    /// Exactly `n` bytes, or fewer at the end of the file.
    private static func readBytes(_ source: RawSource, _ n: Int) throws(DataError) -> [UInt8] {
        var failure: DataError?
        var got = 0
        let out = [UInt8](unsafeUninitializedCapacity: n) { buffer, initialized in
            buffer.initialize(repeating: 0)
            initialized = n
            do throws(DataError) {
                got = try source.read(into: UnsafeMutableRawBufferPointer(buffer))
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return Array(out.prefix(got))
    }

    private static func checkedProduct(_ dims: [Int]) -> Int? {
        var n = 1
        for d in dims {
            let (p, o) = n.multipliedReportingOverflow(by: d)
            if o { return nil }
            n = p
        }
        return n
    }

    /// Why a descriptor is refused.
    struct Refusal: Error {
        var text: String
        init(_ text: String) { self.text = text }
    }

    /// The element types bnc reads, by numpy descriptor.
    enum ElementType: CaseIterable {
        case float32, float64, int8, uint8, int16, int32, int64, bool

        var descriptor: String {
            switch self {
            case .float32: return "<f4"
            case .float64: return "<f8"
            case .int8: return "|i1"
            case .uint8: return "|u1"
            case .int16: return "<i2"
            case .int32: return "<i4"
            case .int64: return "<i8"
            case .bool: return "|b1"
            }
        }

        var width: Int {
            switch self {
            case .int8, .uint8, .bool: return 1
            case .int16: return 2
            case .float32, .int32: return 4
            case .float64, .int64: return 8
            }
        }

        var name: String {
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

        init(_ elements: NumericArray.Elements) {
            switch elements {
            case .float32: self = .float32
            case .float64: self = .float64
            case .int8: self = .int8
            case .uint8: self = .uint8
            case .int16: self = .int16
            case .int32: self = .int32
            case .int64: self = .int64
            case .bool: self = .bool
            }
        }

        /// The type of a descriptor, or why it is refused. One-byte types may say `|`, `<`
        /// or `=` (byte order means nothing for them).
        static func parse(_ descr: String) -> Result<ElementType, Refusal> {
            let order = descr.first ?? " "
            let code = String(descr.dropFirst())
            let oneByte: [String: ElementType] = ["i1": .int8, "u1": .uint8, "b1": .bool]
            if let t = oneByte[code], "|<=".contains(order) { return .success(t) }
            let multi: [String: ElementType] = ["f4": .float32, "f8": .float64, "i2": .int16, "i4": .int32, "i8": .int64]
            if let t = multi[code] {
                if order == "<" { return .success(t) }
                if order == ">" { return .failure(Refusal("dtype '\(descr)' is big-endian \(t.name); bnc reads little-endian ('<\(code)')")) }
                return .failure(Refusal("dtype '\(descr)' does not say its byte order little-endian ('<\(code)')"))
            }
            let known: [String: String] = [
                "f2": "float16", "e": "float16", "c8": "complex64", "c16": "complex128", "u2": "uint16", "u4": "uint32",
                "u8": "uint64", "O": "Python objects", "V": "raw bytes", "f16": "float128",
            ]
            let what = known[code].map { "\($0)" }
                ?? (code.hasPrefix("U") || code.hasPrefix("S") ? "strings" : code.hasPrefix("M") || code.hasPrefix("m") ? "dates/times" : "an unknown type")
            return .failure(Refusal("dtype '\(descr)' (\(what)) is not one bnc reads; bnc reads little-endian f4, f8, i1, u1, i2, i4, i8 and bool"))
        }

        /// Reads `count` elements from `source` (positioned at `dataStart`, size checked).
        func read(_ count: Int, from source: RawSource, dataStart: Int) throws(DataError) -> NumericArray.Elements {
            switch self {
            case .float32:
                let bits: [UInt32] = try fill(count, source)
                return .float32(bits.map { Float(bitPattern: $0) })
            case .float64:
                let bits: [UInt64] = try fill(count, source)
                return .float64(bits.map { Double(bitPattern: $0) })
            case .int8: return .int8(try fill(count, source))
            case .uint8: return .uint8(try fill(count, source))
            case .int16: return .int16(try fill(count, source))
            case .int32: return .int32(try fill(count, source))
            case .int64: return .int64(try fill(count, source))
            case .bool:
                let bytes: [UInt8] = try fill(count, source)
                if let bad = bytes.firstIndex(where: { $0 > 1 }) {
                    throw DataError(file: source.path, place: "byte \(dataStart + bad)",
                                    problem: "bool element \(bad) is \(bytes[bad]); a bool is 0 or 1")
                }
                return .bool(bytes.map { $0 == 1 })
            }
        }

        /// `count` little-endian elements of `T` read straight into the array.
        private func fill<T: FixedWidthInteger>(_ count: Int, _ source: RawSource) throws(DataError) -> [T] {
            var failure: DataError?
            let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                buffer.initialize(repeating: 0)
                initialized = count
                do throws(DataError) {
                    let raw = UnsafeMutableRawBufferPointer(buffer)
                    if try source.read(into: raw) < raw.count {
                        failure = DataError(file: source.path, place: "byte \(source.offset)", problem: "the file ended while it was read (it shrank)")
                    }
                } catch {
                    failure = error
                }
            }
            if let failure { throw failure }
            #if _endian(big)
            return values.map { T(littleEndian: $0) }
            #else
            return values
            #endif
        }
    }

    /// The three keys of an .npy header.
    struct Header {
        var type: ElementType
        var shape: [Int]

        static func parse(_ bytes: [UInt8], utf8: Bool, offset: Int, path: String) throws(DataError) -> Header {
            var p = LiteralParser(bytes: bytes, offset: offset, path: path, utf8: utf8)
            let entries = try p.dictionary()
            var descr: String?, fortran: Bool?, shape: [Int]?
            for (key, value, at) in entries {
                switch (key, value) {
                case ("descr", .string(let s)): descr = s
                case ("fortran_order", .bool(let b)): fortran = b
                case ("shape", .tuple(let t)): shape = t
                case ("descr", _), ("fortran_order", _), ("shape", _):
                    throw DataError(file: path, place: "byte \(at)", problem: "npy header: '\(key)' has a value of the wrong kind")
                default:
                    throw DataError(file: path, place: "byte \(at)", problem: "npy header: unexpected key '\(key)' (an .npy header has exactly descr, fortran_order and shape)")
                }
            }
            guard let descr, let fortran, let shape else {
                let missing = [("descr", descr == nil), ("fortran_order", fortran == nil), ("shape", shape == nil)].filter(\.1).map(\.0)
                throw DataError(file: path, place: "byte \(offset)", problem: "npy header lacks \(missing.joined(separator: ", "))")
            }
            if fortran {
                throw DataError(file: path, place: "byte \(offset)", problem: "the array is in Fortran (column-major) order; bnc reads C order (numpy.ascontiguousarray before numpy.save)")
            }
            switch ElementType.parse(descr) {
            case .success(let t): return Header(type: t, shape: shape)
            case .failure(let why): throw DataError(file: path, place: "byte \(offset)", problem: why.text)
            }
        }
    }

    /// A strict reader of the Python literals an .npy header holds.
    struct LiteralParser {
        enum Value { case string(String), bool(Bool), tuple([Int]) }

        let bytes: [UInt8]
        let offset: Int
        let path: String
        let utf8: Bool
        var at = 0

        init(bytes: [UInt8], offset: Int, path: String, utf8: Bool) {
            self.bytes = bytes
            self.offset = offset
            self.path = path
            self.utf8 = utf8
        }

        func fail(_ problem: String) -> DataError {
            DataError(file: path, place: "byte \(offset + at)", problem: "npy header: \(problem)")
        }

        mutating func skipSpace() {
            while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x09 || bytes[at] == 0x0A || bytes[at] == 0x0D { at += 1 }
        }

        mutating func expect(_ c: Character) throws(DataError) {
            skipSpace()
            guard at < bytes.count, bytes[at] == c.asciiValue! else {
                throw fail(at < bytes.count ? "expected '\(c)' but found '\(Character(Unicode.Scalar(bytes[at])))'" : "expected '\(c)' but the header ends")
            }
            at += 1
        }

        mutating func peek() -> UInt8? {
            skipSpace()
            return at < bytes.count ? bytes[at] : nil
        }

        /// `{key: value, ...}` followed only by spaces and the final newline.
        mutating func dictionary() throws(DataError) -> [(String, Value, Int)] {
            try expect("{")
            var entries: [(String, Value, Int)] = []
            while true {
                if peek() == UInt8(ascii: "}") { at += 1; break }
                let keyAt = offset + at
                let key = try string()
                try expect(":")
                let value = try self.value()
                if entries.contains(where: { $0.0 == key }) { throw fail("key '\(key)' appears twice") }
                entries.append((key, value, keyAt))
                if peek() == UInt8(ascii: ",") { at += 1; continue }
                try expect("}")
                break
            }
            skipSpace()
            if at < bytes.count { throw fail("unexpected text after the dictionary") }
            if bytes.last != 0x0A { throw fail("does not end with a newline") }
            return entries
        }

        mutating func string() throws(DataError) -> String {
            guard let q = peek(), q == UInt8(ascii: "'") || q == UInt8(ascii: "\"") else { throw fail("expected a quoted key or string") }
            at += 1
            let start = at
            while at < bytes.count, bytes[at] != q {
                if bytes[at] == UInt8(ascii: "\\") { throw fail("escapes in strings are not supported") }
                if !utf8 && bytes[at] >= 0x80 { throw fail("non-ASCII byte in a version 1/2 header") }
                at += 1
            }
            guard at < bytes.count else { throw fail("unterminated string") }
            let text = String(decoding: bytes[start..<at], as: UTF8.self)
            at += 1
            return text
        }

        mutating func value() throws(DataError) -> Value {
            guard let c = peek() else { throw fail("expected a value but the header ends") }
            if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") { return .string(try string()) }
            if c == UInt8(ascii: "(") { return .tuple(try tuple()) }
            for (word, v) in [("True", true), ("False", false)] where bytes[at...].starts(with: Array(word.utf8)) {
                at += word.utf8.count
                return .bool(v)
            }
            throw fail("expected a string, True, False or a tuple")
        }

        /// `()`, `(3,)`, `(2, 3)`; Python 2's `3L` is accepted.
        mutating func tuple() throws(DataError) -> [Int] {
            try expect("(")
            var dims: [Int] = []
            while true {
                if peek() == UInt8(ascii: ")") { at += 1; return dims }
                let start = at
                var n = 0
                while at < bytes.count, let d = digit(bytes[at]) {
                    let (m, o1) = n.multipliedReportingOverflow(by: 10)
                    let (s, o2) = m.addingReportingOverflow(d)
                    if o1 || o2 { throw fail("dimension overflows a 64-bit integer") }
                    n = s
                    at += 1
                }
                if at == start { throw fail("expected a non-negative dimension") }
                if at < bytes.count, bytes[at] == UInt8(ascii: "L") { at += 1 }
                dims.append(n)
                if peek() == UInt8(ascii: ",") { at += 1; continue }
                try expect(")")
                return dims
            }
        }

        private func digit(_ b: UInt8) -> Int? {
            b >= 0x30 && b <= 0x39 ? Int(b - 0x30) : nil
        }
    }

    // MARK: - Writing

    /// The .npy bytes of `array` (little-endian, C order).
    public static func encoded(_ array: NumericArray) -> [UInt8] {
        let type = ElementType(array.elements)
        let shape: String
        switch array.dims.count {
        case 0: shape = "()"
        case 1: shape = "(\(array.dims[0]),)"
        default: shape = "(" + array.dims.map(String.init).joined(separator: ", ") + ")"
        }
        let dict = Array("{'descr': '\(type.descriptor)', 'fortran_order': False, 'shape': \(shape), }".utf8)
        // Spaces, then "\n", so that the data starts at a multiple of 64 bytes.
        func headerLength(after prefix: Int) -> Int { (prefix + dict.count + 1 + 63) / 64 * 64 - prefix }
        var n = headerLength(after: 10)
        let version1 = n <= 65_535
        if !version1 { n = headerLength(after: 12) }
        var out = magic + (version1 ? [1, 0, UInt8(n & 0xFF), UInt8(n >> 8)] : [2, 0, UInt8(n & 0xFF), UInt8((n >> 8) & 0xFF), UInt8((n >> 16) & 0xFF), UInt8(n >> 24)])
        out += dict + [UInt8](repeating: 0x20, count: n - dict.count - 1) + [0x0A]
        out.reserveCapacity(out.count + array.count * type.width)
        switch array.elements {
        case .float32(let v): appendLittleEndian(v.map(\.bitPattern), to: &out)
        case .float64(let v): appendLittleEndian(v.map(\.bitPattern), to: &out)
        case .int8(let v): out += v.map { UInt8(bitPattern: $0) }
        case .uint8(let v): out += v
        case .int16(let v): appendLittleEndian(v, to: &out)
        case .int32(let v): appendLittleEndian(v, to: &out)
        case .int64(let v): appendLittleEndian(v, to: &out)
        case .bool(let v): out += v.map { $0 ? 1 : 0 }
        }
        return out
    }

    private static func appendLittleEndian<T: FixedWidthInteger>(_ values: [T], to out: inout [UInt8]) {
        values.map(\.littleEndian).withUnsafeBytes { out += $0 }
    }
}
