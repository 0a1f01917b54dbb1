/// The collectives training needs, built from a `ProcessGroup`'s three operations. Each is
/// one collective call or two, the same on every process whatever the data (so a process
/// whose shard is empty still makes every call).
extension ProcessGroup {
    /// Every process's `values`, in rank order: size × values.count Doubles. All processes
    /// must pass the same count.
    public func allGather(_ values: [Double]) -> [Double] {
        guard !values.isEmpty else { return [] }
        var out = [Double](repeating: 0, count: size * values.count)
        values.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { allGather(src.baseAddress!, count: src.count, into: $0.baseAddress!) }
        }
        return out
    }

    /// Σ over processes of `values`, added in rank order in Double: the same bits on every
    /// process and from run to run, whatever order the transport reduces in. For the small
    /// per-channel and per-evaluation sums; the flat gradient uses `sum`.
    public func sumInRankOrder(_ values: [Double]) -> [Double] {
        let k = values.count
        let all = allGather(values)
        var out = [Double](repeating: 0, count: k)
        for p in 0..<size {
            for i in 0..<k { out[i] += all[p * k + i] }
        }
        return out
    }

    /// Process `root`'s bytes on every process (two collectives: the length, then the bytes).
    public func broadcast(_ bytes: [UInt8], root: Int) -> [UInt8] {
        var length = Int64(rank == root ? bytes.count : 0)
        withUnsafeMutableBytes(of: &length) { broadcast($0.baseAddress!, count: 8, root: root) }
        var out = rank == root ? bytes : [UInt8](repeating: 0, count: Int(length))
        if length > 0 {
            out.withUnsafeMutableBytes { broadcast($0.baseAddress!, count: $0.count, root: root) }
        }
        return out
    }

    /// The failure of the lowest-ranked process that reports one (nil for none), the same on
    /// every process: after it every process stops with the same message, none is left
    /// waiting in a collective the failed one never reaches.
    public func firstFailure(_ message: String?) -> (rank: Int, message: String)? {
        let lengths = allGather([message.map { Double($0.utf8.count) } ?? -1])
        guard let first = lengths.firstIndex(where: { $0 >= 0 }) else { return nil }
        let bytes = broadcast(rank == first ? Array(message!.utf8) : [], root: first)
        return (first, String(decoding: bytes, as: UTF8.self))
    }

    /// The ranks whose `value` differs from rank 0's (empty when all agree), the same list
    /// on every process.
    public func ranksDiffering(from value: UInt64) -> [Int] {
        let all = allGather([Double(bitPattern: value)])
        return (1..<size).filter { all[$0].bitPattern != all[0].bitPattern }
    }
}
