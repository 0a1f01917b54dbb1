import BNCKernels

/// `Parallel.loadFallbacks` for the benchmarks' JSON: split jobs so far and how many of them
/// ran on one thread because other processes kept the second core busy.
struct LoadFallbacks: Encodable {
    var jobs: UInt64
    var onOneThread: UInt64

    init() {
        (jobs, onOneThread) = Parallel.loadFallbacks
    }

    /// A warning line for the text output, nil when every split job used both cores.
    var warning: String? {
        onOneThread == 0 ? nil
            : "note: \(onOneThread) of \(jobs) split jobs ran on one thread because other processes kept the second core busy; these figures understate bnc"
    }
}
