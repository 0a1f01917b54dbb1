import BNCFileSystem
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
/// What a path means (`target(for:)`, the same checks before any work and at the write):
/// - a symbolic link is written through: its final target is replaced atomically (as
///   editors do), the link stays; a dangling link creates its target;
/// - a character device or a FIFO (`/dev/null`, `/dev/stdout` on a pipe, a named pipe) is
///   written straight into, without temporary file or rename (there is no old content to
///   keep and a rename would replace the device by a file);
/// - a directory, a block device, a socket, a missing folder or a folder bnc cannot write
///   into are refused;
/// - a target that exists and is read-only (no owner write permission, or not writable by
///   this user) is not replaced, although rename could: read-only says "keep".
public enum AtomicFile {
    /// Where a write to a path goes, found before any work.
    public struct Target: Equatable, Sendable {
        public enum Kind: Equatable, Sendable {
            /// A regular file that does not exist yet: created atomically.
            case newFile
            /// A regular file that exists: replaced atomically.
            case existingFile
            /// A character device or FIFO: written straight into.
            case stream
        }
        /// The path given.
        public var path: String
        /// The path written: `path`, or the final target of its symbolic links.
        public var resolved: String
        public var kind: Kind
        /// Device and inode of what exists there (nil for a new file).
        public var identity: FileIdentity?
    }

    /// Resolves `path` (see the type's notes) and checks that bnc can write it, without
    /// writing anything; throws the error `write` would.
    public static func target(for path: String) throws(ModelError) -> Target {
        func failure(_ problem: String) -> ModelError { ModelError(.io, file: path, place: "", problem: problem) }
        if path.isEmpty { throw failure("an empty file name; give a file name such as model.pb") }
        // Streams first: /dev/stdout on a pipe is a link to "pipe:[…]", which only the
        // kernel's own lookup follows.
        if let st = BytePath.status(path) {
            let type = st.st_mode & S_IFMT
            if type == S_IFCHR || type == S_IFIFO {
                return Target(path: path, resolved: path, kind: .stream, identity: FileIdentity(st))
            }
        }
        let resolved = try resolveLinks(path)
        let via = BytePath.same(resolved, path) ? "" : " (where the link \(path) leads)"
        let (dir, base) = BytePath.split(resolved)
        if base.isEmpty || base == "." || base == ".." {
            throw failure("is a directory name, not a file name; give a file name such as \(suggestion(path))")
        }
        guard let dst = BytePath.status(dir) else {
            if errno == ENOENT { throw failure("cannot write: directory '\(dir)'\(via) does not exist") }
            throw failure("cannot write into '\(dir)'\(via): \(BytePath.errorText())")
        }
        if (dst.st_mode & S_IFMT) != S_IFDIR {
            throw failure("cannot write: '\(dir)'\(via) is not a directory")
        }
        if let st = BytePath.status(resolved) {
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                throw failure("is a directory\(via); give a file name, e.g. \(suggestion(path))")
            case S_IFBLK:
                throw failure("is a block device\(via); bnc writes files, character devices such as /dev/null, and pipes")
            case S_IFSOCK:
                throw failure("is a socket\(via); bnc writes files, character devices such as /dev/null, and pipes")
            case S_IFREG:
                let writable = BytePath.withCString(resolved) { access($0, W_OK) } == 0
                if (st.st_mode & S_IWUSR) == 0 || !writable {
                    throw failure("is read-only (mode 0\(String(st.st_mode & 0o777, radix: 8)))\(via); bnc does not replace it: make it writable (chmod u+w) or write elsewhere")
                }
            default:
                throw failure("is not a regular file\(via); bnc writes files, character devices such as /dev/null, and pipes")
            }
            try requireWritableDirectory(dir, via: via, path: path)
            return Target(path: path, resolved: resolved, kind: .existingFile, identity: FileIdentity(st))
        }
        try requireWritableDirectory(dir, via: via, path: path)
        return Target(path: path, resolved: resolved, kind: .newFile, identity: nil)
    }

    /// Atomically replaces (or creates) `path` with `bytes`; a stream is written straight into.
    public static func write(_ bytes: [UInt8], to path: String) throws(ModelError) {
        let target = try target(for: path)
        if target.kind == .stream {
            return try writeStream(bytes, to: target)
        }
        func failure(_ problem: String) -> ModelError { ModelError(.io, file: path, place: "", problem: problem) }
        let (dir, base) = BytePath.split(target.resolved)
        let prefix = (dir == "." && !target.resolved.hasPrefix("./") ? "" : dir + "/")
        let tmp = prefix + ".\(base).tmp-\(getpid())"
        removeStaleTemporaries(dir: dir, prefix: prefix, base: base)
        let useTmpFile = access("/proc/self/fd", X_OK) == 0
        var fd = useTmpFile ? BytePath.withCString(dir) { open($0, oTmpFile | O_WRONLY | O_CLOEXEC, 0o644) } : -1
        var named = fd < 0
        if named {
            fd = BytePath.withCString(tmp) { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        }
        if fd < 0 {
            throw failure("cannot create a temporary file in '\(dir)': \(BytePath.errorText())")
        }
        var renamed = false
        defer {
            if named && !renamed { _ = BytePath.withCString(tmp) { unlink($0) } }
        }
        do {
            defer { close(fd) }
            try writeAll(bytes, fd: fd, path: path, keeps: "the previous file is unchanged")
            if fsync(fd) != 0 {
                throw failure("fsync failed: \(BytePath.errorText()); the previous file is unchanged")
            }
            if !named {
                let rc = BytePath.withCString(tmp) { linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, $0, AT_SYMLINK_FOLLOW) }
                if rc != 0 {
                    throw failure("cannot name the temporary file in '\(dir)': \(BytePath.errorText()); the previous file is unchanged")
                }
                named = true
            }
        }
        let rc = BytePath.withCString(tmp) { from in BytePath.withCString(target.resolved) { to in rename(from, to) } }
        if rc != 0 {
            throw failure("cannot replace the file: \(BytePath.errorText()); the previous file is unchanged")
        }
        renamed = true
        let dfd = BytePath.withCString(dir) { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }

    /// Writes into a character device or FIFO (opening a FIFO waits for a reader, as a
    /// shell redirection does).
    private static func writeStream(_ bytes: [UInt8], to target: Target) throws(ModelError) {
        let fd = BytePath.withCString(target.path) { open($0, O_WRONLY | O_CLOEXEC) }
        if fd < 0 {
            throw ModelError(.io, file: target.path, place: "", problem: "cannot open for writing: \(BytePath.errorText())")
        }
        defer { close(fd) }
        try writeAll(bytes, fd: fd, path: target.path, keeps: "what was written before stays written")
    }

    private static func writeAll(_ bytes: [UInt8], fd: Int32, path: String, keeps: String) throws(ModelError) {
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { buf in
                Glibc.write(fd, buf.baseAddress! + written, bytes.count - written)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw ModelError(.io, file: path, place: "",
                                 problem: "write failed after \(written) of \(bytes.count) bytes: \(BytePath.errorText()); \(keeps)")
            }
            written += n
        }
    }

    /// The final target of `path`'s symbolic links (`path` itself when it is none); links
    /// inside the folder part are left to the kernel.
    private static func resolveLinks(_ path: String) throws(ModelError) -> String {
        var current = path
        for _ in 0..<40 {
            guard let st = BytePath.status(current, followLinks: false), (st.st_mode & S_IFMT) == S_IFLNK,
                  let link = BytePath.linkTarget(current)
            else { return current }
            current = link.hasPrefix("/") ? link : BytePath.split(current).directory + "/" + link
        }
        throw ModelError(.io, file: path, place: "", problem: "too many levels of symbolic links")
    }

    private static func requireWritableDirectory(_ dir: String, via: String, path: String) throws(ModelError) {
        if BytePath.withCString(dir, { access($0, W_OK | X_OK) }) != 0 {
            throw ModelError(.io, file: path, place: "", problem: "cannot write into '\(dir)'\(via): \(BytePath.errorText())")
        }
    }

    /// "x/" → "x/model.pb" (a file name inside the folder given).
    private static func suggestion(_ path: String) -> String {
        (path.hasSuffix("/") ? path : path + "/") + "model.pb"
    }

    /// Removes `.BASE.tmp-PID` files in `dir` left by killed writers: every such file but
    /// those of running processes other than this one (whose own leftover, from an earlier
    /// process with the same pid, is removed too).
    private static func removeStaleTemporaries(dir: String, prefix: String, base: String) {
        guard let d = BytePath.withCString(dir, { opendir($0) }) else { return }
        defer { closedir(d) }
        let start = ".\(base).tmp-"
        var stale: [String] = []
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                BytePath.string(raw.prefix { $0 != 0 })
            }
            guard name.hasPrefix(start), let pid = pid_t(name.dropFirst(start.count)) else { continue }
            if pid == getpid() || (kill(pid, 0) != 0 && errno == ESRCH) { stale.append(name) }
        }
        for name in stale { _ = BytePath.withCString(prefix + name) { unlink($0) } }
    }

    /// Linux `O_TMPFILE` (`__O_TMPFILE | O_DIRECTORY`; the C macro is not imported).
    private static let oTmpFile: Int32 = 0o20_000_000 | O_DIRECTORY

    /// Reads a whole regular file, refusing files larger than `limit` bytes before
    /// allocating. A FIFO, device or socket is refused (opened without waiting for a writer):
    /// a model has a size to check first.
    public static func read(_ path: String, limit: Int) throws(ModelError) -> [UInt8] {
        let fd = BytePath.withCString(path) { open($0, O_RDONLY | O_CLOEXEC | O_NONBLOCK) }
        if fd < 0 {
            throw ModelError(.io, file: path, place: "", problem: "cannot open: \(BytePath.errorText())")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw ModelError(.io, file: path, place: "", problem: "cannot stat: \(BytePath.errorText())")
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw ModelError(.io, file: path, place: "", problem: "is a directory, not a file")
        }
        if (st.st_mode & S_IFMT) != S_IFREG {
            throw ModelError(.io, file: path, place: "", problem: "is not a regular file (a pipe, device or socket); bnc reads model files")
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
                throw ModelError(.io, file: path, place: "byte \(got)", problem: "read failed: \(BytePath.errorText())")
            }
            if n == 0 { break }
            got += n
        }
        if got < size { bytes.removeLast(size - got) }
        return bytes
    }
}
