import BNCFileSystem
import BNCGraph
import BNCModelFile

/// The one output-path policy of every command that writes files (train, fold, convert,
/// calibrate, report, infer's outputs): before any work starts, each output is resolved and
/// checked, compared with the command's inputs and other outputs, and locked.
///
/// - What a path may be is `AtomicFile.target(for:)`'s rule, checked now and again at the
///   write: a file (new or replaced atomically), a symbolic link (written through to its
///   target), a character device or FIFO (written straight into); never a directory, a
///   block device, a socket, a read-only file, or a file in a missing or unwritable folder.
/// - No output is an input of the command (model, images, labels, data files, metrics),
///   also through a link or another spelling, unless the command replaces that input by
///   design (`replacing`: `calibrate` without `-o`, `fold --in-place`).
/// - No two outputs are one file (a model and its checkpoint, two report files).
/// - Each file output is locked (`FileLock`, `.NAME.lock` beside it) until the command
///   ends: a second bnc writing the same file fails at once, naming the holder.
/// Streams (/dev/null, pipes) are exempt from the last three rules.
struct OutputPaths {
    /// A file the command writes, the flag or role that names it in messages, and the flag
    /// that changes it (the role itself when it is a flag, else `-o`).
    struct Output {
        var role: String
        var path: String
        var flag: String
        init(_ role: String, _ path: String, flag: String? = nil) {
            self.role = role
            self.path = path
            self.flag = flag ?? (role.hasPrefix("-") ? role : "-o")
        }
    }

    /// A file the command reads, described for messages ("the input model").
    struct Input {
        var role: String
        var path: String
        init(_ role: String, _ path: String) {
            self.role = role
            self.path = path
        }
    }

    /// The checked targets, in the order given.
    let targets: [AtomicFile.Target]

    /// Checks and locks `outputs` (see the type's notes). Throws one-line errors naming the
    /// path, the flag and the fix; nothing is written or locked when it throws.
    @discardableResult
    static func claim(_ outputs: [Output], inputs: [Input] = [], replacing: [Input] = []) throws(ModelError) -> OutputPaths {
        var targets: [AtomicFile.Target] = []
        var keys: [(key: Key, output: Output)] = []
        let inputKeys = inputs.compactMap { input in FileIdentity(path: input.path).map { (Key.file($0), input) } }
        let replaceable = Set(replacing.compactMap { FileIdentity(path: $0.path) })
        for output in outputs {
            let target = try AtomicFile.target(for: output.path)
            targets.append(target)
            guard target.kind != .stream, let key = Key(target) else { continue }
            if let (_, input) = inputKeys.first(where: { $0.0 == key }),
               !(target.identity.map(replaceable.contains) ?? false) {
                throw ModelError(.io, file: output.path, place: "",
                                 problem: "\(output.role) names \(input.role) (\(input.path))\(alias(output.path, input.path)); bnc does not write over its inputs: choose another \(output.flag)")
            }
            if let earlier = keys.first(where: { $0.key == key }) {
                throw ModelError(.io, file: output.path, place: "",
                                 problem: "\(output.role) names the same file as \(earlier.output.role) (\(earlier.output.path)); choose another \(output.flag)")
            }
            keys.append((key, output))
        }
        var locks: [FileLock] = []
        for (target, output) in zip(targets, outputs) where target.kind != .stream {
            do {
                locks.append(try FileLock.acquire(for: target.resolved))
            } catch {
                for lock in locks { lock.release() }
                switch error {
                case .held(let pid, let command):
                    let holder = pid.map { "pid \($0)" + (command.map { ": \($0)" } ?? "") } ?? "a process in another namespace"
                    throw ModelError(.io, file: output.path, place: "",
                                     problem: "another bnc is writing this file (\(holder)); wait for it to finish or choose another \(output.flag)")
                case .system(let text):
                    throw ModelError(.io, file: output.path, place: "",
                                     problem: "cannot lock \(FileLock.lockPath(for: target.resolved)) against other writers: \(text)")
                }
            }
        }
        for lock in locks { Interruption.shared.hold(lock) }
        return OutputPaths(targets: targets)
    }

    /// Saves `model` to `path` (validated, atomic), recorded for the interruption line.
    static func save(_ model: Model, to path: String, note: String? = nil) throws(ModelError) {
        try Interruption.shared.writing(path, note: note) { () throws(ModelError) in try ModelFile.save(model, to: path) }
    }

    /// Writes `bytes` to `path` (atomic), recorded for the interruption line.
    static func write(_ bytes: [UInt8], to path: String, note: String? = nil) throws(ModelError) {
        try Interruption.shared.writing(path, note: note) { () throws(ModelError) in try AtomicFile.write(bytes, to: path) }
    }

    /// What an output is compared by: the file it replaces, or for a new file its folder
    /// and name (so `a.pb` and `./a.pb` are one new file).
    private enum Key: Equatable {
        case file(FileIdentity)
        case new(folder: FileIdentity, name: [UInt8])

        init?(_ target: AtomicFile.Target) {
            if let identity = target.identity {
                self = .file(identity)
                return
            }
            let (dir, name) = BytePath.split(target.resolved)
            guard let folder = FileIdentity(path: dir) else { return nil }
            self = .new(folder: folder, name: BytePath.bytes(name))
        }
    }

    private static func alias(_ a: String, _ b: String) -> String {
        BytePath.same(a, b) ? "" : ", the same file under another name"
    }
}
