import BNCFileSystem
import BNCRuntime
import BNCTraining
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The one size policy: every size that comes from a flag or a file is bounded before
/// anything is allocated from it.
///
/// - Integer flags are parsed at their natural width (`Int`, 64 bits; a value beyond it is
///   an argument error, never a wrap) and range-checked in `validate()` against the bounds
///   below, which no real run comes near.
/// - Sizes that depend on the data are checked once the data is open (a batch larger than
///   the examples, a validation split that leaves none to train on).
/// - The memory a run needs (`TrainingMemory` for train and calibrate; the executor's plan
///   for infer and fold, whose per-sample limit is also lowered to what is available) is
///   compared with what the machine can still give (`availableBytes`), and refused above it
///   with both figures in the message.
enum SizePolicy {
    /// Largest `--batch-size` any command accepts: 2²⁰ examples.
    static let maximumBatch = 1 << 20
    /// Largest `--epochs` (and `--stop-after`): a million passes over the data.
    static let maximumEpochs = 1_000_000
    /// Largest `--profile-steps`.
    static let maximumProfileSteps = 1_000_000
    /// Most memory one example may need anywhere in bnc: the executor's rule (2 GiB).
    static let maximumBytesPerExample = Executor.defaultMemoryLimit

    /// Bytes this process can still allocate: the kernel's MemAvailable, lowered by an
    /// address-space limit (`ulimit -v`, less what is mapped already) and a cgroup memory
    /// limit (less what the group uses). Int.max when none is readable.
    static func availableBytes() -> Int {
        var available = Int.max
        if let kB = fieldKB("/proc/meminfo", "MemAvailable:") { available = min(available, kB * 1024) }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max,
           let mapped = fieldKB("/proc/self/status", "VmSize:") {
            available = min(available, max(0, Int(clamping: limit.rlim_cur) - mapped * 1024))
        }
        if let max = readText("/sys/fs/cgroup/memory.max").flatMap({ Int($0) }),
           let used = readText("/sys/fs/cgroup/memory.current").flatMap({ Int($0) }) {
            available = min(available, Swift.max(0, max - used))
        }
        return available
    }

    /// The size policy for a network's training or forward passes: `fixed` bytes (parameters,
    /// gradients, optimizer state, scratch) plus `perExample` for each of `batch` examples must
    /// fit in what is available. The message gives both parts and names the fix: fewer or
    /// narrower layers when the fixed part alone does not fit, else the largest batch that does.
    /// `network` names the network in messages ("--arch mlp", a model file).
    static func requireTrainingMemory(fixed: Int, perExample: Int, batch: Int, what: String, network: String,
                                      batchFlag: String = "--batch-size") throws(TrainingError) {
        if perExample > maximumBytesPerExample {
            throw TrainingError(place: network,
                                problem: "\(what): one example needs \(byteText(perExample)), more than bnc's limit of \(byteText(maximumBytesPerExample)) per example; use smaller layers")
        }
        let total = TrainingMemory.add(fixed, TrainingMemory.multiply(perExample, batch))
        let available = availableBytes()
        guard total > available else { return }
        let figures = "\(what) at batch \(batch) needs \(byteText(total)) of memory (\(byteText(fixed)) for parameters, gradients and optimizer state, \(byteText(TrainingMemory.multiply(perExample, batch))) for the batch), this machine has \(byteText(available)) available"
        let fits = fixed < available ? (available - fixed) / max(perExample, 1) : 0
        if fits >= 1 {
            throw TrainingError(place: "\(batchFlag) \(batch)", problem: "\(figures); use \(batchFlag) \(fits) or less")
        }
        throw TrainingError(place: network, problem: "\(figures); use fewer or narrower layers")
    }

    /// "1.5 GiB", "12.0 MiB", "512 bytes"; "more than 8 EiB" for a saturated figure.
    static func byteText(_ n: Int) -> String {
        if n == Int.max { return "more than 8 EiB" }
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(n), unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(n) bytes" : String(format: "%.1f %@", value, units[unit])
    }

    private static func fieldKB(_ file: String, _ key: String) -> Int? {
        guard let text = readText(file) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(key) {
            return Int(line.dropFirst(key.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
        }
        return nil
    }

    private static func readText(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 16384)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

extension Executor {
    /// The executor's memory limit for one sample (2 GiB), lowered to what this machine has
    /// available: a plan that does not fit is refused with its figures instead of failing
    /// to allocate.
    static func limit() -> Int { Swift.min(defaultMemoryLimit, SizePolicy.availableBytes()) }
}
