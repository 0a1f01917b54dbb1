import ArgumentParser
import BNCData
import BNCFileSystem
import BNCGraph
import BNCJSON
import BNCKernels
import BNCMPI
import BNCModelFile
import BNCTraining
import Foundation

extension TrainingError: BadInput {}

extension Activation: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public var defaultValueDescription: String { name }
    public static var allValueStrings: [String] { trainable.map(\.name) }
}
extension WeightInitializer: ExpressibleByArgument {}
extension BatchNormSync: ExpressibleByArgument {}

/// `bnc train`: trains a network with batch normalization and writes its inference graph.
struct Train: ParsableCommand {
    enum Dataset: String, ExpressibleByArgument, CaseIterable {
        case fashionMNIST = "fashion-mnist"
        case toy
    }
    enum OptimizerName: String, ExpressibleByArgument, CaseIterable {
        case sgd, adam
    }
    enum VarianceEstimator: String, ExpressibleByArgument, CaseIterable {
        case biased, unbiased
    }
    enum Statistics: String, ExpressibleByArgument, CaseIterable {
        case population, moving
    }

    static let configuration = CommandConfiguration(
        abstract: "Train a batch-normalized network (default: MLP with BN on Fashion-MNIST) and write model.pb.",
        discussion: """
            Data: --dataset fashion-mnist (default) reads the four MNIST-format files (plain or \
            .gz) from --data DIR (default \(MNISTFolder.defaultDirectory)); pixels are scaled \
            x/255; the last tenth of the training images (after --limit) is held out for \
            validation. --dataset toy is the BN tutorial's regression y = x² − 5 + N(0, 8²), \
            x uniform on [−7, 10]: 500 training points and 500 validation points, no files.

            Architectures (--arch): a preset or a spec of layers separated by '-' or ',':
              mlp   d100-bn-act-d100-bn-act-d10                   (default for fashion-mnist)
              cnn   c32-bn-act-p2-c64-bn-act-p2-d128-bn-act-d10   (input 1×28×28)
              toy   bn-d30-bn-act (×7)-d1                          (default for toy)
            d<N> dense; c<N>[k<K>][s<S>][v|p<P>] convolution (kernel 3, stride 1, 'same' \
            padding unless v = valid or p<P> pixels); p<K> max pooling K×K stride K; bn batch \
            normalization; relu, sigmoid, tanh, or act (= --activation); drop<R> dropout; flat. \
            A dense or convolution directly followed by bn has no bias. --no-bn removes every bn.

            Defaults: fashion-mnist 5 epochs, batch 128, Adam lr 0.001 (SGD lr 0.01); toy \
            60 epochs, batch 32, Adam lr 0.01, N(0, 1) init. BN: epsilon 1e-3, momentum 0.99 \
            (weight of the OLD moving value, as in Keras and ONNX), biased moving variance. \
            Init: he for relu, glorot for sigmoid/tanh.

            BN statistics in the saved model (--bn-statistics): population (default) runs the \
            training examples through the final network once and stores each BN's exact mean \
            and variance, as the BN paper's inference procedure does (Ioffe & Szegedy 2015, \
            Alg. 2); moving keeps the exponential moving averages of training's batch \
            statistics, as Keras does. Those averages mix statistics of older weights: on the \
            CNN preset after 3 epochs they cost about 1.5 points of test accuracy. Both test \
            figures are printed; the file records the choice in bnc.bn.statistics.

            Reproducibility: the same flags and --seed give a byte-identical model file on the \
            same machine type (OpenBLAS runs single-threaded; bnc splits work in two fixed \
            halves, so core count does not matter). A checkpoint (an ONNX file with optimizer \
            state) is written atomically after every epoch beside the output; --resume continues \
            from it and ends with the same file as an uninterrupted run. It is deleted when \
            training finishes. -o and --checkpoint are checked before training starts (not a \
            folder, not a data file, not one file) and locked: a second bnc writing either \
            fails at once. Ctrl-C says which checkpoint was kept. A training or validation \
            loss that is NaN or infinite stops training (exit status 1) without writing a model.

            Several processes or machines: mpirun -np N bnc train … trains data-parallel on Open \
            MPI; --batch-size is the global batch (a multiple of N) and --bn-sync global (the \
            default) gives the model one process would train, up to the order of float sums. \
            See docs/distributed.md.
            """)

    @Option(help: "Data set: fashion-mnist or toy.")
    var dataset: Dataset = .fashionMNIST

    @Option(help: ArgumentHelp("Folder with the MNIST-format files (plain or .gz).", valueName: "dir"))
    var data: String?

    @Option(help: "Architecture: mlp, cnn, toy, or a layer spec (see above).")
    var arch: String?

    @Flag(help: "Remove every batch normalization layer from the architecture.")
    var noBn = false

    @Option(help: "Activation for 'act' in the architecture: relu, sigmoid, tanh.")
    var activation: Activation = .relu

    @Option(help: "Passes over the training set.")
    var epochs: Int?

    @Option(help: "Examples per training step.")
    var batchSize: Int?

    @Option(help: "Learning rate (default 0.001 for adam, 0.01 for sgd; toy: 0.01).")
    var lr: Float?

    @Option(help: "Optimizer: sgd or adam.")
    var optimizer: OptimizerName = .adam

    @Option(help: "SGD momentum (0 = plain SGD).")
    var momentum: Float = 0

    @Option(help: "L2 weight decay λ on dense and conv weights (loss + λ/2·‖w‖²).")
    var weightDecay: Float = 0

    @Option(help: "BN momentum: weight of the old moving statistic (Keras/ONNX meaning).")
    var bnMomentum: Float = 0.99

    @Option(help: "BN epsilon added to the variance.")
    var bnEpsilon: Float = 1e-3

    @Option(help: "Moving-variance estimator: biased (/m) or unbiased (/(m−1)).")
    var bnVariance: VarianceEstimator = .biased

    @Option(help: "BN statistics saved in the model: population (exact, after training) or moving (averages).")
    var bnStatistics: Statistics = .population

    @Option(help: "Under mpirun: BN training statistics over the global batch (global) or each process's shard (local).")
    var bnSync: BatchNormSync = .global

    @Option(help: "Weight initializer: he, glorot, normal (N(0, 1)).")
    var `init`: WeightInitializer?

    @Option(help: "Random seed for weights, shuffling and dropout.")
    var seed: UInt64 = 1

    @Option(help: "Use only the first N training images (quick runs).")
    var limit: Int?

    @Option(help: "Validation examples held out from the end of the training set (default: a tenth).")
    var validation: Int?

    @Flag(help: "Print one JSON object per epoch (and one for the test result) per line.")
    var json = false

    @Flag(help: "Also evaluate the test set after every epoch (moving BN statistics), for learning curves.")
    var testEveryEpoch = false

    @Option(name: [.short, .customLong("output")], help: "Model file to write.")
    var output: String = "model.pb"

    @Option(help: ArgumentHelp("Checkpoint file (default: <output>.ckpt).", valueName: "path"))
    var checkpoint: String?

    @Flag(help: "Continue from the checkpoint of an interrupted run with the same options.")
    var resume = false

    @Flag(help: "Train twice from the same weights and batches, without and with BN: writes both models (model.pb, model.no-bn.pb) and a report (model.compare.html, the figures as SVG, the metrics as model.compare.json); see bnc report.")
    var compare = false

    /// Testing aid: stop (as if killed) after this many epochs, leaving the checkpoint.
    @Option(help: .hidden)
    var stopAfter: Int?

    /// Benchmark (tools/bench/run): time N training steps layer by layer against the sgemm
    /// ceiling instead of training; writes nothing.
    @Option(help: .hidden)
    var profileSteps: Int?

    // MARK: Resolved settings

    var isToy: Bool { dataset == .toy }
    var resolvedEpochs: Int { epochs ?? (isToy ? 60 : 5) }
    var resolvedBatch: Int { batchSize ?? (isToy ? 32 : 128) }
    var resolvedLR: Float { lr ?? (isToy ? 0.01 : (optimizer == .adam ? 0.001 : 0.01)) }
    var resolvedArch: String { arch ?? (isToy ? "toy" : "mlp") }
    var resolvedInit: WeightInitializer { self.`init` ?? (isToy ? .normal : (activation == .relu ? .he : .glorot)) }
    var checkpointPath: String { checkpoint ?? output + ".ckpt" }
    var optimizerKind: OptimizerKind {
        optimizer == .adam ? .adam(learningRate: resolvedLR) : .sgd(learningRate: resolvedLR, momentum: momentum)
    }
    var bnSettings: BatchNormSettings {
        BatchNormSettings(epsilon: bnEpsilon, momentum: bnMomentum, unbiasedVariance: bnVariance == .unbiased)
    }
    /// Whether the architecture takes images (1, H, W) rather than flat vectors: it has a
    /// convolution or pooling.
    var imageInput: Bool {
        guard !isToy, let flat = try? ArchitectureSpec.parse(resolvedArch, activation: activation, batchNorm: !noBn) else {
            return false
        }
        return flat.contains {
            if case .conv = $0 { return true }
            if case .maxPool = $0 { return true }
            return false
        }
    }

    func layers() throws(TrainingError) -> [LayerSpec] {
        try ArchitectureSpec.parse(resolvedArch, activation: activation, batchNorm: !noBn, imageInput: imageInput)
    }

    func validate() throws {
        if let epochs, epochs < 1 || epochs > SizePolicy.maximumEpochs {
            throw ValidationError("--epochs must be between 1 and \(SizePolicy.maximumEpochs) (got \(epochs)); try --epochs 5.")
        }
        if let batchSize, batchSize < 2 {
            throw ValidationError("--batch-size must be at least 2 (got \(batchSize)): batch normalization needs two examples; try --batch-size 60.")
        }
        if let batchSize, batchSize > SizePolicy.maximumBatch {
            throw ValidationError("--batch-size must be at most \(SizePolicy.maximumBatch) (got \(batchSize)); try --batch-size 128.")
        }
        if let lr, !(lr > 0 && lr.isFinite) { throw ValidationError("--lr must be a positive number (got \(lr)); try --lr 0.001.") }
        if !(momentum >= 0 && momentum < 1) { throw ValidationError("--momentum must be in [0, 1) (got \(momentum)); try --momentum 0.9.") }
        if !(weightDecay >= 0 && weightDecay.isFinite) {
            throw ValidationError("--weight-decay must be zero or positive (got \(weightDecay)); try --weight-decay 0.0001.")
        }
        if !(bnMomentum >= 0 && bnMomentum < 1) {
            throw ValidationError("--bn-momentum is the weight of the old value and must be in [0, 1) (got \(bnMomentum)); try --bn-momentum 0.99 (a PyTorch momentum m is 1 − m here).")
        }
        if !(bnEpsilon > 0 && bnEpsilon.isFinite) { throw ValidationError("--bn-epsilon must be positive (got \(bnEpsilon)); try --bn-epsilon 0.001.") }
        if let limit, limit < 4 { throw ValidationError("--limit must be at least 4 (got \(limit)); try --limit 1000.") }
        if isToy && (limit != nil || data != nil || validation != nil) {
            throw ValidationError("--limit, --validation and --data apply to image data sets; the toy data set has 500 fixed training and 500 validation points. Remove them or use --dataset fashion-mnist.")
        }
        if let validation, validation < 0 { throw ValidationError("--validation must not be negative (got \(validation)); try --validation 6000.") }
        if momentum != 0 && optimizer == .adam {
            throw ValidationError("--momentum applies to SGD; add --optimizer sgd or remove --momentum.")
        }
        if let stopAfter, stopAfter < 1 || stopAfter > SizePolicy.maximumEpochs {
            throw ValidationError("--stop-after must be between 1 and \(SizePolicy.maximumEpochs).")
        }
        if let profileSteps, profileSteps < 1 || profileSteps > SizePolicy.maximumProfileSteps {
            throw ValidationError("--profile-steps must be between 1 and \(SizePolicy.maximumProfileSteps).")
        }
        if profileSteps != nil, let launch = MPILaunch.detect(ProcessInfo.processInfo.environment), launch.size > 1 {
            throw ValidationError("--profile-steps times the layers of one process; run it without mpirun.")
        }
        if compare { try validateCompare() }
        do {
            let specs = try layers()
            let outputs: Int? = specs.reversed().lazy.compactMap { spec -> Int? in
                if case .dense(let n, _) = spec { return n }
                return nil
            }.first
            let want = isToy ? 1 : 10
            if outputs != want {
                throw ValidationError("--arch must end with a dense layer of \(want) unit\(want == 1 ? "" : "s") for \(dataset.rawValue) (d\(want)); e.g. --arch \(isToy ? "toy" : "mlp").")
            }
            if isToy && imageInputSpec(specs) {
                throw ValidationError("--arch for the toy data set must be dense (its input is one number); try --arch toy.")
            }
        } catch let e as TrainingError {
            throw ValidationError("\(e.description).")
        }
    }

    private func imageInputSpec(_ specs: [LayerSpec]) -> Bool {
        specs.contains { if case .conv = $0 { return true }; if case .maxPool = $0 { return true }; return false }
    }

    /// Every setting that affects the trained bits except the epoch count (checkpoints must match).
    var configText: String {
        let specs = (try? layers()).map(ArchitectureSpec.text) ?? resolvedArch
        return [
            "dataset=\(dataset.rawValue)", "arch=\(specs)", "init=\(resolvedInit.rawValue)", "batch=\(resolvedBatch)",
            "optimizer=\(optimizerKind.text)", "weight_decay=\(weightDecay)", "bn_momentum=\(bnMomentum)",
            "bn_epsilon=\(bnEpsilon)", "bn_variance=\(bnVariance.rawValue)", "seed=\(seed)",
            "limit=\(limit.map(String.init) ?? "all")", "validation=\(validation.map(String.init) ?? "default")",
        ].joined(separator: " ") + (TrainProcesses.current.map { $0.processes > 1 ? " bn_sync=\($0.batchNorm.rawValue)" : "" } ?? "")
    }

    // MARK: Run

    func run() throws {
        let processes = try TrainProcesses.start(batch: resolvedBatch, batchNorm: bnSync)
        if let line = processes.announcement(json: json) { print(line) }
        if compare {
            try runCompare(processes)
        } else {
            try runTraining(processes)
        }
        try processes.finish()
    }

    func runTraining(_ processes: TrainProcesses) throws {
        // Outputs before any work: a directory, a missing folder, a data file, the model and
        // its checkpoint as one file, or another bnc writing them are refused now (by the
        // writer, rank 0, whose verdict every process shares).
        let claimed = try processes.agreed { () throws -> OutputPaths? in
            guard profileSteps == nil, processes.isWriter else { return nil }
            return try OutputPaths.claim([.init("-o", output), .init("--checkpoint", checkpointPath)], inputs: dataInputs())
        }
        let targets = claimed?.targets
        let (sets, specs, network, trainer) = try processes.agreed {
            let sets = try loadData()
            let specs = try layers()
            try checkSizes([specs], sets)
            let network = try Network(inputShape: sets.train.inputShape, layers: specs, batchNorm: bnSettings,
                                      task: isToy ? .regression : .classification, initializer: resolvedInit, seed: seed)
            let options = TrainingOptions(epochs: resolvedEpochs, batchSize: resolvedBatch, optimizer: optimizerKind,
                                          weightDecay: weightDecay, seed: seed)
            return (sets, specs, network, try Trainer(network: network, options: options, parallel: processes.parallel))
        }
        if let profileSteps {
            let bench = StepBench(try trainer.profile(sets.train, steps: profileSteps))
            print(json ? try JSONText.encode(bench, snakeCaseKeys: true) : bench.text())
            return
        }
        if resume {
            // Rank 0 reads the checkpoint (the other machines may not have it), every process decodes it.
            let bytes = try processes.agreed { () throws -> [UInt8] in
                guard processes.isWriter else { return [] }
                guard BytePath.status(checkpointPath) != nil else {
                    throw TrainingError(place: checkpointPath, problem: "no checkpoint to resume from; run without --resume to start training")
                }
                return try AtomicFile.read(checkpointPath, limit: ModelFile.maximumFileSize)
            }
            let shared = processes.fromWriter(bytes)
            try processes.agreed {
                let saved = try ModelFile.decode(shared, path: checkpointPath)
                do {
                    try Checkpoint.restore(saved, into: trainer, config: configText)
                } catch {
                    throw TrainingError(place: checkpointPath, problem: "\(error)")
                }
            }
            if !json { print("resuming from \(checkpointPath) after epoch \(trainer.epochsCompleted)") }
        } else if !json && BytePath.status(checkpointPath) != nil {
            print("note: starting over; \(checkpointPath) from an earlier run will be replaced (--resume continues it)")
        }
        var checkpointEpoch: Int? = resume ? trainer.epochsCompleted : nil
        Interruption.shared.setNote(keptText(checkpointEpoch))
        if !json && trainer.epochsCompleted == 0 {
            print("training \(ArchitectureSpec.text(specs)) (\(network.parameterCount) parameters) on \(sets.name): \(sets.train.count) examples, \(sets.validation.count) validation, batch \(resolvedBatch), \(optimizerKind.text)")
        }
        let progress = Progress(enabled: !json && isatty(STDOUT_FILENO) != 0)
        let (model, test, movingTest): (Model, Evaluation, Evaluation?)
        do {
            while trainer.epochsCompleted < resolvedEpochs {
                let e = try processes.agreed { try runEpoch(trainer, sets, progress) }
                report(epoch: e.epoch, trainLoss: e.trainLoss, validation: e.validation, test: e.test, seconds: e.seconds,
                       samples: sets.train.count, communication: e.communication)
                try Train.requireFinite(e, at: "the end of epoch \(e.epoch)")
                let checkpoint = Checkpoint.model(trainer, config: configText, metadata: metadata(network: network, sets: sets, test: nil))
                try Train.requireFinite(checkpoint, at: "the end of epoch \(e.epoch)")
                try processes.onWriter { try OutputPaths.save(checkpoint, to: checkpointPath, note: keptText(e.epoch)) }
                processes.checkpointWritten(checkpointPath, epoch: trainer.epochsCompleted)
                checkpointEpoch = e.epoch
                if let stopAfter, trainer.epochsCompleted >= stopAfter, trainer.epochsCompleted < resolvedEpochs { return }
            }
            (model, test, movingTest) = try processes.agreed { try finalModel(network, trainer, sets) }
            try Train.requireFinite(model, at: "the end of training")
            try Train.requireFinite(EpochOutcome(epoch: 0, trainLoss: 0, seconds: 0, validation: nil, test: test), at: "the end of training")
        } catch let error as TrainingError where error.kind == .diverged {
            progress.finish()
            throw CheckFailed(divergedText(error, checkpointEpoch: checkpointEpoch))
        }
        try processes.onWriter {
            try OutputPaths.save(model, to: output, note: "wrote \(output) (complete)")
            _ = BytePath.withCString(targets?[1].resolved ?? checkpointPath) { unlink($0) }
        }
        guard processes.isWriter else { return }
        if json {
            var fields: [(String, String)] = [("event", "\"test\""), ("loss", JSONText.number(test.loss))]
            if let a = test.accuracy { fields.append(("accuracy", JSONText.number(a))) }
            if let movingTest {
                fields.append(("moving_average_loss", JSONText.number(movingTest.loss)))
                if let a = movingTest.accuracy { fields.append(("moving_average_accuracy", JSONText.number(a))) }
            }
            fields.append(("bn_statistics", JSONText.string(!network.hasBatchNorm ? "none" : bnStatistics.rawValue)))
            fields.append(("output", JSONText.string(output)))
            print(JSONText.object(fields))
        } else {
            if let movingTest {
                print("BN statistics: exact over the \(sets.train.count) training examples (with the moving averages instead:"
                      + Train.describe(movingTest, as: "test").dropFirst(1) + ")")
            }
            print(Train.describe(test, as: "test").dropFirst(2) + "  → \(output)")
        }
    }

    /// The data files a run reads (none for the toy set; a file that is missing is reported
    /// when the data is loaded).
    func dataInputs() -> [OutputPaths.Input] {
        guard !isToy else { return [] }
        let folder = data ?? MNISTFolder.defaultDirectory
        return [MNISTFolder.trainImages, MNISTFolder.trainLabels, MNISTFolder.testImages, MNISTFolder.testLabels]
            .compactMap { try? MNISTFolder.locate($0, in: folder) }
            .map { .init("the data file", $0) }
    }

    /// The size policy once the data is known: an explicit batch larger than the training
    /// examples, and the memory of the networks (`TrainingMemory`) against what is available.
    func checkSizes(_ networks: [[LayerSpec]], _ sets: DataSets) throws(TrainingError) {
        if let batchSize, batchSize > sets.train.count {
            throw TrainingError(place: "--batch-size \(batchSize)",
                                problem: "is more than the \(sets.train.count) training examples; use at most --batch-size \(sets.train.count) (one step per epoch)")
        }
        var fixed = 0, perExample = 0, parameters = 0
        for specs in networks {
            let m = try TrainingMemory.estimate(inputShape: sets.train.inputShape, layers: specs, optimizerSlots: optimizerKind.stateSlots)
            fixed = TrainingMemory.add(fixed, m.fixedBytes)
            perExample = TrainingMemory.add(perExample, m.bytesPerExample)
            parameters = TrainingMemory.add(parameters, m.parameters)
        }
        try SizePolicy.requireTrainingMemory(fixed: fixed, perExample: perExample, batch: resolvedBatch,
                                             what: "training \(parameters) parameters", network: "--arch \(resolvedArch)")
    }

    /// Refuses to write a model whose weights are not finite (training diverged without a
    /// non-finite loss, e.g. at the very last update).
    static func requireFinite(_ model: Model, at when: String) throws(TrainingError) {
        if let f = FiniteWeights.nonFiniteTensors(in: model.graph).first {
            throw TrainingError(place: when, problem: "tensor '\(f.tensor)': \(f.summary)", kind: .diverged)
        }
    }

    /// Refuses an epoch whose validation or test loss is not finite: the weights are finite
    /// but the network's values overflow, so its checkpoint would compute NaN.
    static func requireFinite(_ e: EpochOutcome, at when: String) throws(TrainingError) {
        for (label, evaluation) in [("validation", e.validation), ("test", e.test)] {
            if let loss = evaluation?.loss, !loss.isFinite {
                throw TrainingError(place: when, problem: "the \(label) loss is \(loss.isNaN ? "NaN" : "infinite") (the network's values overflow)", kind: .diverged)
            }
        }
    }

    /// `v` with 4 decimals, or "NaN", "+Inf", "-Inf" (never C's "-nan").
    static func fixed(_ v: Double) -> String {
        v.isNaN ? "NaN" : v.isInfinite ? (v > 0 ? "+Inf" : "-Inf") : String(format: "%.4f", v)
    }

    /// The interruption line's note: what is on disk and how to go on.
    func keptText(_ checkpointEpoch: Int?) -> String {
        guard let e = checkpointEpoch, e > 0 else { return "nothing written (no checkpoint yet)" }
        return "kept the checkpoint \(checkpointPath) (epoch \(e) of \(resolvedEpochs) done); run the same command with --resume to continue"
    }

    /// The message when training stopped at a non-finite loss (exit 1).
    func divergedText(_ error: TrainingError, checkpointEpoch: Int?) -> String {
        let kept = checkpointEpoch.map { e in
            "the checkpoint \(checkpointPath) (after epoch \(e)) is kept, but it resumes only with the same settings"
        } ?? "no checkpoint written"
        return "\(output): training stopped at \(error.place): \(error.problem); no model written, \(kept); rerun with a smaller --lr (now \(resolvedLR))"
    }

    /// One epoch's figures (see `runEpoch`).
    struct EpochOutcome {
        var epoch: Int
        var trainLoss: Double
        var seconds: Double
        var validation: Evaluation?
        /// The test set after the epoch; only with `--test-every-epoch`.
        var test: Evaluation?
        /// Seconds spent in collectives during the epoch's training (under mpirun).
        var communication: Double?
    }

    /// Trains the next epoch (timed, with the progress bar), then evaluates the validation set
    /// and, with `--test-every-epoch`, the test set. Shared by plain and `--compare` runs.
    func runEpoch(_ trainer: Trainer, _ sets: DataSets, _ progress: Progress) throws -> EpochOutcome {
        let epoch = trainer.epochsCompleted + 1
        let start = ContinuousClock.now
        let communicated = TrainProcesses.current?.communicationSeconds
        let trainLoss = try trainer.trainEpoch(sets.train) { p in progress.update(p, epochs: resolvedEpochs) }
        let seconds = (ContinuousClock.now - start).seconds
        let communication = TrainProcesses.current?.communicationSeconds.flatMap { now in communicated.map { now - $0 } }
        let validation = sets.validation.count > 0 ? try trainer.evaluate(sets.validation) : nil
        let test = testEveryEpoch ? try trainer.evaluate(sets.test) : nil
        progress.finish()
        return EpochOutcome(epoch: epoch, trainLoss: trainLoss, seconds: seconds, validation: validation, test: test,
                            communication: communication)
    }

    /// JSON fields of an epoch's validation and test results (`val_loss`, `val_accuracy`,
    /// `test_loss`, `test_accuracy`; absent ones left out).
    static func evaluationFields(validation: Evaluation?, test: Evaluation?) -> [(String, String)] {
        var fields: [(String, String)] = []
        if let validation {
            fields.append(("val_loss", JSONText.number(validation.loss)))
            if let a = validation.accuracy { fields.append(("val_accuracy", JSONText.number(a))) }
        }
        if let test {
            fields.append(("test_loss", JSONText.number(test.loss)))
            if let a = test.accuracy { fields.append(("test_accuracy", JSONText.number(a))) }
        }
        return fields
    }

    /// The model a finished run saves, its test result, and the test result with the moving
    /// averages when they were replaced: keeps the moving BN statistics, or replaces them by
    /// exact population statistics under the final weights (`--bn-statistics`), then records
    /// the choice in the metadata. Shared by plain and `--compare` runs, which must write the
    /// same bytes.
    func finalModel(_ network: Network, _ trainer: Trainer, _ sets: DataSets) throws -> (Model, Evaluation, Evaluation?) {
        var movingTest: Evaluation?
        if bnStatistics == .population && network.hasBatchNorm {
            movingTest = try trainer.evaluate(sets.test)
            _ = try network.calibrateBatchNorm(on: sets.train, batchSize: min(Train.statisticsBatch, trainer.options.batchSize),
                                               group: trainer.parallel?.group)
        }
        let test = try trainer.evaluate(sets.test)
        var meta = metadata(network: network, sets: sets, test: test)
        if network.hasBatchNorm {
            meta.append((MetadataKey.bnStatistics,
                         movingTest == nil ? "moving average" : Train.populationStatisticsText(examples: sets.train.count)))
        }
        return (ModelExport.model(network, metadata: meta), test, movingTest)
    }

    /// Examples per forward pass when computing population statistics, at most: the
    /// training batch when smaller, so the pass needs no more activations than training did
    /// (the CNN preset's peak memory was this pass at 500 images). Any size gives the same
    /// statistics up to rounding (each example's sums are added in Double, in example order);
    /// it follows from the flags, so files are reproducible.
    static let statisticsBatch = 500

    /// The `bnc.bn.statistics` value of a model whose BN statistics are exact.
    static func populationStatisticsText(examples: Int) -> String {
        "population: exact mean and variance over \(examples) training examples with the final weights"
    }

    /// "  <label> loss 0.1234  accuracy 91.29%" (or "MSE 64.1" for regression).
    static func describe(_ e: Evaluation, as label: String) -> String {
        if let a = e.accuracy { return String(format: "  %@ loss %.4f  accuracy %.2f%%", label, e.loss, a * 100) }
        return String(format: "  %@ MSE %.4f", label, e.loss)
    }

    struct DataSets {
        var name: String
        var train: Examples, validation: Examples, test: Examples
        var scaling: String
        var classNames: String
    }

    func loadData() throws -> DataSets {
        if isToy {
            let (x, y) = ToyRegression.generate(count: 500, seed: seed)
            let (vx, vy) = ToyRegression.generate(count: 500, seed: seed ^ 0x5EED_0000_0000_0001)
            let train = Examples(inputs: x, shape: [1], values: y)
            let val = Examples(inputs: vx, shape: [1], values: vy)
            return DataSets(name: "toy regression", train: train, validation: val, test: val, scaling: "x", classNames: "regression")
        }
        let folder = data ?? MNISTFolder.defaultDirectory
        var (train, test) = try MNISTFolder.load(directory: folder)
        if let limit, limit < train.count { train = train.subset(0..<limit) }
        if let validation, validation > train.count - 2 {
            let source = limit != nil && limit! <= train.count ? "--limit \(limit!)" : "\(folder)"
            throw TrainingError(place: "--validation \(validation)",
                                problem: "leaves fewer than 2 of the \(train.count) examples (\(source)) to train on; use at most --validation \(train.count - 2)")
        }
        let split = train.split(validationCount: Train.validationCount(validation, of: train.count))
        let names = data == nil
            ? "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"
            : (0..<train.classCount).map(String.init).joined(separator: ",")
        return DataSets(
            name: data == nil ? "Fashion-MNIST" : folder,
            train: Examples(split.train, asImages: imageInput), validation: Examples(split.validation, asImages: imageInput),
            test: Examples(test, asImages: imageInput), scaling: train.images.scaling, classNames: names)
    }

    /// Examples held out for validation from `count` training examples.
    static func validationCount(_ requested: Int?, of count: Int) -> Int {
        max(0, min(requested ?? count / 10, count - 2))
    }

    func metadata(network: Network, sets: DataSets, test: Evaluation?) -> [(String, String)] {
        var m: [(String, String)] = [
            (MetadataKey.inputScaling, isToy ? "x" : "x/255"),
            (MetadataKey.task, isToy ? "regression" : "classification: " + (data == nil
                ? "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"
                : (0..<10).map(String.init).joined(separator: ","))),
            (MetadataKey.trainDataset, isToy ? "toy" : (data == nil ? "fashion-mnist" : "mnist-folder")),
            (MetadataKey.trainArch, "\(resolvedArch) = \(ArchitectureSpec.text(network.units.map(\.spec)))"),
            (MetadataKey.trainEpochs, "\(resolvedEpochs)"),
            (MetadataKey.trainSeed, "\(seed)"),
            (MetadataKey.trainOptimizer, optimizerKind.text + (weightDecay != 0 ? " weight_decay=\(weightDecay)" : "")),
            (MetadataKey.trainBatchSize, "\(resolvedBatch)"),
            ("bnc.train.init", resolvedInit.rawValue),
        ]
        if let processes = TrainProcesses.current, processes.processes > 1 {
            m.append(("bnc.train.processes", "\(processes.processes)"))
            m.append(("bnc.train.bn_sync", processes.batchNorm.rawValue))
        }
        if let limit { m.append(("bnc.train.limit", "\(limit)")) }
        if !isToy {
            m.append(("bnc.train.examples", "\(sets.train.count)"))
            m.append(("bnc.train.validation", "\(sets.validation.count)"))
        }
        if let test {
            if let a = test.accuracy { m.append((MetadataKey.trainTestAccuracy, String(format: "%.6f", a))) }
            m.append((MetadataKey.trainTestLoss, String(format: "%.6f", test.loss)))
        }
        return m
    }

    func report(epoch: Int, trainLoss: Double, validation: Evaluation?, test: Evaluation?, seconds: Double, samples: Int,
                communication: Double? = nil) {
        let rate = Double(samples) / max(seconds, 1e-9)
        if json {
            var fields: [(String, String)] = [
                ("event", "\"epoch\""), ("epoch", "\(epoch)"), ("epochs", "\(resolvedEpochs)"),
                ("train_loss", JSONText.number(trainLoss)),
            ] + Train.evaluationFields(validation: validation, test: test)
            fields += [("seconds", JSONText.number(seconds)), ("samples_per_second", JSONText.number(rate))]
            if let communication { fields.append(("communication_seconds", JSONText.number(communication))) }
            print(JSONText.object(fields))
        } else {
            var line = "epoch \(epoch)/\(resolvedEpochs)  train loss " + Train.fixed(trainLoss)
            if let validation {
                line += "  val loss " + Train.fixed(validation.loss)
                if let a = validation.accuracy { line += String(format: "  val accuracy %.2f%%", a * 100) }
            }
            if let test, let a = test.accuracy { line += String(format: "  test accuracy %.2f%%", a * 100) }
            line += String(format: "  %.2f s  %.0f samples/s", seconds, rate)
            if let communication { line += String(format: "  (%.0f%% communicating)", 100 * communication / max(seconds, 1e-9)) }
            print(line)
        }
        fflush(nil)
    }
}

/// A one-line progress bar redrawn in place (only on terminals), at most 10 times a second:
/// training's steps (standard output) and fold's probes (standard error).
final class Progress {
    let enabled: Bool
    let fd: Int32
    private var lastDraw = ContinuousClock.now - .seconds(1)
    private var drawn = false
    private let start = ContinuousClock.now

    init(enabled: Bool, fd: Int32 = STDOUT_FILENO) {
        self.enabled = enabled
        self.fd = fd
    }

    func update(_ p: StepProgress, epochs: Int) {
        guard enabled else { return }
        let rate = Double(p.samples) / max(p.seconds, 1e-9)
        let eta = p.step > 0 ? p.seconds * Double(p.steps - p.step) / Double(p.step) : 0
        draw("epoch \(p.epoch + 1)/\(epochs)", fraction: p.steps > 0 ? Double(p.step) / Double(p.steps) : 1,
             detail: "\(p.step)/\(p.steps)" + String(format: "  %.0f samples/s  loss %.4f  ETA %.0fs", rate, p.runningLoss, eta),
             final: p.step == p.steps)
    }

    /// Draws "<label> [=====     ] <detail>"; `fraction` done in [0, 1]; the ETA from the
    /// time since this bar was made when `detail` is nil.
    func draw(_ label: String, fraction: Double, detail: String? = nil, final: Bool = false) {
        guard enabled else { return }
        let now = ContinuousClock.now
        guard final || now - lastDraw >= .milliseconds(100) else { return }
        lastDraw = now
        let width = 24
        let filled = max(0, min(width, Int(Double(width) * fraction)))
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        let elapsed = (now - start).seconds
        let eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0
        let line = "\(label) [\(bar)] " + (detail ?? String(format: "ETA %.0fs", eta))
        write(Array(("\r" + line + "\u{1B}[K").utf8))
        drawn = true
    }

    func finish() {
        if drawn { write(Array("\r\u{1B}[K".utf8)) }
        drawn = false
    }

    private func write(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }
}
