import BNCData
import BNCGraph
import BNCKernels
import Testing
@testable import BNCTraining

/// The trainer over thread "processes" (`ThreadWorld`) against one process on the same
/// global batches.
struct DataParallelTrainerTests {
    /// The tensors, losses and collective calls of one run on one rank.
    struct Run: Sendable {
        var tensors: [String: [Float]]
        var losses: [Double]
        var evaluation: Evaluation
        var calls: [String]
    }

    struct Setup: Sendable {
        var arch: String
        var input: [Int]
        var batch: Int
        var epochs = 2
        var optimizer: OptimizerKind = .adam(learningRate: 0.01)
        var bn = BatchNormSettings(momentum: 0.9)
        var count: Int
        var calibrate = true
    }

    static func data(_ s: Setup) -> Examples { blobs(count: s.count, shape: s.input, seed: 7) }

    static func train(_ s: Setup, parallel: DataParallel?) throws -> Run {
        let specs = try ArchitectureSpec.parse(s.arch, activation: .relu, imageInput: s.input.count == 3)
        let net = try Network(inputShape: s.input, layers: specs, batchNorm: s.bn, task: .classification,
                              initializer: .he, seed: 3)
        let trainer = try Trainer(network: net, options: TrainingOptions(epochs: s.epochs, batchSize: s.batch,
                                                                          optimizer: s.optimizer, seed: 3),
                                  parallel: parallel)
        let data = data(s)
        var losses: [Double] = []
        for _ in 0..<s.epochs { losses.append(try trainer.trainEpoch(data)) }
        if s.calibrate { _ = try net.calibrateBatchNorm(on: data, batchSize: 7, group: parallel?.group) }
        let evaluation = try trainer.evaluate(data)
        var tensors: [String: [Float]] = [:]
        for t in net.namedTensors() { tensors[t.name] = t.values }
        return Run(tensors: tensors, losses: losses, evaluation: evaluation,
                   calls: (parallel?.group as? ThreadGroup)?.calls ?? [])
    }

    static func parallel(_ s: Setup, processes: Int, sync: BatchNormSync = .global) throws -> [Run] {
        try ThreadWorld(size: processes).run { group in
            try train(s, parallel: DataParallel(group: group, batchNorm: sync))
        }.map { try $0.get() }
    }

    /// Largest |a − b| / (1 + |b|) over every tensor.
    static func difference(_ a: Run, _ b: Run) -> Double {
        var worst = 0.0
        for (name, values) in b.tensors {
            worst = max(worst, maxError(a.tensors[name] ?? [], values.map(Double.init)))
        }
        return worst
    }

    /// 2 epochs of 125 examples in global batches of 12 (the last one of 5: shares 2, 2, 1
    /// over 3 processes and 1, 1, 1, 1, 1, 0 over 6), then population statistics and an
    /// evaluation, all sharded. Synchronized BN gives one process's model up to the order of
    /// sums. Tolerance 1e-5 mixed error, 20× an estimate of the drift: reordering a Float sum
    /// of n terms changes it by ≈ √n·u·κ relative (u = 6e-8, random-walk rounding; κ the
    /// sum's condition, ≈ 10), ρ ≈ 2e-6 for n ≈ 12; an Adam step is ≈ lr·m/√v, so it moves by
    /// ≈ lr·ρ, and T = 22 steps at lr 0.01 drift by ≈ T·lr·ρ = 4.4e-7 (measured 3e-7 and
    /// 1.1e-6). The losses carry the same relative drift plus the Float rounding of the
    /// reduced loss (1e-7): 1e-5. Per-shard BN (`--bn-sync local`) is 5 orders further off.
    @Test(arguments: [3, 6])
    func synchronizedRunsMatchOneProcess(_ processes: Int) throws {
        let s = Setup(arch: "d16-bn-act-d8-bn-act-d3", input: [6], batch: 12, count: 125)
        let alone = try Self.train(s, parallel: nil)
        let ranks = try Self.parallel(s, processes: processes)
        for r in ranks {
            #expect(r.tensors == ranks[0].tensors, "every process holds the same bits")
            #expect(r.calls == ranks[0].calls, "every process made the same collective calls")
            #expect(r.evaluation == ranks[0].evaluation)
        }
        // One reduction of the flat gradient buffer per step (2 epochs of 11 steps), and two
        // gathers per BN per step (forward statistics, backward sums).
        let sums = ranks[0].calls.filter { $0.hasPrefix("sum ") }
        #expect(sums.count == 22 && Set(sums).count == 1, "\(Set(sums))")
        let steps = ranks[0].calls.prefix { !$0.hasPrefix("broadcast") && $0 != "allGather 8" }
        #expect(steps.count == 11 * (1 + 2 * 2), "first epoch: \(steps.count) calls")
        let d = Self.difference(ranks[0], alone)
        #expect(d <= 1e-5, "largest parameter/statistic difference \(d)")
        for (a, b) in zip(ranks[0].losses, alone.losses) { #expect(abs(a - b) <= 1e-5 * abs(b), "loss \(a) vs \(b)") }
        #expect(abs(ranks[0].evaluation.loss - alone.evaluation.loss) <= 1e-4 * alone.evaluation.loss)
        // Per-shard statistics (a tail that leaves no process one example).
        var even = s
        even.count = 120
        let evenAlone = try Self.train(even, parallel: nil)
        let synced = Self.difference(try Self.parallel(even, processes: processes)[0], evenAlone)
        let local = Self.difference(try Self.parallel(even, processes: processes, sync: .local)[0], evenAlone)
        #expect(local >= 100 * max(synced, 1e-6), "per-shard BN differs by \(local), synchronized by \(synced)")
    }

    /// Convolutions (BN per channel over H·W) and dropout (each process draws the masks of
    /// its examples' positions in the global batch): the same model as one process, within
    /// the tolerance above.
    @Test(arguments: [
        Setup(arch: "c4-bn-act-p2-d8-bn-act-d3", input: [1, 6, 6], batch: 12, epochs: 1, count: 62),
        Setup(arch: "d16-bn-act-drop0.3-d8-act-d3", input: [6], batch: 12, count: 61),
    ])
    func convolutionsAndDropoutMatchOneProcess(_ s: Setup) throws {
        let alone = try Self.train(s, parallel: nil)
        let ranks = try Self.parallel(s, processes: 3)
        #expect(ranks.allSatisfy { $0.tensors == ranks[0].tensors })
        let d = Self.difference(ranks[0], alone)
        #expect(d <= 1e-5, "largest parameter/statistic difference \(d)")
    }

    @Test func aGlobalBatchThatDoesNotDivideIsRefusedWithTheNumbers() throws {
        let s = Setup(arch: "d8-bn-act-d3", input: [6], batch: 10, count: 30)
        let outcomes = ThreadWorld(size: 3).run { group in
            try Self.train(s, parallel: DataParallel(group: group))
        }
        for o in outcomes {
            #expect(throws: TrainingError.self) { try o.get() }
            if case .failure(let e) = o {
                #expect("\(e)".contains("the global batch 10 does not divide over 3 processes (10 = 3 × 3 + 1); use a multiple of 3 such as 9 or 12"), "\(e)")
            }
        }
    }

    /// A checkpoint records the process count; another count is refused, the same restores.
    @Test func checkpointsResumeOnlyWithTheSameProcessCount() throws {
        let s = Setup(arch: "d8-bn-act-d3", input: [6], batch: 12, epochs: 1, count: 36, calibrate: false)
        let outcomes = ThreadWorld(size: 2).run { group -> String in
            let specs = try ArchitectureSpec.parse(s.arch, activation: .relu)
            func trainer(_ parallel: DataParallel?) throws -> Trainer {
                let net = try Network(inputShape: s.input, layers: specs, batchNorm: s.bn, task: .classification,
                                      initializer: .he, seed: 3)
                return try Trainer(network: net, options: TrainingOptions(epochs: 1, batchSize: 12, optimizer: s.optimizer,
                                                                          seed: 3), parallel: parallel)
            }
            let t = try trainer(DataParallel(group: group))
            _ = try t.trainEpoch(Self.data(s))
            let model = Checkpoint.model(t, config: "c")
            #expect(model[metadata: Checkpoint.processesKey] == "2")
            let again = try trainer(DataParallel(group: group))
            try Checkpoint.restore(model, into: again, config: "c")
            #expect(again.network.namedTensors().map(\.values) == t.network.namedTensors().map(\.values))
            do {
                try Checkpoint.restore(model, into: try trainer(nil), config: "c")
                return "restored"
            } catch {
                return "\(error)"
            }
        }
        for o in outcomes {
            #expect(try o.get() == "checkpoint: was written by a run of 2 processes; this run has one process. Every process's share of each batch depends on the count: resume with mpirun -np 2, or delete the checkpoint to start over")
        }
    }
}
