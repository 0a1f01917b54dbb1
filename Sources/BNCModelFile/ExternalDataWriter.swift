import BNCGraph
#if canImport(Glibc)
import Glibc
#endif

/// Saves a model whose tensors were stored as ONNX external data the same way: the model
/// file, and beside it one new side file with the external tensors' little-endian bytes,
/// one after another.
///
/// **Which tensors go outside.** A model has external data when one of its tensors was
/// loaded from a side file (`Tensor.external` set). Then every tensor that was outside
/// goes outside again, and so does every other initializer of `sizeThreshold` (1024) bytes
/// or more — onnx's own default threshold (`save_model(..., size_threshold=1024)`), which
/// covers the weights a pass creates (folded biases, cloned weights). Smaller initializers
/// and new tensor attributes stay inside, as onnx does (`convert_attribute=False`). A model
/// without external data is saved whole, as before.
///
/// **How the write stays atomic.** The side file gets a name that no file in the output's
/// folder has yet: `NAME.data` for output `NAME`, else `NAME.1.data`, `NAME.2.data`, …
/// (a re-save over a model whose side file is `NAME.data` writes `NAME.1.data`, the next
/// one `NAME.data` again). Its bytes go to an unnamed temporary file (`O_TMPFILE`; a
/// named `.NAME.data.tmp-PID` where the file system has none), are fsynced, and only then
/// get the new name (`linkat`, which never replaces a file). The model is then written by
/// `AtomicFile` (temporary file, fsync, rename). A kill or failure at any point before that
/// rename leaves the old model and its old side file untouched (the new side file, if it
/// was named, is removed on failure; a kill may leave it behind, unreferenced). After the
/// rename, the side files the replaced model referenced that follow this naming scheme
/// (`NAME.data`, `NAME.<n>.data`) and are not the new one are removed; a side file of
/// another name is never deleted, since another model may share it.
enum ExternalDataWriter {
    /// Initializers of at least this many bytes go to the side file (onnx's default).
    static let sizeThreshold = 1024

    /// Whether `model` is saved with a side file.
    static func usesExternalData(_ model: Model) -> Bool {
        ExternalDataReader.hasExternalData(model)
    }

    /// Writes `model` (already validated and stamped) to `path` with a new side file.
    static func save(_ model: Model, to path: String) throws(ModelError) {
        let (dir, base) = split(path)
        func failure(_ problem: String) -> ModelError { ModelError(.io, file: path, place: "", problem: problem) }
        let previous = referencedSideFiles(of: path)
        var placed = model
        // Lay the external tensors out one after another.
        var payload: [Tensor] = []
        var offset = 0
        func place(_ t: inout Tensor, initializer: Bool) {
            let outside = t.external != nil || (initializer && t.byteCount >= sizeThreshold)
            guard outside else {
                t.external = nil
                return
            }
            var info = t.external ?? ExternalData(location: "")
            info.offset = offset
            info.length = t.byteCount
            info.checksum = nil
            info.otherEntries.removeAll { $0.key == "basepath" }
            t.external = info
            offset += t.byteCount
            payload.append(t)
        }
        for i in placed.graph.initializers.indices { place(&placed.graph.initializers[i], initializer: true) }
        for n in placed.graph.nodes.indices {
            for a in placed.graph.nodes[n].attributes.indices {
                if case .tensor(var t) = placed.graph.nodes[n].attributes[a].value {
                    place(&t, initializer: false)
                    placed.graph.nodes[n].attributes[a].value = .tensor(t)
                }
            }
        }
        let sideName = try writeSideFile(payload, dir: dir, base: base, failure: failure)
        let prefix = dir == "." && !path.hasPrefix("./") ? "" : dir + "/"
        func setLocation(_ t: inout Tensor) {
            if t.external != nil { t.external!.location = sideName }
        }
        for i in placed.graph.initializers.indices { setLocation(&placed.graph.initializers[i]) }
        for n in placed.graph.nodes.indices {
            for a in placed.graph.nodes[n].attributes.indices {
                if case .tensor(var t) = placed.graph.nodes[n].attributes[a].value {
                    setLocation(&t)
                    placed.graph.nodes[n].attributes[a].value = .tensor(t)
                }
            }
        }
        do {
            try AtomicFile.write(ModelEncoder.encode(placed, external: true), to: path)
        } catch {
            unlink(prefix + sideName)
            syncDirectory(dir)
            throw error
        }
        // The replaced model's own side files, now unreferenced.
        for name in previous where name != sideName && isOwnSideFileName(name, base: base) {
            unlink(prefix + name)
        }
        syncDirectory(dir)
    }

    /// `NAME.data` or `NAME.<digits>.data`: the names this writer gives side files of `NAME`.
    static func isOwnSideFileName(_ name: String, base: String) -> Bool {
        if name == base + ".data" { return true }
        guard name.hasPrefix(base + "."), name.hasSuffix(".data") else { return false }
        let middle = name.dropFirst(base.count + 1).dropLast(".data".count)
        return !middle.isEmpty && middle.allSatisfy { $0 >= "0" && $0 <= "9" }
    }

    /// Side-file names (plain names in the model's folder) the model now at `path` refers to.
    private static func referencedSideFiles(of path: String) -> Set<String> {
        guard let bytes = try? AtomicFile.read(path, limit: ModelFile.maximumFileSize),
              let model = try? ModelDecoder.decode(bytes) else { return [] }
        var names = Set<String>()
        for t in model.graph.initializers { if let l = t.external?.location { names.insert(l) } }
        for node in model.graph.nodes {
            for a in node.attributes {
                if case .tensor(let t) = a.value, let l = t.external?.location { names.insert(l) }
            }
        }
        return names.filter { !$0.contains("/") }
    }

    /// Writes the tensors' bytes to a new, never-before-existing side file; returns its name.
    private static func writeSideFile(
        _ tensors: [Tensor], dir: String, base: String, failure: (String) -> ModelError
    ) throws(ModelError) -> String {
        let prefix = dir + "/"
        let tmp = prefix + ".\(base).data.tmp-\(getpid())"
        var fd = access("/proc/self/fd", X_OK) == 0 ? open(dir, oTmpFile | O_WRONLY | O_CLOEXEC, 0o644) : -1
        let named = fd < 0
        if named {
            unlink(tmp)
            fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        }
        if fd < 0 {
            throw failure("cannot create the side file in '\(dir)': \(errorText())")
        }
        defer {
            close(fd)
            if named { unlink(tmp) }
        }
        var written = 0
        for t in tensors {
            try withRawBytes(t) { (bytes: UnsafeRawBufferPointer) throws(ModelError) in
                var done = 0
                while done < bytes.count {
                    let n = Glibc.write(fd, bytes.baseAddress! + done, min(bytes.count - done, 1 << 30))
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw failure("writing the side file failed after \(written + done) bytes: \(errorText()); the previous model is unchanged")
                    }
                    done += n
                }
                written += done
            }
        }
        if fsync(fd) != 0 {
            throw failure("fsync of the side file failed: \(errorText()); the previous model is unchanged")
        }
        // The first free name; linkat/link never replace an existing file.
        for k in 0..<10_000 {
            let name = k == 0 ? "\(base).data" : "\(base).\(k).data"
            let ok = named
                ? link(tmp, prefix + name) == 0
                : linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, prefix + name, AT_SYMLINK_FOLLOW) == 0
            if ok {
                syncDirectory(dir)
                return name
            }
            if errno != EEXIST {
                throw failure("cannot name the side file '\(name)' in '\(dir)': \(errorText()); the previous model is unchanged")
            }
        }
        throw failure("'\(base).data' to '\(base).9999.data' all exist in '\(dir)'; remove the unused ones")
    }

    /// The tensor's elements as little-endian `raw_data` bytes, without a copy where the
    /// memory already has that form.
    private static func withRawBytes(_ t: Tensor, _ body: (UnsafeRawBufferPointer) throws(ModelError) -> Void) throws(ModelError) {
        var failure: ModelError?
        func run(_ b: UnsafeRawBufferPointer) {
            do throws(ModelError) { try body(b) } catch { failure = error }
        }
        switch t.storage {
        case .float(let v):
            #if _endian(little)
            v.withUnsafeBytes(run)
            #else
            v.map { $0.bitPattern.littleEndian }.withUnsafeBytes(run)
            #endif
        case .int64(let v): v.map(\.littleEndian).withUnsafeBytes(run)
        case .int32(let v): v.map(\.littleEndian).withUnsafeBytes(run)
        case .bool(let v): v.map { UInt8($0 ? 1 : 0) }.withUnsafeBytes(run)
        }
        if let failure { throw failure }
    }

    private static func syncDirectory(_ dir: String) {
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }

    /// Linux `O_TMPFILE` (`__O_TMPFILE | O_DIRECTORY`; the C macro is not imported).
    private static let oTmpFile: Int32 = 0o20_000_000 | O_DIRECTORY

    private static func split(_ path: String) -> (dir: String, base: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let dir = String(path[..<slash])
        return (dir.isEmpty ? "/" : dir, String(path[path.index(after: slash)...]))
    }

    private static func errorText() -> String {
        String(cString: strerror(errno))
    }
}
