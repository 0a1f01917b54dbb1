import ArgumentParser
import BNCData
import BNCGraph
import BNCMPI

import Foundation

/// An error caused by what the user gave bnc (a bad model file, a bad IDX file, a shape
/// mismatch): printed as one line `bnc: file: place: problem`, exit status 2.
public protocol BadInput: Error, CustomStringConvertible {}

extension ModelError: BadInput {}
extension DataError: BadInput {}

/// A check bnc ran failed (a fold whose proof exceeded the tolerance, a digest that does
/// not match in `verify`): the message is printed, exit status 1.
public struct CheckFailed: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Writes one line to standard error.
func printError(_ line: String) {
    var text = line
    if !text.hasSuffix("\n") { text += "\n" }
    FileHandle.standardError.write(Data(text.utf8))
}

extension BNC {
    /// Entry point used by `main.swift`: parses, runs, and maps bnc's errors to exit codes
    /// (2 for bad input, 1 for failed checks); everything else goes to ArgumentParser.
    public static func runMain(_ arguments: [String]? = nil) -> Never {
        do {
            var command = try parseAsRoot(arguments)
            if !(command is Train), let launch = MPILaunch.detect(ProcessInfo.processInfo.environment), launch.size > 1 {
                throw CheckFailed("only bnc train runs as several processes (mpirun -np N bnc train …); run this command without mpirun")
            }
            try command.run()
            Foundation.exit(0)
        } catch let error as SharedFailure {
            TrainProcesses.end(error)
        } catch let error as BadInput {
            TrainProcesses.end("bnc: \(error)", status: 2)
        } catch let error as CheckFailed {
            TrainProcesses.end("bnc: \(error)", status: 1)
        } catch {
            if let launch = MPILaunch.detect(ProcessInfo.processInfo.environment), launch.size > 1 {
                // Parsing and validation are the same on every process: rank 0 reports.
                if TrainProcesses.current?.group != nil {
                    TrainProcesses.end("bnc: \(BNC.message(for: error))", status: BNC.exitCode(for: error).rawValue)
                }
                if launch.rank != 0 {
                    TrainProcesses.unsharedExit(BNC.message(for: error), rank: launch.rank, status: BNC.exitCode(for: error).rawValue)
                }
            }
            exit(withError: error)
        }
    }
}
