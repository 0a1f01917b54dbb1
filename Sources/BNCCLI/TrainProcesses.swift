import BNCJSON
import BNCKernels
import BNCMPI
import BNCTraining
import Foundation

/// How `bnc train` runs: alone, or as one process of an Open MPI job (`mpirun -np N bnc
/// train …`, detected from mpirun's environment; MPI is loaded and initialized only then).
///
/// Under mpirun every process runs the same command; rank 0 alone prints and writes. Each
/// step where one process could fail alone (reading data, building the network, reading
/// the checkpoint, writing a file) is followed by an agreement (`agreed`): every process
/// learns the first failure and stops with it, so none waits in a collective the failed one
/// never reaches; rank 0 prints the one line. `mpirun -np 1` runs exactly as alone.
final class TrainProcesses {
    /// The job's processes; nil alone.
    let group: MPIProcessGroup?
    let batchNorm: BatchNormSync
    /// The global batch and each process's part of it.
    let batch: Int

    /// This run's session, for `BNC.runMain`'s error handling; nil until one started.
    nonisolated(unsafe) static var current: TrainProcesses?

    var rank: Int { group?.rank ?? 0 }
    var processes: Int { group?.size ?? 1 }
    /// Whether this process prints and writes files (rank 0, or alone).
    var isWriter: Bool { rank == 0 }
    var parallel: DataParallel? { group.map { DataParallel(group: $0, batchNorm: batchNorm) } }

    private init(group: MPIProcessGroup?, batchNorm: BatchNormSync, batch: Int) {
        self.group = group
        self.batchNorm = batchNorm
        self.batch = batch
    }

    /// Starts the run: alone without mpirun (or for one process), otherwise Open MPI, after
    /// checking that the global batch divides over the processes. Collective under mpirun.
    static func start(
        environment: [String: String] = ProcessInfo.processInfo.environment, batch: Int, batchNorm: BatchNormSync
    ) throws -> TrainProcesses {
        guard let launch = MPILaunch.detect(environment), launch.size > 1 else {
            let alone = TrainProcesses(group: nil, batchNorm: batchNorm, batch: batch)
            current = alone
            return alone
        }
        if let problem = DataParallel.indivisibleBatch(batch, over: launch.size) { throw problem }
        let group: MPIProcessGroup
        do {
            group = try MPIProcessGroup(launch: launch, library: environment["BNC_MPI_LIBRARY"]) { line in
                // A collective failed: MPI is unusable; mpirun stops the others.
                if let line { printError(line) }
                Foundation.exit(3)
            }
        } catch {
            throw StartFailure(description: "started by mpirun (OMPI_COMM_WORLD_SIZE=\(launch.size)) but Open MPI did not start: \(error)")
        }
        // One process per core: each runs its kernels on one thread (bnc's splits give
        // the same bits either way).
        if launch.localSize >= sysconf(Int32(_SC_NPROCESSORS_ONLN)) { Parallel.isEnabled = false }
        if group.rank != 0 {
            // Only rank 0 prints: the others' standard output goes nowhere.
            let null = open("/dev/null", O_WRONLY)
            if null >= 0 {
                dup2(null, STDOUT_FILENO)
                close(null)
            }
        }
        group.setStopNote("No checkpoint was written yet.")
        let session = TrainProcesses(group: group, batchNorm: batchNorm, batch: batch)
        current = session
        return session
    }

    /// The first line of a run under mpirun (nil alone): processes, per-process batch, BN mode.
    func announcement(json: Bool) -> String? {
        guard processes > 1 else { return nil }
        let per = batch / processes
        let mode = batchNorm == .global ? "over the global batch" : "per process"
        if json {
            return JSONText.object([
                ("event", JSONText.string("processes")), ("processes", "\(processes)"), ("batch", "\(batch)"),
                ("batch_per_process", "\(per)"), ("bn_sync", JSONText.string(batchNorm.rawValue)),
            ])
        }
        return "\(processes) processes (Open MPI): global batch \(batch) = \(per) per process; BN statistics \(mode) (--bn-sync \(batchNorm.rawValue))"
    }

    /// Runs `body` on every process, then makes sure all succeeded: the first (lowest-ranked)
    /// failure is thrown on every process as `SharedFailure`. Alone: just `body`.
    func agreed<T>(_ body: () throws -> T) throws -> T {
        guard let group else { return try body() }
        var result: T?
        var failure: String?
        do {
            result = try body()
        } catch {
            failure = "\(TrainProcesses.status(of: error))|\(error)"
        }
        if let (rank, text) = group.firstFailure(failure) {
            let parts = text.split(separator: "|", maxSplits: 1)
            throw SharedFailure(rank: rank, message: parts.count > 1 ? String(parts[1]) : text,
                                status: parts.first.flatMap { Int32($0) } ?? 1)
        }
        return result!
    }

    /// `body` on the writer (rank 0) alone, then an agreement.
    func onWriter(_ body: () throws -> Void) throws {
        try agreed { if isWriter { try body() } }
    }

    /// The writer's bytes on every process (read by the writer inside an `agreed` step first).
    func fromWriter(_ bytes: [UInt8]) -> [UInt8] {
        guard let group else { return bytes }
        return group.broadcast(bytes, root: 0)
    }

    /// Tells the survivors' "was lost" line where the last checkpoint is.
    func checkpointWritten(_ path: String, epoch: Int) {
        group?.setStopNote("The last checkpoint, \(path) (after epoch \(epoch)), is intact: run the same command with --resume to continue.")
    }

    /// The end of a run: proves every process made the same collective calls, then
    /// finalizes MPI.
    func finish() throws {
        guard let group else { return }
        let other = group.ranksWithOtherCalls()
        guard other.isEmpty else {
            throw SharedFailure(rank: other[0], message: "made other collective calls than process 0 (a fault of bnc)", status: 1)
        }
        group.finish()
        TrainProcesses.current = nil
    }

    /// Communication time so far (nil alone), for the epoch reports.
    var communicationSeconds: Double? { group?.communicationSeconds }

    /// Exit status for an error: 2 for bad input, 1 otherwise.
    static func status(of error: any Error) -> Int32 {
        if error is BadInput { return 2 }
        if let shared = error as? SharedFailure { return shared.status }
        return 1
    }

    /// Ends the process after an error that `runMain` caught (not `SharedFailure`): alone it
    /// is printed as usual; under mpirun before MPI started, every process has the same
    /// error and rank 0 prints it; after, only this process may have it, so it is printed
    /// with its rank and the whole job is stopped (MPI_Abort).
    static func end(_ line: String, status: Int32) -> Never {
        if let group = current?.group {
            Interruption.shared.endingQuietly(status: status)
            group.ending()
            printError(line.hasPrefix("bnc: ") ? "bnc: rank \(group.rank): " + line.dropFirst(5) : line)
            group.abort(status: status)
        }
        if let launch = MPILaunch.detect(ProcessInfo.processInfo.environment), launch.size > 1, launch.rank != 0 {
            unsharedExit(line, rank: launch.rank, status: status)
        }
        printError(line)
        Foundation.exit(status)
    }

    /// A process other than rank 0 that failed before MPI started: the others most likely
    /// failed the same way (same command, same checks), and rank 0 prints that line. This
    /// one waits first, because mpirun stops the whole job as soon as one process exits
    /// with an error, which could stop rank 0 before it printed; mpirun's SIGTERM ends the
    /// wait silently (`Interruption`). When rank 0 did not fail (a check that differs
    /// between machines: rank 0 then waits in MPI_Init), the line is printed here after the
    /// wait. The wait is 10 s, and a signal does not cut it short: mpirun's SIGTERM wakes a
    /// plain sleep(3), which would print this line before the interruption handler (on
    /// another thread) ends the process silently.
    static func unsharedExit(_ line: String, rank: Int, status: Int32) -> Never {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline { usleep(50_000) }
        printError(line.hasPrefix("bnc: ") ? "bnc: rank \(rank): " + line.dropFirst(5) : "bnc: rank \(rank): " + line)
        Foundation.exit(status)
    }

    /// Ends the process after a `SharedFailure`: every process has it; rank 0 prints it.
    static func end(_ failure: SharedFailure) -> Never {
        Interruption.shared.endingQuietly(status: failure.status)
        current?.group?.ending()
        if current?.isWriter ?? true { printError("bnc: \(failure)") }
        current?.group?.finish()
        Foundation.exit(failure.status)
    }
}

/// An error every process of the run has, after an agreement: printed once, by rank 0.
struct SharedFailure: Error, CustomStringConvertible {
    /// The lowest-ranked process that failed.
    var rank: Int
    var message: String
    var status: Int32
    var description: String { rank == 0 ? message : "rank \(rank): \(message)" }
}

/// Open MPI could not start under mpirun (bad input from the machine: exit 2).
struct StartFailure: BadInput {
    var description: String
}
