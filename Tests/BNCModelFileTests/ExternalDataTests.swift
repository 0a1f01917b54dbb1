import BNCGraph
import Foundation
import Testing

@testable import BNCModelFile

#if canImport(Glibc)
import Glibc
#endif

/// Tensors stored as ONNX external data: read from files onnx.save_model wrote, untrusted
/// locations and ranges refused with one line before anything is allocated, and written
/// back with a new side file beside the output.
@Suite struct ExternalDataTests {
    /// A fresh folder, removed by the caller.
    static func folder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bnc-ext-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    static func fixture(_ name: String) throws -> URL {
        try #require(Bundle.module.url(forResource: "format/\(name)", withExtension: nil, subdirectory: "Fixtures"))
    }

    struct Manifest: Decodable {
        struct Tensor: Decodable { var dims: [Int]; var data_type: Int32; var sha256: String }
        struct File: Decodable {
            var ir_version: Int64; var opset: Int64; var inputs: [String]
            var initializers: [String: Tensor]; var external: [String]?
        }
        var files: [String: File]
    }

    static func manifest() throws -> Manifest {
        try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: fixture("manifest.json")))
    }

    /// SHA-256 of a tensor's little-endian element bytes (what the manifest holds).
    static func sha256(_ t: Tensor) -> String {
        let d = MessageDigest(.sha256)
        switch t.storage {
        case .float(let v): v.withUnsafeBytes { d.update($0) }
        case .int64(let v): v.withUnsafeBytes { d.update($0) }
        case .int32(let v): v.withUnsafeBytes { d.update($0) }
        case .bool(let v): d.update(v.map { $0 ? 1 : 0 })
        }
        return d.finishHex()
    }

    /// Copies a fixture folder (model and side file) into a fresh folder.
    static func copyFixture(_ sub: String) throws -> URL {
        let dir = try folder()
        for name in ["cnn.onnx", "cnn.onnx.data"] {
            try FileManager.default.copyItem(at: fixture("\(sub)/\(name)"), to: dir.appendingPathComponent(name))
        }
        return dir
    }

    @Test(arguments: ["external/cnn.onnx", "external_checksum/cnn.onnx"])
    func loadsWhatOnnxSaveModelWrites(file: String) throws {
        let expected = try #require(try Self.manifest().files[file])
        let model = try ModelFile.load(path: Self.fixture(file).path)
        #expect(model.irVersion == 8 && model.defaultOpset == 15)
        #expect(model.graph.initializers.count == expected.initializers.count)
        for t in model.graph.initializers {
            let e = try #require(expected.initializers[t.name])
            #expect(t.dims == e.dims && t.dataType == e.data_type)
            #expect(Self.sha256(t) == e.sha256, "tensor \(t.name)")
            #expect((t.external != nil) == (expected.external ?? []).contains(t.name), "tensor \(t.name)")
        }
        let w = try #require(model.graph.initializer(named: "fc.W")?.external)
        #expect(w.location == "cnn.onnx.data" && w.length == 20480)
        #expect(ModelFile.hasExternalData(model))
    }

    @Test func bytesWithoutAFolderAreRefusedClearly() throws {
        let bytes = [UInt8](try Data(contentsOf: Self.fixture("external/cnn.onnx")))
        #expect(throws: ModelError.self) { try ModelFile.decode(bytes, path: "cnn.onnx") }
        do {
            _ = try ModelFile.decode(bytes, path: "cnn.onnx")
        } catch {
            #expect(error.description == "cnn.onnx: tensor 'conv1.W': stores its data in an external file; load the model from its file so that the side file can be found")
        }
    }

    // MARK: - Untrusted locations and ranges

    /// A model whose one initializer `w` (FLOAT, dims) is external with these entries.
    static func model(dims: [Int64], entries: [(String, String)], type: Int64 = 1, extra: (inout WireWriter) -> Void = { _ in }) -> [UInt8] {
        WireWriter.model { t in
            for d in dims { t.int(1, d) }
            t.int(2, type)
            t.string(8, "w")
            for (k, v) in entries { t.message(13) { e in e.string(1, k); e.string(2, v) } }
            t.int(14, 1)
            extra(&t)
        }
    }

    /// Loads `bytes` saved as `m.onnx` in `dir`; the error text, or nil.
    static func loadError(_ bytes: [UInt8], in dir: URL) throws -> String? {
        let path = dir.appendingPathComponent("m.onnx").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        do {
            _ = try ModelFile.load(path: path)
            return nil
        } catch {
            return error.description.replacingOccurrences(of: dir.path + "/", with: "")
        }
    }

    @Test func readsOffsetsLengthsAndEveryElementType() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        // w: 3 floats at offset 4 of side.bin; the first 4 bytes belong to nothing.
        var side: [UInt8] = [9, 9, 9, 9]
        let values: [Float] = [1.5, -2, 0.25]
        values.withUnsafeBytes { side += $0 }
        try Data(side).write(to: dir.appendingPathComponent("side.bin"))
        let bytes = Self.model(dims: [3], entries: [("location", "side.bin"), ("offset", "4"), ("length", "12")])
        let path = dir.appendingPathComponent("m.onnx").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let t = try #require(try ModelFile.load(path: path).graph.initializer(named: "w"))
        #expect(t.floats == values)
        #expect(t.external == ExternalData(location: "side.bin", offset: 4, length: 12))
        // Without a length the data runs to the end of the file.
        try Data(Self.model(dims: [3], entries: [("location", "side.bin"), ("offset", "4")])).write(to: URL(fileURLWithPath: path))
        #expect(try ModelFile.load(path: path).graph.initializers[0].floats == values)
        // INT64, INT32 and BOOL elements, in a subfolder.
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("data"), withIntermediateDirectories: true)
        for (type, raw, check) in [
            (Int64(7), [UInt8](withUnsafeBytes(of: Int64(-5).littleEndian, Array.init)), { (t: Tensor) in t.int64s == [-5] }),
            (6, [UInt8](withUnsafeBytes(of: Int32(77).littleEndian, Array.init)), { (t: Tensor) in t.int32s == [77] }),
            (9, [1], { (t: Tensor) in t.bools == [true] }),
        ] {
            try Data(raw).write(to: dir.appendingPathComponent("data/t.bin"))
            try Data(Self.model(dims: [1], entries: [("location", "data/t.bin")], type: type)).write(to: URL(fileURLWithPath: path))
            #expect(check(try ModelFile.load(path: path).graph.initializers[0]), "type \(type)")
        }
    }

    /// Side files past 4 GiB: offsets are 64-bit and only the tensor's bytes are read (the
    /// 5 GiB file is sparse, so it costs no disk; reading it whole would cost 5 GiB of memory).
    @Test func readsATensorBeyondFourGiBOfASparseSideFile() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let side = dir.appendingPathComponent("big.data").path
        let fd = open(side, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        try #require(fd >= 0)
        let offset = (9 << 29) + 3  // 4.5 GiB + 3
        let values: [Float] = [3.5, -1, 7, 0.125]
        #expect(ftruncate(fd, off_t(5 << 30)) == 0)
        #expect(values.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) } == 16)
        close(fd)
        let bytes = Self.model(dims: [4], entries: [("location", "big.data"), ("offset", String(offset)), ("length", "16")])
        let path = dir.appendingPathComponent("m.onnx").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(try ModelFile.load(path: path).graph.initializers[0].floats == values)
    }

    @Test func refusesLocationsThatLeaveTheModelsFolder() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outside = try Self.folder()
        defer { try? FileManager.default.removeItem(at: outside) }
        try Data([UInt8](repeating: 0, count: 4)).write(to: outside.appendingPathComponent("secret.bin"))
        try Data([UInt8](repeating: 0, count: 4)).write(to: dir.appendingPathComponent("ok.bin"))
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("link.bin").path,
                                                   withDestinationPath: outside.appendingPathComponent("secret.bin").path)
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("sub").path, withDestinationPath: outside.path)
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("inside.bin").path, withDestinationPath: "ok.bin")
        func error(_ location: String) throws -> String? {
            try Self.loadError(Self.model(dims: [1], entries: [("location", location)]), in: dir)
        }
        let secret = outside.appendingPathComponent("secret.bin").path
        #expect(try error(secret) == "m.onnx: tensor 'w': external data location '\(secret)' is an absolute path; bnc reads side files relative to the model's folder")
        #expect(try error("../\(outside.lastPathComponent)/secret.bin") == "m.onnx: tensor 'w': external data location '../\(outside.lastPathComponent)/secret.bin' has a '..' component: it may not leave the model's folder")
        #expect(try error("a/../ok.bin")?.contains("has a '..' component") == true)
        #expect(try error("..\\secret.bin")?.contains("contains a backslash") == true)
        let realSecret = try #require(realpath(secret, nil).map { p in defer { free(p) }; return String(cString: p) })
        #expect(try error("link.bin") == "m.onnx: tensor 'w': external data location 'link.bin' resolves to '\(realSecret)' through a symbolic link, outside the model's folder")
        #expect(try error("sub/secret.bin")?.contains("through a symbolic link, outside the model's folder") == true)
        #expect(try error("missing.bin") == "m.onnx: tensor 'w': external data file 'missing.bin' cannot be opened: No such file or directory")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("adir"), withIntermediateDirectories: true)
        #expect(try error("adir") == "m.onnx: tensor 'w': external data location 'adir' is not a regular file")
        // A link that stays inside is followed.
        #expect(try error("inside.bin") == nil)
        #expect(try error("./ok.bin") == nil)
    }

    @Test func refusesRangesBeyondTheFileAndOverlapsBeforeAllocating() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data([UInt8](repeating: 0, count: 64)).write(to: dir.appendingPathComponent("d.bin"))
        func error(_ dims: [Int64], _ entries: [(String, String)], extra: @escaping (inout WireWriter) -> Void = { _ in }) throws -> String? {
            try Self.loadError(Self.model(dims: dims, entries: entries, extra: extra), in: dir)
        }
        // 10^12 floats claimed in a 64-byte file: refused from the sizes, nothing allocated.
        #expect(try error([1_000_000, 1_000_000], [("location", "d.bin"), ("length", "4000000000000")])
            == "m.onnx: tensor 'w': external data of 4000000000000 bytes at offset 0 goes beyond the end of 'd.bin' (64 bytes)")
        #expect(try error([4], [("location", "d.bin"), ("offset", "60"), ("length", "16")])
            == "m.onnx: tensor 'w': external data of 16 bytes at offset 60 goes beyond the end of 'd.bin' (64 bytes)")
        #expect(try error([4], [("location", "d.bin"), ("offset", "65"), ("length", "16")])
            == "m.onnx: tensor 'w': external data offset 65 is beyond the end of 'd.bin' (64 bytes)")
        #expect(try error([4], [("location", "d.bin"), ("length", "12")])
            == "m.onnx: tensor 'w': external data length 12 does not match dims [4] of FLOAT (16 bytes)")
        #expect(try error([4], [("location", "d.bin"), ("offset", "8")])
            == "m.onnx: tensor 'w': external data without a length runs from offset 8 to the end of 'd.bin': 56 bytes, but dims [4] of FLOAT need 16")
        #expect(try error([4], [("location", "d.bin"), ("offset", "-8")])
            == "m.onnx: tensor 'w': external_data 'offset' is '-8'; it must be a non-negative decimal byte count")
        #expect(try error([4], [("offset", "0")]) == "m.onnx: tensor 'w': is stored as external data but external_data gives no location")
        #expect(try error([4], [("location", "d.bin")], extra: { t in t.bytes(9, [UInt8](repeating: 0, count: 16)) })
            == "m.onnx: tensor 'w': is stored as external data but also has raw_data")
        // Two tensors sharing bytes 8..<16 of one file (the model's own 'w' plus 'v').
        var m = WireWriter()
        m.int(1, 8)
        m.message(8) { o in o.string(1, ""); o.int(2, 15) }
        m.message(7) { g in
            g.message(1) { n in n.string(1, "x"); n.string(2, "y"); n.string(4, "Identity") }
            for (name, offset) in [("w", "0"), ("v", "8")] {
                g.message(5) { t in
                    t.int(1, 4); t.int(2, 1); t.string(8, name)
                    for (k, v) in [("location", "d.bin"), ("offset", offset), ("length", "16")] {
                        t.message(13) { e in e.string(1, k); e.string(2, v) }
                    }
                    t.int(14, 1)
                }
            }
            g.message(11) { v in v.string(1, "x") }
            g.message(12) { v in v.string(1, "y") }
        }
        #expect(try Self.loadError(m.bytes, in: dir)
            == "m.onnx: tensor 'v': external data bytes 8..<24 of 'd.bin' overlap those of tensor 'w' (0..<16)")
    }

    @Test func checksumsAreCheckedAgainstTheTensorOrTheWholeFile() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data: [UInt8] = (0..<32).map { UInt8($0) }
        try Data(data).write(to: dir.appendingPathComponent("d.bin"))
        func sha1(_ b: [UInt8]) -> String { let d = MessageDigest(.sha1); d.update(b); return d.finishHex() }
        func error(_ checksum: String) throws -> String? {
            try Self.loadError(Self.model(dims: [2], entries: [("location", "d.bin"), ("offset", "8"), ("length", "8"), ("checksum", checksum)]), in: dir)
        }
        #expect(try error(sha1(Array(data[8..<16]))) == nil)
        #expect(try error(sha1(data).uppercased()) == nil)
        let wrong = sha1(Array(data[0..<8]))
        #expect(try error(wrong) == "m.onnx: tensor 'w': external data checksum \(wrong) matches neither the SHA-1 of its bytes in 'd.bin' nor of the whole file: the side file was changed or damaged")
        #expect(try error("abc") == "m.onnx: tensor 'w': external data checksum 'abc' is not a SHA-1 digest (40 hex digits)")
        // The onnx fixture with checksums loads; a flipped byte in its side file does not.
        let copy = try Self.copyFixture("external_checksum")
        defer { try? FileManager.default.removeItem(at: copy) }
        let path = copy.appendingPathComponent("cnn.onnx").path
        _ = try ModelFile.load(path: path)
        let side = copy.appendingPathComponent("cnn.onnx.data")
        var bytes = [UInt8](try Data(contentsOf: side))
        bytes[100] ^= 1
        try Data(bytes).write(to: side)
        #expect(throws: ModelError.self) { try ModelFile.load(path: path) }
    }

    // MARK: - Saving

    @Test func aResaveWritesANewSideFileBesideTheOutput() throws {
        let dir = try Self.copyFixture("external")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try ModelFile.load(path: dir.appendingPathComponent("cnn.onnx").path)
        let out = dir.appendingPathComponent("out").appendingPathComponent("resaved.onnx")
        try FileManager.default.createDirectory(at: out.deletingLastPathComponent(), withIntermediateDirectories: true)
        try ModelFile.save(model, to: out.path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.deletingLastPathComponent().path).sorted()
            == ["resaved.onnx", "resaved.onnx.data"])
        let back = try ModelFile.load(path: out.path)
        #expect(back.graph.initializers.map(\.storage) == model.graph.initializers.map(\.storage))
        #expect(back.irVersion == model.irVersion && back.opsetImports == model.opsetImports)
        let external = back.graph.initializers.filter { $0.external != nil }
        #expect(external.map(\.name) == ["conv1.W", "fc.W"])
        #expect(external.map { $0.external! } == [
            ExternalData(location: "resaved.onnx.data", offset: 0, length: 1152),
            ExternalData(location: "resaved.onnx.data", offset: 1152, length: 20480),
        ])
        let side = try FileManager.default.attributesOfItem(atPath: out.path + ".data")[.size] as? Int
        #expect(side == 1152 + 20480)
    }

    @Test func newLargeInitializersGoOutsideSmallOnesStayInside() throws {
        let dir = try Self.copyFixture("external")
        defer { try? FileManager.default.removeItem(at: dir) }
        var model = try ModelFile.load(path: dir.appendingPathComponent("cnn.onnx").path)
        // A folded weight replaced in place keeps its place; new tensors: 256 floats (1024
        // bytes, at the threshold) go outside, 255 floats stay inside.
        model.graph.initializers.append(Tensor(name: "new.big", dims: [256], floats: [Float](repeating: 1, count: 256)))
        model.graph.initializers.append(Tensor(name: "new.small", dims: [255], floats: [Float](repeating: 2, count: 255)))
        let path = dir.appendingPathComponent("m.onnx").path
        try ModelFile.save(model, to: path)
        let back = try ModelFile.load(path: path)
        #expect(back.graph.initializers.filter { $0.external != nil }.map(\.name) == ["conv1.W", "fc.W", "new.big"])
        #expect(back.graph.initializer(named: "new.small")?.floats == [Float](repeating: 2, count: 255))
        #expect(back.graph.initializer(named: "new.big")?.external?.offset == 1152 + 20480)
    }

    @Test func resavingInPlaceAlternatesSideFilesAndRemovesTheOldOne() throws {
        let dir = try Self.copyFixture("external")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("cnn.onnx").path
        func files() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() }
        let model = try ModelFile.load(path: path)
        try ModelFile.save(model, to: path)
        #expect(try files() == ["cnn.onnx", "cnn.onnx.1.data"])
        try ModelFile.save(try ModelFile.load(path: path), to: path)
        #expect(try files() == ["cnn.onnx", "cnn.onnx.data"])
        #expect(try ModelFile.load(path: path).graph.initializers.map(\.storage) == model.graph.initializers.map(\.storage))
        // A side file of another name (another model may share it) is never removed: point
        // the model at 'weights.bin' (the same bytes), then re-save it in place.
        var pointed = try ModelFile.load(path: path)
        for i in pointed.graph.initializers.indices where pointed.graph.initializers[i].external != nil {
            pointed.graph.initializers[i].external!.location = "weights.bin"
        }
        try FileManager.default.moveItem(atPath: path + ".data", toPath: dir.appendingPathComponent("weights.bin").path)
        try Data(ModelEncoder.encode(TensorDigest.stamped(pointed), external: true)).write(to: URL(fileURLWithPath: path))
        let viaWeights = try ModelFile.load(path: path)
        #expect(viaWeights.graph.initializers.compactMap { $0.external?.location } == ["weights.bin", "weights.bin"])
        try ModelFile.save(viaWeights, to: path)
        #expect(try files() == ["cnn.onnx", "cnn.onnx.data", "weights.bin"])
        #expect(try ModelFile.load(path: path).graph.initializers.map(\.storage) == model.graph.initializers.map(\.storage))
    }

    @Test func aFailedModelWriteLeavesTheOldModelAndSideFile() throws {
        let dir = try Self.copyFixture("external")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("cnn.onnx").path
        let model = try ModelFile.load(path: path)
        let before = try [path, path + ".data"].map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
        // A read-only target is not replaced: the save fails after the new side file exists.
        chmod(path, 0o444)
        defer { chmod(path, 0o644) }
        #expect(throws: ModelError.self) { try ModelFile.save(model, to: path) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["cnn.onnx", "cnn.onnx.data"])
        #expect(try [path, path + ".data"].map { try Data(contentsOf: URL(fileURLWithPath: $0)) } == before)
    }

    @Test func sideFileNamesOfTheWriter() {
        #expect(ExternalDataWriter.isOwnSideFileName("m.onnx.data", base: "m.onnx"))
        #expect(ExternalDataWriter.isOwnSideFileName("m.onnx.12.data", base: "m.onnx"))
        #expect(!ExternalDataWriter.isOwnSideFileName("m.onnx.x.data", base: "m.onnx"))
        #expect(!ExternalDataWriter.isOwnSideFileName("weights.bin", base: "m.onnx"))
        #expect(!ExternalDataWriter.isOwnSideFileName("m.onnx..data", base: "m.onnx"))
        #expect(!ExternalDataWriter.isOwnSideFileName("m.onnx.data", base: "m"))
    }

    @Test func encodeKeepsEverythingInside() throws {
        let model = try ModelFile.load(path: Self.fixture("external/cnn.onnx").path)
        let inline = try ModelFile.decode(ModelFile.encode(model))
        #expect(!ModelFile.hasExternalData(inline))
        #expect(inline.graph.initializers.map(\.storage) == model.graph.initializers.map(\.storage))
    }
}
