import Foundation
@testable import BNCTraining

/// N "processes" of a data-parallel run as N threads of the test process, exchanging bytes
/// through shared slots: the collectives of `ProcessGroup` without MPI, so the trainer's and
/// the synchronized BN's logic runs in unit tests. `sum` adds in rank order (deterministic).
///
/// Each member records its calls (kind and byte count), so tests check that every process
/// made the same collective calls. A member left waiting for 60 s stops the test process
/// (a hang would be a bug under test; a crash reports it).
final class ThreadWorld: @unchecked Sendable {
    let size: Int
    private let condition = NSCondition()
    private var arrived = 0
    private var generation = 0
    fileprivate var slots: [[UInt8]]

    init(size: Int) {
        self.size = size
        slots = Array(repeating: [], count: size)
    }

    /// Blocks until all `size` members arrive.
    fileprivate func barrier() {
        condition.lock()
        defer { condition.unlock() }
        let mine = generation
        arrived += 1
        if arrived == size {
            arrived = 0
            generation += 1
            condition.broadcast()
            return
        }
        let deadline = Date().addingTimeInterval(60)
        while generation == mine {
            if !condition.wait(until: deadline) {
                fatalError("ThreadWorld: a member waited 60 s in a collective the others never reached")
            }
        }
    }

    fileprivate func put(_ rank: Int, _ bytes: [UInt8]) {
        condition.lock()
        slots[rank] = bytes
        condition.unlock()
    }

    fileprivate func slot(_ rank: Int) -> [UInt8] {
        condition.lock()
        defer { condition.unlock() }
        return slots[rank]
    }

    /// Runs `body` on `size` threads, one per rank, and returns their results in rank order.
    func run<T: Sendable>(_ body: @escaping @Sendable (ThreadGroup) throws -> T) -> [Result<T, any Error>] {
        let results = ResultBox<T>(count: size)
        let done = DispatchGroup()
        for rank in 0..<size {
            done.enter()
            let thread = Thread { [self] in
                let group = ThreadGroup(world: self, rank: rank)
                results.set(rank, Result { try body(group) })
                done.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        done.wait()
        return results.values
    }
}

/// One member of a `ThreadWorld`.
final class ThreadGroup: ProcessGroup {
    let world: ThreadWorld
    let rank: Int
    var size: Int { world.size }
    /// Every collective this member made: kind and byte count.
    private(set) var calls: [String] = []

    init(world: ThreadWorld, rank: Int) {
        self.world = world
        self.rank = rank
    }

    func sum(_ values: UnsafeMutablePointer<Float>, count: Int) {
        calls.append("sum \(count)")
        let all = exchange(UnsafeRawBufferPointer(start: values, count: count * 4))
        for i in 0..<count {
            var total: Float = 0
            for p in 0..<size { total += all[p].withUnsafeBytes { $0.load(fromByteOffset: i * 4, as: Float.self) } }
            values[i] = total
        }
    }

    func allGather(_ bytes: UnsafeRawPointer, count: Int, into: UnsafeMutableRawPointer) {
        calls.append("allGather \(count)")
        let all = exchange(UnsafeRawBufferPointer(start: bytes, count: count))
        for p in 0..<size {
            precondition(all[p].count == count, "allGather: rank \(p) sent \(all[p].count) bytes, rank \(rank) \(count)")
            all[p].withUnsafeBytes { (into + p * count).copyMemory(from: $0.baseAddress!, byteCount: count) }
        }
    }

    func broadcast(_ bytes: UnsafeMutableRawPointer, count: Int, root: Int) {
        calls.append("broadcast \(count) from \(root)")
        let all = exchange(UnsafeRawBufferPointer(start: bytes, count: count))
        all[root].withUnsafeBytes { bytes.copyMemory(from: $0.baseAddress!, byteCount: count) }
    }

    /// Puts this member's bytes in its slot and returns every member's, after all arrived.
    private func exchange(_ mine: UnsafeRawBufferPointer) -> [[UInt8]] {
        world.put(rank, Array(mine))
        world.barrier()
        let all = (0..<size).map { world.slot($0) }
        world.barrier()
        return all
    }
}

/// Results written by the rank threads.
private final class ResultBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [Result<T, any Error>?]
    init(count: Int) { storage = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: Result<T, any Error>) {
        lock.lock()
        storage[i] = value
        lock.unlock()
    }
    var values: [Result<T, any Error>] {
        lock.lock()
        defer { lock.unlock() }
        return storage.map { $0! }
    }
}
