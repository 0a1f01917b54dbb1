import ArgumentParser
import BNCData
import BNCFileSystem
import BNCGraph
import BNCMPI
import BNCTraining

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An error caused by what the user gave bnc (a bad model file, a bad IDX file, a shape
/// mismatch, a bad flag): printed as one line `bnc: file: place: problem`, exit status 2.
public protocol BadInput: Error, CustomStringConvertible {}

extension ModelError: BadInput {}
extension DataError: BadInput {}

/// A check bnc ran failed (a fold whose proof exceeded the tolerance, a digest that does
/// not match in `verify`, training that diverged): the message is printed, exit status 1.
public struct CheckFailed: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Writes one line to standard error, file names as the bytes they came as (`BytePath`).
func printError(_ line: String) {
    writeError(line)
}

/// Writes `line` (plus a newline) to standard error at once, with write(2): safe from the
/// interruption handler's thread.
func writeError(_ line: String) {
    var bytes = BytePath.bytes(line)
    if bytes.last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
    writeAll(bytes, to: 2)
}

/// Standard output of every command: one line, its file names as the bytes they came as
/// (`BytePath`), written at once (unbuffered, like the progress bar's redraws, so the two
/// never reorder). Inside BNCCLI this is the `print` that `print("…")` calls (a better
/// match than `Swift.print(_: Any...)`).
func print(_ text: String) {
    var bytes = BytePath.bytes(text)
    bytes.append(UInt8(ascii: "\n"))
    writeAll(bytes, to: 1)
}

private func writeAll(_ bytes: [UInt8], to fd: Int32) {
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        done += n
    }
}

extension BNC {
    /// Entry point used by `main.swift`: parses, runs, and maps errors to exit codes — 2 and
    /// one line for bad input and bad arguments, 1 for failed checks; help and `--version`
    /// print as ArgumentParser does and exit 0.
    public static func runMain(_ arguments: [String]? = nil) -> Never {
        Interruption.shared.install()
        let status = run(arguments ?? Array(BytePath.arguments.dropFirst()))
        fflush(nil)
        Interruption.shared.releaseAll()
        Foundation.exit(status)
    }

    /// Parses and runs one command line; returns the exit status (help text, results and
    /// error lines are printed). Under mpirun every failure goes through `TrainProcesses`,
    /// so that all ranks stop with one line and none waits in a collective.
    static func run(_ arguments: [String]) -> Int32 {
        let arguments = CommandLineArguments.normalized(arguments)
        var command: ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                exit(withError: error)
            }
            return fail(CommandLineArguments.oneLine(fullMessage(for: error, columns: 10_000), arguments: arguments), status: 2)
        }
        do {
            if !(command is Train), let launch = MPILaunch.detect(ProcessInfo.processInfo.environment), launch.size > 1 {
                throw CheckFailed("only bnc train runs as several processes (mpirun -np N bnc train …); run this command without mpirun")
            }
            try command.run()
            return 0
        } catch let error as SharedFailure {
            Interruption.shared.releaseAll()
            TrainProcesses.end(error)
        } catch let error as TrainingError where error.kind == .diverged {
            return fail("bnc: training stopped: \(error)", status: 1)
        } catch let error as BadInput {
            return fail("bnc: \(error)", status: 2)
        } catch let error as CheckFailed {
            return fail("bnc: \(error)", status: 1)
        } catch let error as ValidationError {
            return fail(CommandLineArguments.oneLine(error.message, arguments: arguments), status: 2)
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }
            return fail(CommandLineArguments.oneLine(message(for: error), arguments: arguments),
                        status: code == .validationFailure ? 2 : 1)
        }
    }

    /// Prints `line` and returns `status`; in a run of several processes, ends this one so
    /// that the others stop too (`TrainProcesses.end`).
    private static func fail(_ line: String, status: Int32) -> Int32 {
        if TrainProcesses.current?.group != nil
            || (MPILaunch.detect(ProcessInfo.processInfo.environment).map { $0.size > 1 } ?? false) {
            Interruption.shared.releaseAll()
            TrainProcesses.end(line, status: status)
        }
        printError(line)
        return status
    }
}
