import Dispatch
import Glibc
import Testing

@testable import BNCKernels

/// The fork/join of `Parallel.forEachSlice`: every slice runs exactly once and its writes are
/// visible when the call returns, whichever thread ran it (worker, or the caller taking slice 1
/// back), with several callers at once and with calls nested inside a slice.
@Suite struct ParallelTests {
    /// Slice writes through a pointer shared by all threads; each slot is written by one slice.
    struct Slots: @unchecked Sendable {
        let p: UnsafeMutablePointer<Int>
    }

    /// Work of varying length (0 to a few µs) so that both the worker and the caller's
    /// steal-back run slice 1 over the iterations.
    @inline(never)
    static func busy(_ steps: Int) -> Int {
        var x = steps
        for i in 0..<steps { x = x &* 6_364_136_223_846_793_005 &+ i }
        return x
    }

    @Test func everySliceRunsOnceAndItsWritesAreVisible() {
        // A worker of its own, used even on a loaded machine: the shared one may be busy with
        // other tests' callers. Runs until slice 1 ran on the worker 100 times (or 10 s).
        let worker = SliceWorker(checksLoad: false)
        let capacity = 200_000
        let slots = Slots(p: .allocate(capacity: capacity * Parallel.ways))
        defer { slots.p.deallocate() }
        slots.p.initialize(repeating: 0, count: capacity * Parallel.ways)
        let caller = pthread_self()
        let deadline = SliceWorker.monotonicNanoseconds() + 10_000_000_000
        func runs(_ v: Int) -> Int { (v & 0xFFFFF) + (v >> 20) }
        var calls = 0, onWorker = 0
        while calls < capacity && (calls < 2000 || onWorker < 100) && SliceWorker.monotonicNanoseconds() < deadline {
            let call = calls
            let ran = worker.run(UncheckedBox { slice in
                _ = Self.busy((call * 37 + slice * 11) % 3000)
                // Runs on the caller count 1, runs on another thread 2²⁰.
                slots.p[call * Parallel.ways + slice] += pthread_equal(pthread_self(), caller) != 0 ? 1 : 1 << 20
            })
            #expect(ran, "the worker refused a call with no other caller")
            calls += 1
            // Visible right after the call returns.
            if runs(slots.p[call * Parallel.ways]) != 1 || runs(slots.p[call * Parallel.ways + 1]) != 1 { break }
            if slots.p[call * Parallel.ways + 1] >> 20 == 1 { onWorker += 1 }
        }
        let counts = (0..<(calls * Parallel.ways)).map { runs(slots.p[$0]) }
        #expect(counts.allSatisfy { $0 == 1 }, "slices that did not run exactly once: \(counts.enumerated().filter { $0.element != 1 }.prefix(5))")
        // Slice 0 always runs on the caller; slice 1 ran on the worker, and on the caller
        // when it took it back.
        #expect((0..<calls).allSatisfy { slots.p[$0 * Parallel.ways] >> 20 == 0 })
        #expect(onWorker > 0, "slice 1 never ran on the worker thread in \(calls) calls")
        // Every call was a job, and none fell back to one thread (this worker skips the load check).
        #expect(worker.jobs == UInt64(calls) && worker.jobsOnOneThread == 0)
    }

    @Test func concurrentCallersEachGetAllTheirSlices() {
        let threads = 4, calls = 5_000
        let slots = Slots(p: .allocate(capacity: threads * calls * Parallel.ways))
        defer { slots.p.deallocate() }
        slots.p.initialize(repeating: 0, count: threads * calls * Parallel.ways)
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for call in 0..<calls {
                Parallel.forEachSlice { slice in
                    _ = Self.busy((call + thread) % 500)
                    slots.p[(thread * calls + call) * Parallel.ways + slice] += 1
                }
            }
        }
        let wrong = (0..<(threads * calls * Parallel.ways)).filter { slots.p[$0] != 1 }
        #expect(wrong.isEmpty, "\(wrong.count) slices did not run exactly once")
    }

    @Test func nestedCallsRunInsideASlice() {
        let slots = Slots(p: .allocate(capacity: Parallel.ways * Parallel.ways))
        defer { slots.p.deallocate() }
        slots.p.initialize(repeating: 0, count: Parallel.ways * Parallel.ways)
        for _ in 0..<1000 {
            Parallel.forEachSlice { outer in
                Parallel.forEachSlice { inner in slots.p[outer * Parallel.ways + inner] += 1 }
            }
        }
        #expect((0..<(Parallel.ways * Parallel.ways)).allSatisfy { slots.p[$0] == 1000 })
    }

    @Test func theLoadCheckReadsTheRunnableCount() {
        // This thread is running, so Linux reports at least 1 runnable thread.
        #expect(SliceWorker.runnableThreads() >= 1)
        #expect(SliceWorker.cores >= 1)
    }
}
