import BNCData
import BNCModelFile
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Helpers shared by the tests of the command line's promises (issue 19): one-line errors,
/// small data folders, shell scripts with raw-byte file names, runs on a terminal.
enum CLISupport {
    /// Exit status `status`, exactly one line on standard error, starting with `prefix` and
    /// containing every fragment; no backtrace.
    static func expectOneLine(
        _ r: ChildProcess.Exit, status: Int32 = 2, prefix: String, _ fragments: String..., sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(r.signal == nil && r.status == status, "status \(String(describing: r.status)), signal \(String(describing: r.signal)): \(r.stderr)",
                sourceLocation: sourceLocation)
        #expect(r.stderr.hasPrefix(prefix), "\(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stderr.split(separator: "\n").count == 1, "not one line: \(r.stderr)", sourceLocation: sourceLocation)
        for fragment in fragments {
            #expect(r.stderr.contains(fragment), "'\(fragment)' missing: \(r.stderr)", sourceLocation: sourceLocation)
        }
    }

    /// A folder in the MNIST layout with `train` and `test` random 4×4 images of 10 classes
    /// (labels i mod 10), plain IDX files.
    static func writeMNISTFolder(_ dir: URL, train: Int = 200, test: Int = 50) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var state: UInt64 = 7
        func pixels(_ n: Int) -> [UInt8] {
            (0..<(n * 16)).map { _ in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return UInt8(truncatingIfNeeded: state >> 56)
            }
        }
        for (name, count) in [("train", train), ("t10k", test)] {
            try AtomicFile.write(IDXFile(path: "", dims: [count, 4, 4], elements: .uint8(pixels(count))).encoded(),
                                 to: dir.appendingPathComponent("\(name)-images-idx3-ubyte").path)
            try AtomicFile.write(IDXFile(path: "", dims: [count], elements: .uint8((0..<count).map { UInt8($0 % 10) })).encoded(),
                                 to: dir.appendingPathComponent("\(name)-labels-idx1-ubyte").path)
        }
    }

    /// Runs `script` with `/bin/sh -c`; `$0` is the built bnc. For file names that are not
    /// UTF-8 (made with printf), which a Swift string cannot carry to the child.
    static func runShell(_ script: String, outputs: URL) throws -> ChildProcess.Exit {
        try ChildProcess.spawn("/bin/sh", ["-c", script, CLIRunner.executable.path], outputs: outputs).wait()
    }

    /// Every file in `dir`, hidden ones included.
    static func listing(_ dir: URL) -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [])
    }
}

/// The built bnc with standard error on a pseudo-terminal (what a user at a terminal sees of
/// progress), standard output in a file.
struct TerminalRun {
    let pid: pid_t
    let master: Int32
    let outputs: URL

    static func start(_ arguments: [String], outputs: URL) throws -> TerminalRun {
        // posix_openpt/unlockpt/ptsname are not imported: the same through /dev/ptmx's ioctls
        // (TIOCSPTLCK 0x40045431 unlocks, TIOCGPTN 0x80045430 gives the number).
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        var unlock: Int32 = 0, number: UInt32 = 0
        guard master >= 0, ioctl(master, 0x4004_5431, &unlock) == 0, ioctl(master, 0x8004_5430, &number) == 0 else {
            throw NSError(domain: "TerminalRun", code: Int(errno))
        }
        let slavePath = "/dev/pts/\(number)"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outputs.appendingPathComponent("stdout").path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, slavePath, O_RDWR | O_NOCTTY, 0)
        posix_spawn_file_actions_addclose(&actions, master)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let executable = CLIRunner.executable.path
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard rc == 0 else { throw NSError(domain: "TerminalRun", code: Int(rc)) }
        return TerminalRun(pid: pid, master: master, outputs: outputs)
    }

    /// Reads the terminal until its text contains `text` (true) or 30 s pass (false).
    func waitForTerminal(containing text: String, into seen: inout String) -> Bool {
        let deadline = Date().addingTimeInterval(30)
        var chunk = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            var p = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 100) > 0 {
                let n = chunk.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
                if n <= 0 { return seen.contains(text) }
                seen += String(decoding: chunk[0..<n], as: UTF8.self)
                if seen.contains(text) { return true }
            }
        }
        return false
    }

    func interrupt() { _ = kill(pid, SIGINT) }

    /// Waits for the exit; returns (status, signal, everything the terminal got).
    func finish(seen: String) -> (status: Int32?, signal: Int32?, terminal: String) {
        var text = seen
        var chunk = [UInt8](repeating: 0, count: 4096)
        var raw: Int32 = 0
        while waitpid(pid, &raw, WNOHANG) == 0 {
            var p = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 50) > 0 {
                let n = chunk.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
                if n > 0 { text += String(decoding: chunk[0..<n], as: UTF8.self) }
            }
        }
        while true {
            var p = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 0) > 0 else { break }
            let n = chunk.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            text += String(decoding: chunk[0..<n], as: UTF8.self)
        }
        close(master)
        let signal = raw & 0x7f
        return (signal == 0 ? (raw >> 8) & 0xff : nil, signal == 0 ? nil : signal, text)
    }
}
