#if canImport(Glibc)
import Glibc
#endif

/// An advisory write lock that says "a bnc process is writing this file": a POSIX record
/// lock (`fcntl(F_SETLK)`) on `.NAME.lock` beside the file, so that a second writer of the
/// same target fails at once instead of both overwriting each other's results.
///
/// The lock is on a file of its own because the target itself is replaced by rename (a lock
/// on the old inode would not stop a writer that opens the new one). The kernel drops the
/// lock when the holder ends, however it ends, so a lock file left by a killed process is
/// no lock; the holder removes the file when it releases the lock, and the next writer of
/// the target removes a left one. A writer that opened the file just before the holder
/// removed it sees that its inode is no longer the one at the path, and tries again.
/// `F_GETLK` names the holder's pid, whose command line `/proc` gives.
public final class FileLock {
    /// Why a lock could not be taken.
    public enum Failure: Error, Sendable {
        /// Another process holds it: its pid (nil when the kernel does not say, e.g. from
        /// another pid namespace) and command line (nil when unreadable).
        case held(pid: Int32?, command: String?)
        /// The lock file could not be created or locked (`errno` text).
        case system(String)
    }

    /// The lock file.
    public let lockPath: String
    private var fd: Int32

    private init(lockPath: String, fd: Int32) {
        self.lockPath = lockPath
        self.fd = fd
    }

    deinit { release() }

    /// The lock file for `path`: `.NAME.lock` in the same folder.
    public static func lockPath(for path: String) -> String {
        let (dir, name) = BytePath.split(path)
        let prefix = (dir == "." && !path.hasPrefix("./")) ? "" : (dir == "/" ? "/" : dir + "/")
        return prefix + ".\(name).lock"
    }

    /// Takes the lock for writing `path` (which need not exist), or says who holds it.
    public static func acquire(for path: String) throws(Failure) -> FileLock {
        let lock = lockPath(for: path)
        for _ in 0..<100 {
            let fd = BytePath.withCString(lock) { open($0, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644) }
            if fd < 0 { throw .system(BytePath.errorText()) }
            var region = flock()
            region.l_type = Int16(F_WRLCK)
            region.l_whence = Int16(SEEK_SET)
            if fcntl(fd, F_SETLK, &region) != 0 {
                let code = errno
                guard code == EAGAIN || code == EACCES else {
                    close(fd)
                    throw .system(BytePath.errorText(code))
                }
                var probe = flock()
                probe.l_type = Int16(F_WRLCK)
                probe.l_whence = Int16(SEEK_SET)
                let asked = fcntl(fd, F_GETLK, &probe) == 0
                close(fd)
                if asked && probe.l_type == Int16(F_UNLCK) { continue }  // released meanwhile
                let pid = asked && probe.l_pid > 0 ? probe.l_pid : nil
                throw .held(pid: pid, command: pid.flatMap(commandLine))
            }
            // Still the file at that path (not one a releasing holder just removed)?
            var mine = stat()
            if fstat(fd, &mine) == 0, let now = BytePath.status(lock, followLinks: false),
               FileIdentity(mine) == FileIdentity(now) {
                return FileLock(lockPath: lock, fd: fd)
            }
            close(fd)
        }
        throw .system("the lock file \(lock) keeps being replaced")
    }

    /// Removes the lock file and drops the lock (idempotent).
    public func release() {
        guard fd >= 0 else { return }
        _ = BytePath.withCString(lockPath) { unlink($0) }
        close(fd)
        fd = -1
    }

    /// The command line of process `pid` (arguments joined by spaces, at most 200 bytes).
    public static func commandLine(_ pid: Int32) -> String? {
        let fd = open("/proc/\(pid)/cmdline", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        var bytes = Array(buffer[0..<n])
        while bytes.last == 0 { bytes.removeLast() }
        var text = BytePath.string(bytes.map { $0 == 0 ? UInt8(ascii: " ") : $0 })
        if let first = text.split(separator: " ", maxSplits: 1).first, first.contains("/") {
            // "/work/.build/debug/bnc train …" → "bnc train …"
            let name = BytePath.split(String(first)).name
            text = name + text.dropFirst(first.count)
        }
        return text.count > 200 ? String(text.prefix(200)) + "…" : text
    }
}
