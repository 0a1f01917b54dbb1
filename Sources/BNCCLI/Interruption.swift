import BNCFileSystem
import BNCMPI
import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What bnc does when it is interrupted (Ctrl-C, or SIGTERM): one line on standard error
/// saying what was kept and how to go on, its output locks released, exit status 130
/// (SIGINT) or 143 (SIGTERM).
///
/// Writes go through `writing(_:note:_:)`, which holds a mutex that the signal handler
/// also takes, so an interruption never lands between a write and the record of it: the
/// line is true about what is on disk (every write is atomic, so a file is either the old
/// one or the new one). Commands with more to say (train: the checkpoint and `--resume`)
/// set a `note`; otherwise the line lists what was written, or says nothing was. A SIGINT
/// that was ignored when bnc started (a background job of a non-interactive shell) stays
/// ignored.
final class Interruption: @unchecked Sendable {
    static let shared = Interruption()

    private let mutex = NSLock()
    private var locks: [FileLock] = []
    private var written: [String] = []
    private var note: String?
    private var sources: [DispatchSourceSignal] = []
    /// A process of an mpirun job other than rank 0.
    private var silent = false
    /// Set once the process is ending with an error it has printed (`endingQuietly`).
    private var endingStatus: Int32?

    /// Installs the handlers (once, from `BNC.runMain`).
    func install() {
        if let launch = MPILaunch.detect(ProcessInfo.processInfo.environment), launch.size > 1 {
            silent = launch.rank != 0
        }
        for (signal, status) in [(SIGINT, Int32(130)), (SIGTERM, Int32(143))] {
            var old = sigaction()
            sigaction(signal, nil, &old)
            if unsafeBitCast(old.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) {
                continue
            }
            Glibc.signal(signal, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signal, queue: DispatchQueue.global())
            source.setEventHandler { [self] in interrupted(status: status) }
            source.resume()
            sources.append(source)
        }
    }

    /// Keeps `lock` until the process ends (released by `releaseAll`, or by an interruption).
    func hold(_ lock: FileLock) {
        mutex.lock()
        defer { mutex.unlock() }
        locks.append(lock)
    }

    /// What the interruption line says instead of the list of written files (nil: the list).
    func setNote(_ text: String?) {
        mutex.lock()
        defer { mutex.unlock() }
        note = text
    }

    /// Runs `body` (a write of `path`) so that an interruption waits for it, then records
    /// `path` as written and, when given, the new note.
    func writing<T, E: Error>(_ path: String, note newNote: String? = nil, _ body: () throws(E) -> T) throws(E) -> T {
        mutex.lock()
        defer { mutex.unlock() }
        let result = try body()
        written.append(path)
        if let newNote { note = newNote }
        return result
    }

    /// The process is ending with an error whose line is printed (under mpirun, while MPI
    /// shuts down): a signal now (mpirun stopping the job because another process exited
    /// first) ends it with that error's status and no second line.
    func endingQuietly(status: Int32) {
        mutex.lock()
        defer { mutex.unlock() }
        endingStatus = status
    }

    /// Releases every held output lock (at the end of a command).
    func releaseAll() {
        mutex.lock()
        defer { mutex.unlock() }
        for lock in locks { lock.release() }
        locks = []
    }

    /// The line printed on interruption.
    var line: String {
        if let note { return "bnc: interrupted; \(note)" }
        if written.isEmpty { return "bnc: interrupted; nothing written" }
        return "bnc: interrupted; wrote \(written.joined(separator: ", ")) (complete); nothing else written"
    }

    private func interrupted(status: Int32) {
        // A write in progress finishes first (a write blocked on a pipe without reader does
        // not hold the exit up for more than 2 s; its target then is the old file).
        let locked = mutex.lock(before: Date().addingTimeInterval(2))
        if silent || endingStatus != nil {
            for lock in locks { lock.release() }
            _exit(endingStatus ?? status)
        }
        var text = line
        if !locked { text += " (a write was still in progress: its target keeps the old content)" }
        for lock in locks { lock.release() }
        writeError(text)
        _exit(status)
    }
}
