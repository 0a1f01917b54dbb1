#if canImport(Glibc)
import Glibc
#endif

/// Owns every C allocation made while building a protobuf-c message tree for packing.
///
/// protobuf-c messages hold raw pointers; pointing them at Swift arrays would dangle as
/// soon as the array's scope ends. Instead the encoder copies each string, array and
/// sub-message into memory from this arena, packs, and the arena frees it all at once.
/// An arena never escapes `ModelEncoder`; nothing it returns outlives `deinit`.
final class CArena {
    private var blocks: [UnsafeMutableRawPointer] = []

    deinit {
        for b in blocks { free(b) }
    }

    /// Zeroed memory for `count` values of `T` (at least one byte is allocated).
    func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let bytes = max(1, count * MemoryLayout<T>.stride)
        guard let raw = calloc(1, bytes) else { fatalError("bnc: out of memory allocating \(bytes) bytes") }
        blocks.append(raw)
        return raw.bindMemory(to: T.self, capacity: max(1, count))
    }

    /// A NUL-terminated copy of `s`, or nil for the empty string (protobuf-c's "unset").
    func string(_ s: String) -> UnsafeMutablePointer<CChar>? {
        if s.isEmpty { return nil }
        return cString(s)
    }

    /// A NUL-terminated copy of `s`, always non-nil (for required-looking fields).
    func cString(_ s: String) -> UnsafeMutablePointer<CChar> {
        var utf8 = Array(s.utf8)
        utf8.append(0)
        let p = allocate(CChar.self, count: utf8.count)
        utf8.withUnsafeBytes { src in
            UnsafeMutableRawPointer(p).copyMemory(from: src.baseAddress!, byteCount: src.count)
        }
        return p
    }

    /// A copy of `values` (nil when empty, as protobuf-c expects for count 0).
    func array<T>(_ values: [T]) -> UnsafeMutablePointer<T>? {
        if values.isEmpty { return nil }
        let p = allocate(T.self, count: values.count)
        values.withUnsafeBufferPointer { src in
            p.initialize(from: src.baseAddress!, count: src.count)
        }
        return p
    }

    /// A copy of the bytes of `values` as raw storage (nil when empty).
    func bytes<T>(of values: [T]) -> (UnsafeMutablePointer<UInt8>?, Int) {
        let n = values.count * MemoryLayout<T>.stride
        if n == 0 { return (nil, 0) }
        let p = allocate(UInt8.self, count: n)
        values.withUnsafeBytes { src in
            UnsafeMutableRawPointer(p).copyMemory(from: src.baseAddress!, byteCount: n)
        }
        return (p, n)
    }

    /// A new message of type `T` initialised by protobuf-c's generated `init` function.
    func message<T>(_ type: T.Type, _ initialize: (UnsafeMutablePointer<T>) -> Void) -> UnsafeMutablePointer<T> {
        let p = allocate(T.self, count: 1)
        initialize(p)
        return p
    }

    /// An array of pointers to freshly built messages (nil when empty).
    func pointers<T>(_ items: [UnsafeMutablePointer<T>]) -> UnsafeMutablePointer<UnsafeMutablePointer<T>?>? {
        if items.isEmpty { return nil }
        let p = allocate(UnsafeMutablePointer<T>?.self, count: items.count)
        for (i, item) in items.enumerated() { p[i] = item }
        return p
    }
}
