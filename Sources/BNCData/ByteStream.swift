import CZlib

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `read(2)`, named apart from the methods called `read`.
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(fd, buffer, count)
}

/// The raw bytes of a regular file or of a byte array, read front to back.
///
/// Files are read with `read(2)` straight into the caller's buffer; nothing is loaded whole.
final class RawSource {
    let path: String
    /// Total size in bytes (from `fstat` for files).
    let size: Int
    /// Raw bytes consumed so far.
    private(set) var offset = 0
    private var fd: Int32
    private let memory: [UInt8]

    /// Opens a regular file for reading.
    init(path: String) throws(DataError) {
        self.path = path
        self.memory = []
        // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below);
        // reads from regular files ignore the flag.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        if fd < 0 {
            let code = errno
            let reason = String(cString: strerror(code))
            let hint = code == ENOENT ? " (no such file)" : ""
            throw DataError(file: path, place: "", problem: "cannot open: \(reason)\(hint)")
        }
        var info = stat()
        if fstat(fd, &info) != 0 {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw DataError(file: path, place: "", problem: "cannot stat: \(reason)")
        }
        let type = Int(info.st_mode) & 0o170000
        if type != 0o100000 {
            close(fd)
            let what = type == 0o040000 ? "a directory" : "not a regular file"
            throw DataError(file: path, place: "", problem: "is \(what); expected a data file")
        }
        self.fd = fd
        self.size = Int(info.st_size)
    }

    /// Reads from bytes already in memory; `path` only names them in messages.
    init(bytes: [UInt8], path: String) {
        self.path = path
        self.memory = bytes
        self.size = bytes.count
        self.fd = -1
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// Reads up to `buffer.count` bytes; fewer only at the end of the data. Returns the count.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(DataError) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        if fd < 0 {
            let n = min(buffer.count, memory.count - offset)
            if n > 0 {
                memory.withUnsafeBytes { src in
                    base.copyMemory(from: src.baseAddress! + offset, byteCount: n)
                }
                offset += n
            }
            return n
        }
        var done = 0
        while done < buffer.count {
            // Stay below the 2 GiB per-call limit some kernels have.
            let want = min(buffer.count - done, 1 << 30)
            let got = systemRead(fd, base + done, want)
            if got < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                throw DataError(file: path, place: "byte \(offset)", problem: "read failed: \(reason)")
            }
            if got == 0 { break }
            done += got
            offset += got
        }
        return done
    }
}

/// The decompressed bytes of an IDX file: plain files pass through, gzip files (recognised by
/// their magic bytes 1f 8b, not by name) are inflated with zlib as they are read.
///
/// Nothing here allocates in proportion to the file: reads go into the caller's buffer and
/// inflate works in a fixed 64 KiB input buffer, so a gzip bomb costs only the bytes the caller
/// asks for. Concatenated gzip members (as `cat a.gz b.gz` makes) are one stream; anything after
/// the last member that is not another member is an error (trailing garbage).
final class ByteStream {
    let path: String
    let raw: RawSource
    /// Whether the raw bytes are gzip.
    let isGzip: Bool
    /// Decompressed bytes delivered so far.
    private(set) var position = 0
    /// Bytes inflate has produced in total (tests check that a bomb is not inflated far).
    private(set) var inflatedBytes = 0

    private static let inputCapacity = 64 * 1024
    private let input: UnsafeMutableRawBufferPointer
    /// Plain mode: unread bytes of `input` are `input[pendingStart..<pendingEnd]`.
    private var pendingStart = 0
    private var pendingEnd = 0
    private var z: UnsafeMutablePointer<z_stream>?
    /// The last gzip member ended and no further input follows.
    private var finished = false

    convenience init(path: String) throws(DataError) {
        try self.init(raw: RawSource(path: path))
    }

    convenience init(bytes: [UInt8], path: String) throws(DataError) {
        try self.init(raw: RawSource(bytes: bytes, path: path))
    }

    init(raw: RawSource) throws(DataError) {
        self.path = raw.path
        self.raw = raw
        self.input = .allocate(byteCount: ByteStream.inputCapacity, alignment: 16)
        // Read at least two bytes (or everything) to recognise gzip.
        var have = 0
        do {
            while have < 2 {
                let got = try raw.read(into: UnsafeMutableRawBufferPointer(rebasing: input[have...]))
                if got == 0 { break }
                have += got
            }
        } catch {
            input.deallocate()
            throw error
        }
        self.isGzip = have >= 2 && input[0] == 0x1f && input[1] == 0x8b
        if isGzip {
            let z = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            z.initialize(to: z_stream())
            z.pointee.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
            z.pointee.avail_in = uInt(have)
            // 15 + 32: maximum window, automatic gzip/zlib header detection.
            let status = inflateInit2_(z, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
            if status != Z_OK {
                z.deinitialize(count: 1)
                z.deallocate()
                input.deallocate()
                throw DataError(file: raw.path, place: "", problem: "zlib could not start inflating (status \(status))")
            }
            self.z = z
        } else {
            pendingEnd = have
        }
    }

    deinit {
        if let z {
            inflateEnd(z)
            z.deinitialize(count: 1)
            z.deallocate()
        }
        input.deallocate()
    }

    /// Reads until `buffer` is full or the data ends; returns how many bytes were read.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(DataError) -> Int {
        let n = isGzip ? try inflate(into: buffer) : try readPlain(into: buffer)
        position += n
        return n
    }

    /// True when no decompressed byte follows (for gzip this also checks the last member's
    /// CRC and length). Reads at most one byte more than delivered.
    func isAtEnd() throws(DataError) -> Bool {
        var byte: UInt8 = 0
        let n = try withUnsafeMutableBytes(of: &byte) { (b) throws(DataError) -> Int in
            try (isGzip ? inflate(into: b) : readPlain(into: b))
        }
        return n == 0
    }

    /// Offset in the raw (compressed) file of the next unconsumed input byte.
    var rawOffset: Int {
        if let z { return raw.offset - Int(z.pointee.avail_in) }
        return raw.offset - (pendingEnd - pendingStart)
    }

    private func readPlain(into buffer: UnsafeMutableRawBufferPointer) throws(DataError) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        let fromPending = min(buffer.count, pendingEnd - pendingStart)
        if fromPending > 0 {
            base.copyMemory(from: input.baseAddress! + pendingStart, byteCount: fromPending)
            pendingStart += fromPending
        }
        if fromPending == buffer.count { return fromPending }
        let rest = UnsafeMutableRawBufferPointer(start: base + fromPending, count: buffer.count - fromPending)
        return try fromPending + raw.read(into: rest)
    }

    /// Moves unread input to the front of `input` and reads more after it.
    private func refill(_ z: UnsafeMutablePointer<z_stream>) throws(DataError) {
        let unread = Int(z.pointee.avail_in)
        if unread > 0, let next = z.pointee.next_in {
            input.baseAddress!.copyMemory(from: UnsafeRawPointer(next), byteCount: unread)
        }
        let got = try raw.read(into: UnsafeMutableRawBufferPointer(rebasing: input[unread...]))
        z.pointee.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
        z.pointee.avail_in = uInt(unread + got)
    }

    private func inflate(into buffer: UnsafeMutableRawBufferPointer) throws(DataError) -> Int {
        guard let z, let base = buffer.baseAddress else { return 0 }
        var produced = 0
        while produced < buffer.count && !finished {
            if z.pointee.avail_in == 0 { try refill(z) }
            let chunk = min(buffer.count - produced, Int(UInt32.max))
            z.pointee.next_out = (base + produced).assumingMemoryBound(to: Bytef.self)
            z.pointee.avail_out = uInt(chunk)
            let status = CZlib.inflate(z, Z_NO_FLUSH)
            let made = chunk - Int(z.pointee.avail_out)
            produced += made
            inflatedBytes += made
            switch status {
            case Z_OK:
                continue
            case Z_STREAM_END:
                try afterMember(z)
            case Z_BUF_ERROR where z.pointee.avail_in == 0:
                throw DataError(
                    file: path, place: "byte \(raw.offset)",
                    problem: "the gzip data ends before its stream is complete (truncated file)")
            case Z_DATA_ERROR:
                let reason = z.pointee.msg.map { String(cString: $0) } ?? "invalid data"
                throw DataError(
                    file: path, place: "gzip data near byte \(rawOffset)",
                    problem: "corrupt gzip data: \(reason)")
            case Z_MEM_ERROR:
                throw DataError(file: path, place: "", problem: "zlib ran out of memory")
            default:
                throw DataError(
                    file: path, place: "gzip data near byte \(rawOffset)",
                    problem: "zlib failed with status \(status)")
            }
        }
        return produced
    }

    /// A gzip member ended: the stream ends, another member follows, or garbage does.
    private func afterMember(_ z: UnsafeMutablePointer<z_stream>) throws(DataError) {
        if z.pointee.avail_in < 2 { try refill(z) }
        let unread = Int(z.pointee.avail_in)
        if unread == 0 {
            finished = true
            return
        }
        if let next = z.pointee.next_in, unread >= 2, next[0] == 0x1f, next[1] == 0x8b {
            inflateReset(z)
            return
        }
        let at = rawOffset
        throw DataError(
            file: path, place: "byte \(at)",
            problem: "\(raw.size - at) bytes after the end of the gzip data are not gzip data (trailing garbage)")
    }
}
