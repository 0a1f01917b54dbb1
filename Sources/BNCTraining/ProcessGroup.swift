/// The processes of a data-parallel training run, as training sees them: a rank, a size and
/// the three collective operations bnc builds everything else from (`Collectives.swift`).
///
/// Contract: every process calls the same operations in the same order with the same sizes
/// (a collective that one process skips blocks the others, or pairs with the wrong call).
/// Implementations report a failed collective themselves and end the process: after a
/// failed collective the group is unusable, and no caller could continue.
///
/// Implementations: `SingleProcess` (no communication), `MPIProcessGroup` (BNCMPI, Open
/// MPI), and the tests' in-process thread groups.
public protocol ProcessGroup: AnyObject {
    /// This process's index in 0..<size. Rank 0 writes every file.
    var rank: Int { get }
    /// Processes in the run.
    var size: Int { get }
    /// Element-wise sum over all processes, in place (`count` Floats). Afterwards every
    /// process holds the same bits.
    func sum(_ values: UnsafeMutablePointer<Float>, count: Int)
    /// Every process's `count` bytes, in rank order: `into` receives size × count bytes.
    func allGather(_ bytes: UnsafeRawPointer, count: Int, into: UnsafeMutableRawPointer)
    /// Process `root`'s `count` bytes to every process, in place.
    func broadcast(_ bytes: UnsafeMutableRawPointer, count: Int, root: Int)
}

/// One process alone: every collective is the identity.
public final class SingleProcess: ProcessGroup {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func sum(_ values: UnsafeMutablePointer<Float>, count: Int) {}
    public func allGather(_ bytes: UnsafeRawPointer, count: Int, into: UnsafeMutableRawPointer) {
        into.copyMemory(from: bytes, byteCount: count)
    }
    public func broadcast(_ bytes: UnsafeMutableRawPointer, count: Int, root: Int) {}
}

/// How batch normalization computes its training statistics in a data-parallel run.
public enum BatchNormSync: String, Sendable, CaseIterable {
    /// Statistics over the whole global batch: every BN combines the processes' counts,
    /// means and squared deviations in forward and their Σdz, Σdz·x̂ in backward, so the
    /// run computes what one process would on the global batch (SyncBatchNorm).
    case global
    /// Each process normalizes with its own shard's statistics, as a plain data-parallel
    /// run does; the moving statistics are rank 0's (broadcast after every epoch).
    case local
}

/// A data-parallel run: the processes and how BN shares statistics among them.
public struct DataParallel {
    public var group: ProcessGroup
    public var batchNorm: BatchNormSync

    public init(group: ProcessGroup, batchNorm: BatchNormSync = .global) {
        self.group = group
        self.batchNorm = batchNorm
    }

    /// Why a global batch of `batch` examples cannot be split over `processes` (nil when it
    /// divides), with the numbers and two batch sizes that would.
    public static func indivisibleBatch(_ batch: Int, over processes: Int) -> TrainingError? {
        guard batch % processes != 0 else { return nil }
        let lower = batch / processes * processes
        return TrainingError(
            place: "--batch-size",
            problem: "the global batch \(batch) does not divide over \(processes) processes (\(batch) = \(processes) × \(batch / processes) + \(batch % processes)); use a multiple of \(processes) such as \(max(lower, processes)) or \(lower + processes)")
    }

    /// Process `rank`'s contiguous part of 0..<count out of `size`: sizes differ by at most
    /// one, the first count % size processes taking the larger parts (an empty part when
    /// count < size).
    public static func share(_ rank: Int, of count: Int, among size: Int) -> Range<Int> {
        let base = count / size, extra = count % size
        let lower = rank * base + min(rank, extra)
        return lower..<(lower + base + (rank < extra ? 1 : 0))
    }
}
