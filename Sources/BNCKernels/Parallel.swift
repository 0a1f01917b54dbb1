import Dispatch

/// Fixed two-way work splitting over the machine's cores.
///
/// Work is always cut into exactly `ways` slices whose bounds depend only on the problem size,
/// so results are bit-identical whether the slices run concurrently or one after the other
/// (`isEnabled = false`) and whatever the number of cores. Code running inside a slice must
/// not split again (use `GEMM.multiplySerial`).
public enum Parallel {
    /// Number of slices work is cut into.
    public static let ways = 2

    /// Whether slices run concurrently. Set once at start-up (e.g. from a command-line flag)
    /// before any work runs; changing it never changes results, only speed.
    nonisolated(unsafe) public static var isEnabled = true

    /// Runs `body(slice)` for slice in 0..<ways, concurrently when enabled; returns when all
    /// have finished.
    @inlinable
    public static func forEachSlice(_ body: (Int) -> Void) {
        if isEnabled {
            withoutActuallyEscaping(body) { body in
                let box = UncheckedBox(body)
                DispatchQueue.concurrentPerform(iterations: ways) { slice in box.value(slice) }
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
}

/// Hands a non-Sendable value (a closure over raw pointers) to `concurrentPerform`; the
/// slices write disjoint memory, which is what makes this sound.
@usableFromInline
struct UncheckedBox<T>: @unchecked Sendable {
    @usableFromInline let value: T
    @usableFromInline init(_ value: T) { self.value = value }
}
