import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The built `bnc` run as a plain child process (posix_spawn), for what `Process` cannot
/// do: SIGKILL it at a chosen moment while its output is watched, or start it through
/// `/bin/sh` with resource limits. Output goes to files in a folder.
///
/// (Not wait4's ru_maxrss for peak memory: a posix_spawn child shares the parent's memory
/// until exec, and Linux keeps that high-water mark, so it reports the test process's size.)
struct ChildProcess {
    struct Exit {
        /// Exit status, or nil when a signal ended the process.
        var status: Int32?
        var signal: Int32?
        var stdout: String
        var stderr: String
    }

    let pid: pid_t
    let outputs: URL

    /// Starts `executable arguments…` with stdout and stderr in `outputs`/stdout, /stderr,
    /// in this process's environment or `environment` ("NAME=value" entries).
    static func spawn(_ executable: String, _ arguments: [String], outputs: URL, environment: [String]? = nil) throws -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outputs.appendingPathComponent("stdout").path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, outputs.appendingPathComponent("stderr").path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // No signal blocked and SIGINT, SIGTERM at their defaults, whatever this process's
        // thread has (the test runner's threads block most signals): as from a shell. bnc
        // keeps an ignored SIGINT ignored, and the interruption tests send it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGTERM)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let envp: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.map { strdup($0) } + [nil] }
        defer { for p in envp ?? [] { free(p) } }
        let rc = envp.map { e in e.withUnsafeBufferPointer { posix_spawn(&pid, executable, &actions, &attributes, argv, $0.baseAddress) } }
            ?? posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard rc == 0 else {
            throw NSError(domain: "ChildProcess", code: Int(rc), userInfo: [NSLocalizedDescriptionKey: "posix_spawn \(executable): \(String(cString: strerror(rc)))"])
        }
        return ChildProcess(pid: pid, outputs: outputs)
    }

    /// Runs the built bnc to completion (killed after `timeout` seconds).
    static func runBNC(_ arguments: [String], outputs: URL, timeout: Double = 120) throws -> Exit {
        try spawn(CLIRunner.executable.path, arguments, outputs: outputs).wait(timeout: timeout)
    }

    /// Runs the built bnc under `/bin/sh` after `setup` (shell commands such as
    /// `ulimit -f 8; trap '' XFSZ`): resource limits and ignored signals survive `exec`.
    static func runBNC(_ arguments: [String], shellSetup setup: String, outputs: URL) throws -> Exit {
        try spawn("/bin/sh", ["-c", "\(setup); exec \"$0\" \"$@\"", CLIRunner.executable.path] + arguments, outputs: outputs).wait()
    }

    /// Polls the child's stdout until it contains `text` (true), or until 30 s have passed
    /// (false; a guard against hanging, not a timing expectation).
    func waitForOutput(containing text: String) -> Bool {
        let file = outputs.appendingPathComponent("stdout")
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if Self.read(file.path).contains(text) { return true }
            usleep(200)
        }
        return false
    }

    func kill() {
        _ = Glibc.kill(pid, SIGKILL)
    }

    /// Waits for the child and collects its exit and output. A child still running after
    /// `timeout` seconds is killed (the exit then shows SIGKILL): a hang fails the test
    /// instead of blocking the suite.
    func wait(timeout: Double = 120) throws -> Exit {
        let pid = self.pid
        let watchdog = DispatchWorkItem { _ = Glibc.kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        defer { watchdog.cancel() }
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 {
            guard errno == EINTR else { throw NSError(domain: "ChildProcess", code: Int(errno)) }
        }
        let signal = raw & 0x7f
        return Exit(status: signal == 0 ? (raw >> 8) & 0xff : nil, signal: signal == 0 ? nil : signal,
                    stdout: Self.read(outputs.appendingPathComponent("stdout").path),
                    stderr: Self.read(outputs.appendingPathComponent("stderr").path))
    }

    /// A file's text, read with read(2) ("" when missing): Foundation's file reading leaks
    /// its buffer under LeakSanitizer for files that grow while read.
    static func read(_ path: String) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether this test process runs under a sanitizer (its runtime is linked in), where
    /// memory limits do not apply: address and thread sanitizers reserve terabytes.
    static let sanitized: Bool = dlsym(nil, "__asan_init") != nil || threadSanitized
    static let threadSanitized: Bool = dlsym(nil, "__tsan_init") != nil
}
