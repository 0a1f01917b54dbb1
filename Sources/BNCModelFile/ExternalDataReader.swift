import BNCGraph
#if canImport(Glibc)
import Glibc
#endif

/// Reads the tensors a model stores as ONNX external data from their side files, relative
/// to the model's folder.
///
/// The locations and ranges come from the file and are untrusted. Every reference is checked
/// before a single tensor is allocated or read, and the first problem is one line naming the
/// model file, the tensor and what is wrong:
/// - the location must be a relative path without `..` components or backslashes, and
///   must resolve (symbolic links followed) to a regular file inside the model's folder;
/// - `length`, when given, must equal the tensor's size (dims × element width); without it
///   the data runs to the end of the file, which must then be exactly that size;
/// - the range must lie within the file, and no two tensors' ranges in one file may
///   overlap.
/// Each tensor is then read with `pread` straight into its own array (at most 1 GiB per
/// call), so no side file is ever read whole or into a protobuf message, and side files of
/// any size work. A `checksum` entry, when present, must be the SHA-1 (hex) of the
/// tensor's bytes or, as ONNX's documentation words it, of the whole side file.
enum ExternalDataReader {
    /// A tensor that refers to external data: where it is in the model and what it needs.
    private struct Reference {
        /// Initializer index, or (node, attribute) of a tensor attribute.
        enum Slot { case initializer(Int), attribute(node: Int, attribute: Int) }
        var slot: Slot
        var tensor: Tensor
        var info: ExternalData
        var place: String
        var file = ""
        var length = 0
    }

    /// Whether any tensor of the model (initializer or tensor attribute) is stored outside.
    static func hasExternalData(_ model: Model) -> Bool {
        !references(model).isEmpty
    }

    /// Fills every external tensor's storage from its side file under `folder`.
    static func resolve(_ model: inout Model, folder: String) throws(ModelError) {
        var refs = references(model)
        guard !refs.isEmpty else { return }
        let root = try realFolder(folder)
        var files: [String: SideFile] = [:]
        defer { for f in files.values { close(f.fd) } }
        // 1. Every location and range, before anything is allocated.
        for i in refs.indices {
            let r = refs[i]
            func fail(_ problem: String) -> ModelError { ModelError(.badValue, place: r.place, problem: problem) }
            let path = try checkedLocation(r.info.location, under: root, fail: fail)
            if files[path] == nil { files[path] = try SideFile.open(path, location: r.info.location, fail: fail) }
            let size = files[path]!.size
            // The storage is still empty: the element count comes from the dims.
            let count = Tensor.checkedElementCount(r.tensor.dims) ?? Int.max
            let (need, overflow) = count.multipliedReportingOverflow(by: r.tensor.elementByteWidth)
            let what = "dims \(r.tensor.dims) of \(DataType.name(r.tensor.dataType))"
            if overflow { throw fail("\(what) need more than Int.max bytes") }
            let offset = r.info.offset
            guard offset <= size else {
                throw fail("external data offset \(offset) is beyond the end of '\(r.info.location)' (\(size) bytes)")
            }
            if let length = r.info.length {
                guard length == need else {
                    throw fail("external data length \(length) does not match \(what) (\(need) bytes)")
                }
                guard length <= size - offset else {
                    throw fail("external data of \(length) bytes at offset \(offset) goes beyond the end of '\(r.info.location)' (\(size) bytes)")
                }
            } else if size - offset != need {
                throw fail("external data without a length runs from offset \(offset) to the end of '\(r.info.location)': \(size - offset) bytes, but \(what) need \(need)")
            }
            refs[i].file = path
            refs[i].length = need
        }
        try checkOverlaps(refs)
        // 2. Read each tensor into its own array.
        var wholeFileDigests: [String: String] = [:]
        for r in refs {
            let file = files[r.file]!
            func fail(_ problem: String) -> ModelError { ModelError(.badValue, place: r.place, problem: problem) }
            let storage = try read(r.tensor, from: file, at: r.info.offset, length: r.length, fail: fail)
            if let checksum = r.info.checksum {
                let expected = checksum.lowercased()
                guard expected.count == 40, expected.allSatisfy(\.isHexDigit) else {
                    throw fail("external data checksum '\(checksum)' is not a SHA-1 digest (40 hex digits)")
                }
                if try file.sha1(offset: r.info.offset, length: r.length, fail: fail) != expected {
                    if wholeFileDigests[r.file] == nil {
                        wholeFileDigests[r.file] = try file.sha1(offset: 0, length: file.size, fail: fail)
                    }
                    if wholeFileDigests[r.file] != expected {
                        throw fail("external data checksum \(checksum) matches neither the SHA-1 of its bytes in '\(r.info.location)' nor of the whole file: the side file was changed or damaged")
                    }
                }
            }
            switch r.slot {
            case .initializer(let i):
                model.graph.initializers[i].storage = storage
            case .attribute(let n, let a):
                guard case .tensor(var t) = model.graph.nodes[n].attributes[a].value else { continue }
                t.storage = storage
                model.graph.nodes[n].attributes[a].value = .tensor(t)
            }
        }
    }

    /// The external tensors of the model, in file order (initializers, then attributes).
    private static func references(_ model: Model) -> [Reference] {
        var out: [Reference] = []
        for (i, t) in model.graph.initializers.enumerated() {
            if let info = t.external {
                out.append(Reference(slot: .initializer(i), tensor: t, info: info, place: "tensor '\(t.name)'"))
            }
        }
        for (n, node) in model.graph.nodes.enumerated() {
            for (a, attribute) in node.attributes.enumerated() {
                if case .tensor(let t) = attribute.value, let info = t.external {
                    out.append(Reference(slot: .attribute(node: n, attribute: a), tensor: t, info: info,
                                         place: "\(node.label(index: n)) attribute '\(attribute.name)' tensor '\(t.name)'"))
                }
            }
        }
        return out
    }

    private static func realFolder(_ folder: String) throws(ModelError) -> String {
        guard let p = realpath(folder, nil) else {
            throw ModelError(.io, place: "", problem: "cannot resolve the model's folder '\(folder)': \(String(cString: strerror(errno)))")
        }
        defer { free(p) }
        return String(cString: p)
    }

    /// The real path of `location` under `root`, or the reason it is refused.
    private static func checkedLocation(_ location: String, under root: String, fail: (String) -> ModelError) throws(ModelError) -> String {
        if location.hasPrefix("/") {
            throw fail("external data location '\(location)' is an absolute path; bnc reads side files relative to the model's folder")
        }
        if location.contains("\\") {
            throw fail("external data location '\(location)' contains a backslash; locations are relative paths with '/'")
        }
        if location.split(separator: "/", omittingEmptySubsequences: false).contains("..") {
            throw fail("external data location '\(location)' has a '..' component: it may not leave the model's folder")
        }
        let joined = root + "/" + location
        guard let p = realpath(joined, nil) else {
            let reason = String(cString: strerror(errno))
            throw fail("external data file '\(location)' cannot be opened: \(reason)")
        }
        defer { free(p) }
        let real = String(cString: p)
        let prefix = root == "/" ? "/" : root + "/"
        guard real.hasPrefix(prefix) else {
            throw fail("external data location '\(location)' resolves to '\(real)' through a symbolic link, outside the model's folder")
        }
        return real
    }

    /// Ranges of tensors in one side file must not share a byte.
    private static func checkOverlaps(_ refs: [Reference]) throws(ModelError) {
        let byFile = Dictionary(grouping: refs.filter { $0.length > 0 }, by: \.file)
        for (_, list) in byFile.sorted(by: { $0.key < $1.key }) {
            let sorted = list.sorted { $0.info.offset < $1.info.offset }
            for (a, b) in zip(sorted, sorted.dropFirst()) where b.info.offset < a.info.offset + a.length {
                throw ModelError(.badValue, place: b.place,
                                 problem: "external data bytes \(b.info.offset)..<\(b.info.offset + b.length) of '\(b.info.location)' overlap those of \(a.place) (\(a.info.offset)..<\(a.info.offset + a.length))")
            }
        }
    }

    /// The tensor's elements from `length` bytes at `offset` (little-endian raw form).
    private static func read(_ t: Tensor, from file: SideFile, at offset: Int, length: Int, fail: (String) -> ModelError) throws(ModelError) -> Tensor.Storage {
        let n = length / t.elementByteWidth
        switch t.storage {
        case .float:
            let bits: [UInt32] = try file.elements(n, at: offset, fail: fail)
            #if _endian(little)
            return .float(bits.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) })
            #else
            return .float(bits.map { Float(bitPattern: $0) })
            #endif
        case .int64:
            return .int64(try file.elements(n, at: offset, fail: fail))
        case .int32:
            return .int32(try file.elements(n, at: offset, fail: fail))
        case .bool:
            let bytes: [UInt8] = try file.elements(n, at: offset, fail: fail)
            if let bad = bytes.firstIndex(where: { $0 > 1 }) {
                throw fail("BOOL element \(bad) is \(bytes[bad]) in external data at byte \(offset + bad) of '\(file.location)'; a BOOL is 0 or 1")
            }
            return .bool(bytes.map { $0 == 1 })
        }
    }

    /// An open side file.
    private struct SideFile {
        var fd: Int32
        var size: Int
        var location: String

        static func open(_ path: String, location: String, fail: (String) -> ModelError) throws(ModelError) -> SideFile {
            let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
            if fd < 0 {
                throw fail("external data file '\(location)' cannot be opened: \(String(cString: strerror(errno)))")
            }
            var st = stat()
            guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
                close(fd)
                throw fail("external data location '\(location)' is not a regular file")
            }
            return SideFile(fd: fd, size: Int(st.st_size), location: location)
        }

        /// Fills `buffer` from `offset`, in pieces of at most 1 GiB.
        func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int, fail: (String) -> ModelError) throws(ModelError) {
            var done = 0
            while done < buffer.count {
                let want = min(buffer.count - done, 1 << 30)
                let got = pread(fd, buffer.baseAddress! + done, want, off_t(offset + done))
                if got < 0 {
                    if errno == EINTR { continue }
                    throw fail("reading '\(location)' at byte \(offset + done) failed: \(String(cString: strerror(errno)))")
                }
                if got == 0 {
                    throw fail("'\(location)' ended at byte \(offset + done) while it was read (the file shrank)")
                }
                done += got
            }
        }

        /// `count` little-endian elements at `offset`, read straight into the array.
        func elements<T: FixedWidthInteger>(_ count: Int, at offset: Int, fail: (String) -> ModelError) throws(ModelError) -> [T] {
            var failure: ModelError?
            let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                buffer.initialize(repeating: 0)
                initialized = count
                do throws(ModelError) {
                    try read(into: UnsafeMutableRawBufferPointer(buffer), at: offset, fail: fail)
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

        /// SHA-1 hex of `length` bytes at `offset`, read in 1 MiB pieces.
        func sha1(offset: Int, length: Int, fail: (String) -> ModelError) throws(ModelError) -> String {
            let digest = MessageDigest(.sha1)
            let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { chunk.deallocate() }
            var done = 0
            while done < length {
                let n = min(length - done, chunk.count)
                let piece = UnsafeMutableRawBufferPointer(rebasing: chunk[0..<n])
                try read(into: piece, at: offset + done, fail: fail)
                digest.update(UnsafeRawBufferPointer(piece))
                done += n
            }
            return digest.finishHex()
        }
    }
}
