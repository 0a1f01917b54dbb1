import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Fixed two-way work splitting over the machine's cores.
///
/// Work is always cut into exactly `ways` slices whose bounds depend only on the problem size,
/// so results are bit-identical whether the slices run concurrently or one after the other
/// (`isEnabled = false`) and whatever the number of cores. Code running inside a slice must
/// not split again (use `GEMM.multiplySerial`).
///
/// Slice 0 runs on the calling thread and slice 1 on `SliceWorker`, one persistent thread
/// that spins briefly between jobs, so even the small kernels of a training step (a few
/// microseconds) gain from the second core; Dispatch's `concurrentPerform` costs more per
/// call than such a kernel saves. When other processes keep the other core busy, calls run
/// on one thread: waiting for a worker that shares a core is slower than running both
/// slices alone (figures: docs/benchmarks.md, "Measured figures behind the code").
public enum Parallel {
    /// Number of slices work is cut into.
    public static let ways = 2

    /// Whether slices run concurrently. Set once at start-up (e.g. from a command-line flag)
    /// before any work runs; changing it never changes results, only speed.
    nonisolated(unsafe) public static var isEnabled = true

    /// Runs `body(slice)` for slice in 0..<ways, concurrently when enabled; returns when all
    /// have finished. When another thread is using the worker at the moment, both slices run
    /// on this thread (same results).
    @inlinable
    public static func forEachSlice(_ body: (Int) -> Void) {
        if isEnabled {
            withoutActuallyEscaping(body) { body in
                if !SliceWorker.shared.run(UncheckedBox(body)) {
                    for slice in 0..<ways { body(slice) }
                }
            }
        } else {
            for slice in 0..<ways { body(slice) }
        }
    }

    /// `forEachSlice(body)` when `split`; otherwise only `body(0)` on this thread (callers then
    /// give slice 0 the whole range).
    @inlinable
    public static func forEachSlice(_ split: Bool, _ body: (Int) -> Void) {
        if split {
            forEachSlice(body)
        } else {
            body(0)
        }
    }

    /// The part of 0..<count that slice `slice` handles: contiguous, in order, sizes differing
    /// by at most `alignment`; boundaries are multiples of `alignment`.
    @inlinable
    public static func range(_ slice: Int, of count: Int, alignment: Int = 1) -> Range<Int> {
        let units = (count + alignment - 1) / alignment
        let lo = min(count, (units * slice / ways) * alignment)
        let hi = min(count, (units * (slice + 1) / ways) * alignment)
        return lo..<hi
    }

    /// Split jobs so far, and how many of them ran on one thread because other processes
    /// kept the other core busy: benchmarks report it, since such runs are slower. Read it
    /// when no kernel is running (e.g. after a timed run).
    public static var loadFallbacks: (jobs: UInt64, onOneThread: UInt64) {
        (SliceWorker.shared.jobs, SliceWorker.shared.jobsOnOneThread)
    }

    /// The part of 0..<count for slice `slice` of `forEachSlice(split, body)`: its share
    /// when split, otherwise everything for slice 0 (the only one that runs).
    @inlinable
    public static func range(_ slice: Int, of count: Int, split: Bool) -> Range<Int> {
        split ? range(slice, of: count) : (slice == 0 ? 0..<count : 0..<0)
    }
}

/// Hands a non-Sendable value (a closure over raw pointers) to another thread; the slices
/// write disjoint memory, which is what makes this sound.
@usableFromInline
struct UncheckedBox<T>: @unchecked Sendable {
    @usableFromInline let value: T
    @usableFromInline init(_ value: T) { self.value = value }
}

/// The persistent thread that runs slice 1 of `Parallel.forEachSlice`.
///
/// Protocol: a caller takes `owner` (or runs both slices itself when another caller holds
/// it), stores the job, bumps `posted` and wakes the worker if it sleeps; it runs slice 0,
/// then either claims slice 1 itself (the worker has not started it) or spins until
/// `finished` equals its job number, and drops the job.
/// The worker spins on `posted` for up to `spinNanoseconds` after each job, then sleeps on a
/// semaphore, announcing it in `sleeping` first and re-checking `posted` so no wake-up is lost.
@usableFromInline
final class SliceWorker: @unchecked Sendable {
    @usableFromInline static let shared = SliceWorker()

    /// How long the idle worker spins before it sleeps: longer than the gaps between the
    /// kernels of a step, short enough to leave the core alone between commands' phases.
    static let spinNanoseconds: UInt64 = 200_000

    private let owner = Atomic<Bool>(false)
    private let posted = Atomic<UInt64>(0)
    private let finished = Atomic<UInt64>(0)
    /// The last job whose slice 1 someone took: the worker, or the owner when it finished
    /// slice 0 before the worker started (so a busy or sleeping worker never delays a caller).
    private let claimed = Atomic<UInt64>(0)
    private let sleeping = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    /// The current job; written by the owner before `posted`, read by the worker after it.
    nonisolated(unsafe) private var job: UncheckedBox<(Int) -> Void>?
    /// Whether, at the last look at the machine's load, other processes kept every core but
    /// the caller's busy: the worker would then time-share a core, and the owner waiting for
    /// it is slower than running both slices alone. Touched only by the owner.
    nonisolated(unsafe) private var contended = false
    /// Jobs the owner took, and those of them it ran on one thread because of the load
    /// (`Parallel.loadFallbacks`). Touched only by the owner.
    nonisolated(unsafe) private(set) var jobs: UInt64 = 0
    nonisolated(unsafe) private(set) var jobsOnOneThread: UInt64 = 0
    /// Whether the last look at the load found the cores busy.
    nonisolated(unsafe) private var lastLookBusy = false
    /// When (CLOCK_MONOTONIC) the owner next looks at the load.
    nonisolated(unsafe) private var nextLoadCheck: UInt64 = 0
    static let loadCheckNanoseconds: UInt64 = 50_000_000
    /// Whether callers fall back to one thread under load (off for tests' own workers, which
    /// must exercise the worker on a loaded machine).
    let checksLoad: Bool
    /// Online processors.
    static let cores = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    /// Whether the thread runs (set once, in init, before it starts).
    private var workerStarted = false

    /// The shared worker is `shared`; tests make their own.
    init(checksLoad: Bool = true) {
        self.checksLoad = checksLoad
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { context in
            Unmanaged<SliceWorker>.fromOpaque(context!).takeUnretainedValue().loop()
        }, context)
        if status == 0 {
            workerStarted = true
            pthread_detach(thread)
        } else {
            Unmanaged<SliceWorker>.fromOpaque(context).release()
        }
    }

    /// Runs `body(0)` here and `body(1)` on the worker; false (nothing run) when the worker is
    /// taken by another thread or could not be started.
    @usableFromInline
    func run(_ body: UncheckedBox<(Int) -> Void>) -> Bool {
        guard workerStarted, owner.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            return false
        }
        let now = SliceWorker.monotonicNanoseconds()
        if checksLoad && now >= nextLoadCheck {
            nextLoadCheck = now &+ SliceWorker.loadCheckNanoseconds
            let workerRunnable = !sleeping.load(ordering: .relaxed)
            // Briefly runnable kernel threads show up too: contended only when 4 reads agree.
            var runnable = Int.max
            for _ in 0..<4 where runnable - 1 - (workerRunnable ? 1 : 0) >= SliceWorker.cores - 1 {
                runnable = min(runnable, SliceWorker.runnableThreads())
            }
            // ... and two looks 50 ms apart.
            let busy = runnable - 1 - (workerRunnable ? 1 : 0) >= SliceWorker.cores - 1
            contended = busy && lastLookBusy
            lastLookBusy = busy
        }
        jobs &+= 1
        if contended {
            jobsOnOneThread &+= 1
            owner.store(false, ordering: .releasing)
            return false
        }
        job = body
        let number = posted.add(1, ordering: .sequentiallyConsistent).newValue
        if sleeping.exchange(false, ordering: .sequentiallyConsistent) { wake.signal() }
        body.value(0)
        if claimed.compareExchange(expected: number - 1, desired: number, ordering: .acquiringAndReleasing).exchanged {
            // The worker has not started (busy core, or still waking): run slice 1 here.
            body.value(1)
        } else {
            var spins = 0
            while finished.load(ordering: .acquiring) != number {
                spins += 1
                if spins & 255 == 0 { sched_yield() }
            }
        }
        job = nil
        owner.store(false, ordering: .releasing)
        return true
    }

    static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
    }

    /// Threads runnable on the machine now, this one included (the fourth field of
    /// /proc/loadavg, "runnable/total"); 0 when it cannot be read.
    static func runnableThreads() -> Int {
        let fd = open("/proc/loadavg", O_RDONLY)
        if fd < 0 { return 0 }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 128)
        let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count <= 0 { return 0 }
        // "0.50 1.36 1.44 3/103 14300": the digits before the slash.
        guard let slash = bytes[0..<count].firstIndex(of: UInt8(ascii: "/")) else { return 0 }
        var start = slash
        while start > 0 && bytes[start - 1] >= UInt8(ascii: "0") && bytes[start - 1] <= UInt8(ascii: "9") { start -= 1 }
        var value = 0
        for digit in bytes[start..<slash] { value = value * 10 + Int(digit - UInt8(ascii: "0")) }
        return value
    }

    private func loop() -> Never {
        var done: UInt64 = 0
        while true {
            // Spin for the next job, then sleep.
            var start = SliceWorker.monotonicNanoseconds()
            var spins = 0
            while posted.load(ordering: .acquiring) == done {
                spins += 1
                if spins & 1023 == 0 && SliceWorker.monotonicNanoseconds() &- start > SliceWorker.spinNanoseconds {
                    sleeping.store(true, ordering: .sequentiallyConsistent)
                    if posted.load(ordering: .sequentiallyConsistent) != done {
                        // A job came in meanwhile: if its owner already saw `sleeping`, it
                        // signals; consume that signal so the next sleep is a real one.
                        if !sleeping.exchange(false, ordering: .sequentiallyConsistent) { wake.wait() }
                        break
                    }
                    wake.wait()
                    start = SliceWorker.monotonicNanoseconds()
                    spins = 0
                }
            }
            done = posted.load(ordering: .acquiring)
            // Claim the job unless its owner already ran slice 1 itself.
            if claimed.compareExchange(expected: done - 1, desired: done, ordering: .acquiringAndReleasing).exchanged {
                job?.value(1)
                finished.store(done, ordering: .releasing)
            }
        }
    }
}
