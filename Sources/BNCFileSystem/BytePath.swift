#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// File names as the kernel has them: bytes, which need not be UTF-8.
///
/// A Swift `String` holds Unicode only, and the standard library's `CommandLine.arguments`
/// replaces every invalid UTF-8 byte by U+FFFD, so a file called `caf\xE9.pb` (Latin-1)
/// would become `caf\u{FFFD}.pb` and "not exist". bnc instead carries each byte that is not
/// part of valid UTF-8 as one private-use scalar, U+EF00 + byte (U+EF80–U+EFFF, the OPTU-8
/// convention), and turns those scalars back into the same bytes wherever a path reaches
/// the kernel (`withCString`) or a message is written out (`bytes`). The mapping is exact
/// for every byte string: a valid UTF-8 name that itself contains U+EF80–U+EFFF has the
/// bytes of those scalars escaped one by one, so `bytes(string(b)) == b` always holds.
///
/// Paths must therefore reach system calls through `withCString`, never through Swift's
/// implicit `String` → `char *` conversion or Foundation's file APIs (both write the escape
/// scalars as three UTF-8 bytes each). A path containing NUL cannot name a file; it cannot
/// come from argv or a directory listing.
public enum BytePath {
    /// The scalars that stand for single bytes 0x80–0xFF.
    public static let escapes: ClosedRange<UInt32> = 0xEF80...0xEFFF

    /// The text for a file name or argument given as bytes.
    public static func string<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let b = Array(bytes)
        var scalars = String.UnicodeScalarView()
        var i = 0
        while i < b.count {
            let lead = b[i]
            if lead < 0x80 {
                scalars.append(Unicode.Scalar(lead))
                i += 1
            } else if let (scalar, length) = decode(b, at: i), !escapes.contains(scalar.value) {
                scalars.append(scalar)
                i += length
            } else {
                scalars.append(Unicode.Scalar(0xEF00 + UInt32(lead))!)
                i += 1
            }
        }
        return String(scalars)
    }

    /// The bytes a text stands for: UTF-8, with each escape scalar back as its byte.
    public static func bytes(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for s in text.unicodeScalars {
            if escapes.contains(s.value) {
                out.append(UInt8(s.value - 0xEF00))
            } else {
                out.append(contentsOf: UTF8.encode(s)!)
            }
        }
        return out
    }

    /// Whether `text` holds an escaped byte (a name that is not valid UTF-8).
    public static func hasEscapes(_ text: String) -> Bool {
        text.unicodeScalars.contains { escapes.contains($0.value) }
    }

    /// Calls `body` with the NUL-terminated bytes of `path`, for system calls.
    public static func withCString<R, E: Error>(_ path: String, _ body: (UnsafePointer<CChar>) throws(E) -> R) throws(E) -> R {
        var b = bytes(path)
        b.append(0)
        return try b.withUnsafeBufferPointer { (p: UnsafeBufferPointer<UInt8>) throws(E) -> R in
            try p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { (c: UnsafePointer<CChar>) throws(E) -> R in
                try body(c)
            }
        }
    }

    /// Whether two paths are the same bytes (`==` on `String` would equate canonically
    /// equivalent spellings, which name different files).
    public static func same(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.elementsEqual(b.unicodeScalars)
    }

    /// The process's arguments (argv[0] first), every byte kept.
    public static var arguments: [String] {
        (0..<Int(CommandLine.argc)).map { i in
            guard let p = CommandLine.unsafeArgv[i] else { return "" }
            return string(UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), count: strlen(p)))
        }
    }

    /// `stat(2)` (following links) or `lstat(2)`; nil with `errno` set when it fails.
    public static func status(_ path: String, followLinks: Bool = true) -> stat? {
        var st = stat()
        let rc = withCString(path) { followLinks ? stat($0, &st) : lstat($0, &st) }
        return rc == 0 ? st : nil
    }

    /// The target of a symbolic link, as written in the link; nil when `path` is not one.
    public static func linkTarget(_ path: String) -> String? {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = withCString(path) { p in
            buffer.withUnsafeMutableBufferPointer { b in
                b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: b.count) { readlink(p, $0, b.count) }
            }
        }
        return n < 0 ? nil : string(buffer[0..<n])
    }

    /// The folder and the last component of `path` ("a/b" → ("a", "b"), "b" → (".", "b"),
    /// "/b" → ("/", "b")).
    public static func split(_ path: String) -> (directory: String, name: String) {
        let b = bytes(path)
        guard let slash = b.lastIndex(of: UInt8(ascii: "/")) else { return (".", path) }
        let dir = string(b[..<slash])
        return (dir.isEmpty ? "/" : dir, string(b[(slash + 1)...]))
    }

    /// The `strerror` text for `code`.
    public static func errorText(_ code: Int32 = errno) -> String {
        String(cString: strerror(code))
    }

    /// Decodes one well-formed UTF-8 sequence (no overlong forms, no surrogates, at most
    /// U+10FFFF) starting at `i`.
    private static func decode(_ b: [UInt8], at i: Int) -> (Unicode.Scalar, Int)? {
        let lead = b[i]
        let length: Int, minimum: UInt32
        var value: UInt32
        switch lead {
        case 0xC2...0xDF: length = 2; minimum = 0x80; value = UInt32(lead & 0x1F)
        case 0xE0...0xEF: length = 3; minimum = 0x800; value = UInt32(lead & 0x0F)
        case 0xF0...0xF4: length = 4; minimum = 0x10000; value = UInt32(lead & 0x07)
        default: return nil
        }
        guard i + length <= b.count else { return nil }
        for k in 1..<length {
            let c = b[i + k]
            guard c & 0xC0 == 0x80 else { return nil }
            value = value << 6 | UInt32(c & 0x3F)
        }
        guard value >= minimum, let scalar = Unicode.Scalar(value) else { return nil }
        return (scalar, length)
    }
}
