import BNCGraph
import Foundation
import Testing

@testable import BNCModelFile

#if canImport(Glibc)
import Glibc
#endif

/// The atomic writer: old content or new, never a half file or a stray temporary one.
@Suite struct AtomicFileTests {
    func folder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bnc-atomic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    func listing(_ dir: URL) -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [])
    }

    @Test func replacesAndLeavesNothingElse() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("a.pb").path
        try AtomicFile.write([1, 2, 3], to: path)
        try AtomicFile.write([4, 5], to: path)
        #expect(try AtomicFile.read(path, limit: 10) == [4, 5])
        #expect(listing(dir) == ["a.pb"])
    }

    @Test func removesTemporariesOfDeadWritersOnly() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        // A pid no process has, this process's own, and init's (pid 1, always running).
        var dead: pid_t = 4_000_000
        while kill(dead, 0) == 0 || errno != ESRCH { dead -= 1 }
        for name in [".a.pb.tmp-\(dead)", ".a.pb.tmp-\(getpid())", ".a.pb.tmp-1", ".b.pb.tmp-\(dead)"] {
            _ = FileManager.default.createFile(atPath: dir.appendingPathComponent(name).path, contents: Data([9]))
        }
        try AtomicFile.write([1], to: dir.appendingPathComponent("a.pb").path)
        #expect(listing(dir) == ["a.pb", ".a.pb.tmp-1", ".b.pb.tmp-\(dead)"])
    }

    @Test func refusesReadOnlyTargetsDirectoriesAndMissingFolders() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("ro.pb").path
        try AtomicFile.write([1, 2], to: path)
        chmod(path, 0o444)
        #expect {
            try AtomicFile.write([3], to: path)
        } throws: { error in
            (error as? ModelError)?.description == "\(path): is read-only (mode 0444); bnc does not replace it: make it writable (chmod u+w) or write elsewhere"
        }
        #expect(try AtomicFile.read(path, limit: 10) == [1, 2])
        #expect {
            try AtomicFile.write([3], to: dir.path + "/")
        } throws: { error in (error as? ModelError)?.problem == "is a directory name, not a file name; give a file name such as \(dir.path)/model.pb" }
        let sub = dir.appendingPathComponent("sub")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        #expect {
            try AtomicFile.write([3], to: sub.path)
        } throws: { error in (error as? ModelError)?.problem == "is a directory; give a file name, e.g. \(sub.path)/model.pb" }
        #expect {
            try AtomicFile.write([3], to: dir.path + "/none/x.pb")
        } throws: { error in (error as? ModelError)?.problem == "cannot write: directory '\(dir.path)/none' does not exist" }
        #expect(listing(dir) == ["ro.pb", "sub"])
    }
}

/// bnc writes the graph last, so that no cut of a bnc file still parses: protobuf has no end
/// marker, and a file cut before a trailing metadata field would load without its metadata.
@Suite struct WrittenOrderTests {
    @Test func everyCutOfABncFileIsRefused() throws {
        var model = SampleModels.convDense()
        model[metadata: MetadataKey.inputScaling] = "x"
        let bytes = ModelFile.encode(model)
        for cut in 0..<bytes.count {
            #expect(throws: ModelError.self, "cut at \(cut) of \(bytes.count)") { try ModelFile.decode(Array(bytes[..<cut])) }
        }
        let loaded = try ModelFile.decode(bytes)
        #expect(loaded[metadata: MetadataKey.inputScaling] == "x")
        #expect(ModelFile.encode(loaded) == bytes)
    }
}
