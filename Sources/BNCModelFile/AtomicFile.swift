import BNCGraph
#if canImport(Glibc)
import Glibc
#endif

/// Writes files so that a reader sees the old content or the new, never a mix: the bytes
/// go to a temporary file beside the target, are flushed to disk (fsync), and the temporary
/// file is renamed over the target; the directory is then fsynced so the rename survives a
/// crash.
///
/// On Linux the temporary file is created unnamed (`O_TMPFILE`) and only gets a name
/// (`.NAME.tmp-PID`, by `linkat`) once all its bytes are on disk, just before the rename: a
/// process killed while writing leaves nothing behind, and a failed write (disk full, file
/// size limit) leaves neither a half file nor a temporary one. A kill in the instant between
/// `linkat` and `rename` leaves a complete `.NAME.tmp-PID`; where the file system has no
/// `O_TMPFILE`, a named temporary file is written directly and a kill leaves it partial.
/// Either way the next write to the same target removes temporary files of processes that
/// no longer run.
///
/// A target that exists and is read-only (no owner write permission, or not writable by
/// this user) is not replaced, although rename could: read-only says "keep".
public enum AtomicFile {
    /// Atomically replaces (or creates) `path` with `bytes`.
    public static func write(_ bytes: [UInt8], to path: String) throws(ModelError) {
        func failure(_ problem: String) -> ModelError { ModelError(.io, file: path, place: "", problem: problem) }
        let (dir, base) = split(path)
        if base.isEmpty || base == "." || base == ".." {
            throw failure("is a directory name, not a file name")
        }
        var st = stat()
        if stat(dir, &st) != 0 {
            throw failure(errno == ENOENT ? "cannot write: directory '\(dir)' does not exist" : "cannot write into '\(dir)': \(errorText())")
        }
        if (st.st_mode & S_IFMT) != S_IFDIR {
            throw failure("cannot write: '\(dir)' is not a directory")
        }
        if stat(path, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFDIR {
                throw failure("is a directory; give a file name")
            }
            if (st.st_mode & S_IWUSR) == 0 || access(path, W_OK) != 0 {
                throw failure("is read-only (mode 0\(String(st.st_mode & 0o777, radix: 8))); bnc does not replace it: make it writable (chmod u+w) or write elsewhere")
            }
        }
        let prefix = (dir == "." && !path.hasPrefix("./") ? "" : dir + "/")
        let tmp = prefix + ".\(base).tmp-\(getpid())"
        removeStaleTemporaries(dir: dir, prefix: prefix, base: base)
        var fd = access("/proc/self/fd", X_OK) == 0 ? open(dir, oTmpFile | O_WRONLY | O_CLOEXEC, 0o644) : -1
        var named = fd < 0
        if named {
            fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        }
        if fd < 0 {
            throw failure("cannot create a temporary file in '\(dir)': \(errorText())")
        }
        var renamed = false
        defer {
            if named && !renamed { unlink(tmp) }
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
                    throw failure("write failed after \(written) of \(bytes.count) bytes: \(errorText()); the previous file is unchanged")
                }
                written += n
            }
            if fsync(fd) != 0 {
                throw failure("fsync failed: \(errorText()); the previous file is unchanged")
            }
            if !named {
                if linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) != 0 {
                    throw failure("cannot name the temporary file in '\(dir)': \(errorText()); the previous file is unchanged")
                }
                named = true
            }
        }
        if rename(tmp, path) != 0 {
            throw failure("cannot replace the file: \(errorText()); the previous file is unchanged")
        }
        renamed = true
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }

    /// Removes `.BASE.tmp-PID` files in `dir` left by killed writers: every such file but
    /// those of running processes other than this one (whose own leftover, from an earlier
    /// process with the same pid, is removed too).
    private static func removeStaleTemporaries(dir: String, prefix: String, base: String) {
        guard let d = opendir(dir) else { return }
        defer { closedir(d) }
        let start = ".\(base).tmp-"
        var stale: [String] = []
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name.hasPrefix(start), let pid = pid_t(name.dropFirst(start.count)) else { continue }
            if pid == getpid() || (kill(pid, 0) != 0 && errno == ESRCH) { stale.append(name) }
        }
        for name in stale { unlink(prefix + name) }
    }

    /// Linux `O_TMPFILE` (`__O_TMPFILE | O_DIRECTORY`; the C macro is not imported).
    private static let oTmpFile: Int32 = 0o20_000_000 | O_DIRECTORY

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
