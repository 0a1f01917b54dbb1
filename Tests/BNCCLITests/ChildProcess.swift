import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The built `bnc` run as a plain child process (posix_spawn), for what `Process` cannot
/// do: read the child's peak memory (wait4's rusage), SIGKILL it at a chosen moment, or
/// start it through `/bin/sh` with resource limits. Output goes to files in a folder.
struct ChildProcess {
    struct Exit {
        /// Exit status, or nil when a signal ended the process.
        var status: Int32?
        var signal: Int32?
        var stdout: String
        var stderr: String
        /// Peak resident memory (ru_maxrss), bytes.
        var peakBytes: Int
    }

    let pid: pid_t
    let outputs: URL

    /// Starts `executable arguments…` with stdout and stderr in `outputs`/stdout, /stderr.
    static func spawn(_ executable: String, _ arguments: [String], outputs: URL) throws -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outputs.appendingPathComponent("stdout").path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, outputs.appendingPathComponent("stderr").path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard rc == 0 else {
            throw NSError(domain: "ChildProcess", code: Int(rc), userInfo: [NSLocalizedDescriptionKey: "posix_spawn \(executable): \(String(cString: strerror(rc)))"])
        }
        return ChildProcess(pid: pid, outputs: outputs)
    }

    /// Runs the built bnc to completion.
    static func runBNC(_ arguments: [String], outputs: URL) throws -> Exit {
        try spawn(CLIRunner.executable.path, arguments, outputs: outputs).wait()
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
            if let data = FileManager.default.contents(atPath: file.path), String(decoding: data, as: UTF8.self).contains(text) {
                return true
            }
            usleep(200)
        }
        return false
    }

    func kill() {
        _ = Glibc.kill(pid, SIGKILL)
    }

    /// Waits for the child and collects its exit, output and peak memory.
    func wait() throws -> Exit {
        var raw: Int32 = 0
        var usage = rusage()
        while wait4(pid, &raw, 0, &usage) < 0 {
            guard errno == EINTR else { throw NSError(domain: "ChildProcess", code: Int(errno)) }
        }
        let signal = raw & 0x7f
        func read(_ name: String) -> String {
            (try? String(contentsOf: outputs.appendingPathComponent(name), encoding: .utf8)) ?? ""
        }
        return Exit(status: signal == 0 ? (raw >> 8) & 0xff : nil, signal: signal == 0 ? nil : signal,
                    stdout: read("stdout"), stderr: read("stderr"), peakBytes: usage.ru_maxrss * 1024)
    }
}
