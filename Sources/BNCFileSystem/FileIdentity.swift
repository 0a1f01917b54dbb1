#if canImport(Glibc)
import Glibc
#endif

/// A file as the kernel tells files apart: device and inode. Two paths (a link, `./x` and
/// `x`, a hard link) name one file exactly when their identities are equal.
public struct FileIdentity: Hashable, Sendable {
    public var device: UInt64
    public var inode: UInt64

    public init(_ st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
    }

    /// The identity of what `path` names (following links); nil when nothing is there.
    public init?(path: String) {
        guard let st = BytePath.status(path) else { return nil }
        self.init(st)
    }
}
