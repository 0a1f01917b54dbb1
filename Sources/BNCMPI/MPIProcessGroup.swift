import BNCTraining
import CMPI

/// Open MPI as a `ProcessGroup`: the one Swift type that calls MPI (through CMPI, which
/// loads libmpi at run time). `sum` is MPI_Allreduce (Open MPI picks its algorithm from
/// the process count and message size only, so the same count gives the same bits run to
/// run, and every process receives the same result); `allGather` and `broadcast` move
/// bytes, on which bnc's rank-order reductions are built.
///
/// A failed collective leaves MPI unusable: the group hands `onFailure` the one line to
/// print (nil: another process prints it) and the CLI ends the process; mpirun then stops
/// the others.
public final class MPIProcessGroup: ProcessGroup {
    public let rank: Int
    public let size: Int
    /// Processes of the job on this machine.
    public let localSize: Int
    /// Collective calls made so far.
    public private(set) var calls = 0
    /// Wall-clock seconds spent inside collectives (waiting for slower processes included).
    public private(set) var communicationSeconds = 0.0
    /// FNV-1a over every call's kind and size: processes that made the same calls agree.
    private var signature: UInt64 = 0xCBF2_9CE4_8422_2325
    private let onFailure: (String?) -> Never
    private let clock = ContinuousClock()

    /// Loads Open MPI (`library`, default libmpi.so.40), initializes it and starts watching
    /// the other processes (see `bnc_mpi_watch_peers`). Collective over all processes.
    public init(launch: MPILaunch, library: String? = nil, onFailure: @escaping (String?) -> Never) throws(MPIError) {
        var rank: Int32 = 0, size: Int32 = 0
        var error = [CChar](repeating: 0, count: 512)
        let status = library.withOptionalCString { bnc_mpi_start($0, &rank, &size, &error, error.count) }
        guard status == 0 else { throw MPIError(text(error)) }
        guard Int(size) == launch.size, Int(rank) == launch.rank else {
            throw MPIError("MPI reports rank \(rank) of \(size), mpirun's environment rank \(launch.rank) of \(launch.size)")
        }
        self.rank = Int(rank)
        self.size = Int(size)
        localSize = launch.localSize
        self.onFailure = onFailure
        guard bnc_mpi_watch_peers(&error, error.count) == 0 else { throw MPIError(text(error)) }
        calls += 1
    }

    public func sum(_ values: UnsafeMutablePointer<Float>, count: Int) {
        record(1, count)
        call { bnc_mpi_sum_floats(values, count, $0, $1) }
    }

    public func allGather(_ bytes: UnsafeRawPointer, count: Int, into: UnsafeMutableRawPointer) {
        record(2, count)
        call { bnc_mpi_allgather(bytes, count, into, $0, $1) }
    }

    public func broadcast(_ bytes: UnsafeMutableRawPointer, count: Int, root: Int) {
        record(3, count &* 64 &+ root)
        call { bnc_mpi_broadcast(bytes, count, Int32(root), $0, $1) }
    }

    /// The ranks whose calls so far differ from rank 0's in number, kind or size (empty
    /// when every process made the same calls). Itself one collective.
    public func ranksWithOtherCalls() -> [Int] {
        let mine = signature ^ UInt64(calls)
        return ranksDiffering(from: mine)
    }

    /// The text after "was lost; every process stops." in the line a survivor writes when
    /// mpirun stops the job because a process died.
    public func setStopNote(_ note: String) { bnc_mpi_set_stop_note(note) }

    /// The job ends on purpose: mpirun stopping the other processes is not a loss to report.
    public func ending() { bnc_mpi_ending() }

    /// MPI_Finalize; the group is unusable afterwards.
    public func finish() { bnc_mpi_finish() }

    /// Stops every process of the job with `status` (MPI_Abort).
    public func abort(status: Int32) -> Never {
        bnc_mpi_abort(status)
        fatalError("MPI_Abort returned")
    }

    private func record(_ kind: UInt64, _ count: Int) {
        calls += 1
        for v in [kind, UInt64(truncatingIfNeeded: count)] {
            signature ^= v
            signature &*= 0x0000_0100_0000_01B3
        }
    }

    private func call(_ body: (UnsafeMutablePointer<CChar>, Int) -> Int32) {
        let start = clock.now
        var error = [CChar](repeating: 0, count: 512)
        let status = error.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
        let elapsed = clock.now - start
        let (s, atto) = elapsed.components
        communicationSeconds += Double(s) + Double(atto) * 1e-18
        if status != 0 {
            // A process on this machine was lost: one process reports it, the same line as
            // a stopped survivor writes; otherwise the MPI error itself.
            var line = [CChar](repeating: 0, count: 1024)
            switch bnc_mpi_stop_after_failure(&line, line.count) {
            case 1: onFailure(text(line))
            case 0: onFailure(nil)
            default: onFailure("bnc: rank \(rank): " + text(error))
            }
        }
    }
}

/// Open MPI could not be started: one line saying why and what to do.
public struct MPIError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The text of a NUL-terminated C buffer.
private func text(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

extension Optional where Wrapped == String {
    fileprivate func withOptionalCString<R>(_ body: (UnsafePointer<CChar>?) -> R) -> R {
        switch self {
        case .some(let s): return s.withCString { body($0) }
        case .none: return body(nil)
        }
    }
}
