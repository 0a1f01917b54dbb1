import BNCGraph
#if canImport(Glibc)
import Glibc
#endif

/// Writes files so that a reader sees the old content or the new, never a mix: the bytes
/// go to a temporary file beside the target, are flushed to disk (fsync), and the temporary
/// file is renamed over the target; the directory is then fsynced so the rename survives a
/// crash. An interrupted write leaves the old file intact (and at worst a stray
/// `.NAME.tmp-PID` file, which the next write to that target replaces).
public enum AtomicFile {
    /// Atomically replaces (or creates) `path` with `bytes`.
    public static func write(_ bytes: [UInt8], to path: String) throws(ModelError) {
        let (dir, base) = split(path)
        if base.isEmpty {
            throw ModelError(.io, file: path, place: "", problem: "is a directory name, not a file name")
        }
        var st = stat()
        if stat(dir, &st) != 0 {
            throw ModelError(.io, file: path, place: "", problem: "cannot write: directory '\(dir)' does not exist")
        }
        let tmp = (dir == "." && !path.hasPrefix("./") ? "" : dir + "/") + ".\(base).tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 {
            throw ModelError(.io, file: path, place: "", problem: "cannot create a temporary file in '\(dir)': \(errorText())")
        }
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        do {
            defer { close(fd) }
            var written = 0
            while written < bytes.count {
                let n = bytes.withUnsafeBytes { buf in
                    Glibc.write(fd, buf.baseAddress! + written, bytes.count - written)
                }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ModelError(.io, file: path, place: "", problem: "write failed after \(written) bytes: \(errorText()); the previous file is unchanged")
                }
                written += n
            }
            if fsync(fd) != 0 {
                throw ModelError(.io, file: path, place: "", problem: "fsync failed: \(errorText()); the previous file is unchanged")
            }
        }
        if rename(tmp, path) != 0 {
            throw ModelError(.io, file: path, place: "", problem: "cannot replace the file: \(errorText()); the previous file is unchanged")
        }
        ok = true
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }

    /// Reads a whole file, refusing files larger than `limit` bytes before allocating.
    public static func read(_ path: String, limit: Int) throws(ModelError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            throw ModelError(.io, file: path, place: "", problem: "cannot open: \(errorText())")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw ModelError(.io, file: path, place: "", problem: "cannot stat: \(errorText())")
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw ModelError(.io, file: path, place: "", problem: "is a directory, not a file")
        }
        let size = Int(st.st_size)
        if size > limit {
            throw ModelError(.io, file: path, place: "", problem: "is \(size) bytes; bnc reads model files up to \(limit) bytes")
        }
        var bytes = [UInt8](repeating: 0, count: size)
        var got = 0
        while got < size {
            let n = bytes.withUnsafeMutableBytes { buf in
                Glibc.read(fd, buf.baseAddress! + got, size - got)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw ModelError(.io, file: path, place: "byte \(got)", problem: "read failed: \(errorText())")
            }
            if n == 0 { break }
            got += n
        }
        if got < size { bytes.removeLast(size - got) }
        return bytes
    }

    private static func split(_ path: String) -> (dir: String, base: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let dir = String(path[..<slash])
        return (dir.isEmpty ? "/" : dir, String(path[path.index(after: slash)...]))
    }

    private static func errorText() -> String {
        String(cString: strerror(errno))
    }
}
