/// What a network needs to train as one of several processes (`DataParallel`): BN layers
/// that share statistics, dropout masks of the global batch, and the state the processes
/// must hold identically.
extension Network {
    /// Makes every BN normalize over the shards of all of `group`'s processes in training
    /// (`BatchNormSync.global`); nil: each process's shard by itself.
    func shareBatchNormStatistics(over group: ProcessGroup?) {
        for (_, bn) in batchNormLayers { bn.group = group }
    }

    /// Tells dropout layers where this process's shard lies in the global batch of the next
    /// training forward: `before` and `after` examples of other processes.
    func setShard(before: Int, after: Int) {
        for case let dropout as DropoutLayer in layers { dropout.shard = (before, after) }
    }

    /// Whether some BN normalizes per feature (after a dense layer): there a shard of one
    /// example has one value per channel and cannot be normalized by itself.
    var hasPerFeatureBatchNorm: Bool { batchNormLayers.contains { $0.layer.spatial == 1 } }

    /// Replaces every BN's moving statistics by `root`'s (one broadcast).
    func broadcastMovingStatistics(from root: Int, over group: ProcessGroup) {
        var values: [Float] = []
        for (_, bn) in batchNormLayers {
            values += bn.runningMean.array(bn.channels) + bn.runningVariance.array(bn.channels)
        }
        guard !values.isEmpty else { return }
        values.withUnsafeMutableBytes { group.broadcast($0.baseAddress!, count: $0.count, root: root) }
        var offset = 0
        for (_, bn) in batchNormLayers {
            let c = bn.channels
            bn.runningMean.assign(Array(values[offset..<(offset + c)]))
            bn.runningVariance.assign(Array(values[(offset + c)..<(offset + 2 * c)]))
            bn.coefficientsStale = true
            offset += 2 * c
        }
    }

    /// FNV-1a over the bits of every parameter and moving statistic: processes of a run
    /// compare it to prove they still hold the same network.
    func stateDigest() -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ p: UnsafePointer<Float>, _ count: Int) {
            for i in 0..<count {
                hash ^= UInt64(p[i].bitPattern)
                hash &*= 0x0000_0100_0000_01B3
            }
        }
        mix(store.values, store.count)
        for (_, bn) in batchNormLayers {
            mix(bn.runningMean.pointer, bn.channels)
            mix(bn.runningVariance.pointer, bn.channels)
        }
        return hash
    }
}
