import ArgumentParser
import BNCData
import BNCGraph
import BNCJSON
import BNCModelFile
import BNCReport
import BNCTraining
import Foundation

/// `bnc train --compare`: the chosen architecture trained twice, without and with BN, from
/// the same dense/conv weights and on the same batches in the same order, recording what a
/// report needs; then the two models, the metrics JSON and the report (HTML + SVGs).
///
/// Files for `-o model.pb`: model.pb (with BN, the same bytes as a plain `bnc train`),
/// model.no-bn.pb (the same bytes as `bnc train --no-bn`), model.compare.json (metrics),
/// model.compare.html and model.compare-<figure>.svg.
extension Train {
    /// Checks for --compare, called from `validate()`.
    func validateCompare() throws {
        if noBn { throw ValidationError("--compare trains the network both with and without BN; remove --no-bn.") }
        if resume || stopAfter != nil || checkpoint != nil {
            throw ValidationError("--compare writes no checkpoint and cannot resume; remove --resume, --checkpoint and --stop-after.")
        }
        if let specs = try? ArchitectureSpec.parse(resolvedArch, activation: activation, batchNorm: true, imageInput: imageInput),
           !specs.contains(where: { if case .batchNorm = $0 { return true } else { return false } }) {
            throw ValidationError("--compare needs an architecture with bn layers (--arch \(resolvedArch) has none, so both networks would be the same); try --arch \(isToy ? "toy" : "mlp").")
        }
    }

    /// The files a comparison writes for model path `output`.
    struct CompareFiles {
        /// The model with BN (the `-o` path).
        var model: String
        /// The model without BN: `.no-bn` before the extension.
        var plainModel: String
        /// Report files are `<base>.json`, `<base>.html`, `<base>-<figure>.svg`.
        var base: String

        init(output: String) {
            model = output
            let stem = output.hasSuffix(".pb") ? String(output.dropLast(3)) : output
            plainModel = stem + ".no-bn" + (output.hasSuffix(".pb") ? ".pb" : "")
            base = stem + ".compare"
        }
    }

    /// Examples whose activation inputs are recorded: the first validation examples (training
    /// examples when there is no validation set), at most 500 for dense networks and one
    /// training batch for conv networks (whose buffers grow with the batch).
    func probeSet(_ sets: DataSets) -> (examples: Examples, description: String) {
        let fromValidation = sets.validation.count >= 2
        let source = fromValidation ? sets.validation : sets.train
        let cap = imageInput ? resolvedBatch : max(resolvedBatch, 500)
        let n = min(source.count, cap)
        let kind = fromValidation ? "validation examples" : "training examples"
        return (source.prefix(n), n == source.count ? "\(n) \(kind)" : "first \(n) \(kind)")
    }

    func runCompare(_ processes: TrainProcesses) throws {
        let files = CompareFiles(output: output)
        // The claim holds the outputs' locks until the run ends (the writer, rank 0, claims).
        let claim = try processes.agreed { () throws -> OutputPaths? in
            guard processes.isWriter else { return nil }
            return try OutputPaths.claim(
                [.init("-o", files.model), .init("the model without BN", files.plainModel), .init("the metrics file", files.base + ".json"),
                 .init("the report", files.base + ".html")]
                    + ReportFigure.ids.map { .init("the figure '\($0)'", "\(files.base)-\($0).svg") },
                inputs: dataInputs())
        }
        defer { withExtendedLifetime(claim) {} }
        let sets = try processes.agreed { () throws -> DataSets in
            let sets = try loadData()
            try checkSizes([try ArchitectureSpec.parse(resolvedArch, activation: activation, batchNorm: false, imageInput: imageInput), try layers()], sets)
            return sets
        }
        let task: Task = isToy ? .regression : .classification
        let options = TrainingOptions(epochs: resolvedEpochs, batchSize: resolvedBatch, optimizer: optimizerKind,
                                      weightDecay: weightDecay, seed: seed)
        let probe = probeSet(sets)

        // The same seed draws the same dense/conv weights in both: BN layers and biases
        // draw nothing. Checked, not assumed.
        let (plain, normalized) = try processes.agreed {
            (try Network(
                inputShape: sets.train.inputShape,
                layers: ArchitectureSpec.parse(resolvedArch, activation: activation, batchNorm: false, imageInput: imageInput),
                batchNorm: bnSettings, task: task, initializer: resolvedInit, seed: seed),
             try Network(inputShape: sets.train.inputShape, layers: try layers(), batchNorm: bnSettings,
                         task: task, initializer: resolvedInit, seed: seed))
        }
        let digests = [Train.sharedWeightsDigest(plain), Train.sharedWeightsDigest(normalized)]
        guard digests[0] == digests[1] else {
            throw CheckFailed("the networks with and without BN did not start from the same dense/conv weights (\(digests[0]) ≠ \(digests[1]))")
        }
        if !json {
            print("comparing \(ArchitectureSpec.text(normalized.units.map(\.spec))) with and without BN on \(sets.name): \(sets.train.count) examples, \(sets.validation.count) validation, batch \(resolvedBatch), \(optimizerKind.text); activation inputs recorded on the \(probe.description)")
        }
        var runs: [RunMetrics] = []
        for (label, network, path) in [("without BN", plain, files.plainModel), ("with BN", normalized, files.model)] {
            var run: RunMetrics
            do {
                run = try trainRecorded(network, label: label, options: options, sets: sets, probe: probe.examples, modelPath: path,
                                        processes: processes)
            } catch let error as TrainingError where error.kind == .diverged {
                throw CheckFailed("\(path): training \(label) stopped at \(error.place): \(error.problem); this model, the metrics and the report not written; rerun with a smaller --lr (now \(resolvedLR))")
            }
            run.initialWeightsSHA256 = network === plain ? digests[0] : digests[1]
            runs.append(run)
        }

        var settings = RunSettings(task: isToy ? .regression : .classification)
        settings.dataset = sets.name
        settings.arch = resolvedArch
        settings.activation = activation.name
        settings.initializer = resolvedInit.rawValue
        settings.optimizer = optimizerKind.text
        settings.weightDecay = Double("\(weightDecay)")
        settings.batchSize = resolvedBatch
        settings.epochs = resolvedEpochs
        settings.seed = seed
        settings.bnMomentum = Double("\(bnMomentum)")
        settings.bnEpsilon = Double("\(bnEpsilon)")
        settings.bnVariance = bnVariance.rawValue
        settings.bnStatistics = bnStatistics.rawValue
        settings.trainExamples = sets.train.count
        settings.validationExamples = sets.validation.count
        settings.probeExamples = probe.examples.count
        settings.probe = probe.description
        settings.command = "bnc " + CommandLine.arguments.dropFirst().joined(separator: " ")
        let metrics = ComparisonMetrics(settings: settings, runs: runs)
        var written: [String] = []
        try processes.onWriter {
            try OutputPaths.write(try MetricsFile.encode(metrics), to: files.base + ".json")
            written = try ReportCommand.writeReport(metrics, base: files.base, source: files.base + ".json", unitLayer: nil)
        }
        guard processes.isWriter else { return }
        if json {
            print("{\"event\":\"report\",\"metrics\":\(JSONText.string(files.base + ".json")),\"html\":\(JSONText.string(written[0])),\"models\":[\(JSONText.string(files.plainModel)),\(JSONText.string(files.model))]}")
        } else {
            print("report → \(written[0]) (figures: \(written.dropFirst().joined(separator: ", ")); metrics: \(files.base).json)")
        }
    }

    /// SHA-256 (as `TensorDigest`) of the dense and conv weights: the tensors both networks share.
    static func sharedWeightsDigest(_ network: Network) -> String {
        let weights = network.namedTensors().filter { $0.name.hasSuffix(".weight") }
            .map { Tensor(name: $0.name, dims: $0.dims, floats: $0.values) }
        return TensorDigest.sha256(of: Graph(initializers: weights))
    }

    /// Trains one network of the comparison with a recorder attached, prints its epochs,
    /// saves its model as a plain run would, and returns what was recorded.
    func trainRecorded(
        _ network: Network, label: String, options: TrainingOptions, sets: DataSets, probe: Examples, modelPath: String,
        processes: TrainProcesses
    ) throws -> RunMetrics {
        let trainer = try processes.agreed { try Trainer(network: network, options: options, parallel: processes.parallel) }
        let total = trainer.stepsPerEpoch(examples: sets.train.count) * resolvedEpochs
        let recorder = ActivationRecorder(network: network, probe: probe, totalSteps: total)
        try recorder.record(step: 0)
        trainer.observer = recorder
        var run = RunMetrics(label: label, batchNorm: network.hasBatchNorm)
        run.arch = ArchitectureSpec.text(network.units.map(\.spec))
        run.parameters = network.parameterCount
        run.activations = network.activationSites.map {
            ActivationInfo(name: $0.name, activation: $0.activation.name, source: $0.source,
                           afterBatchNorm: $0.afterBatchNorm, shape: $0.shape)
        }
        let progress = Progress(enabled: !json && isatty(STDOUT_FILENO) != 0)
        while trainer.epochsCompleted < resolvedEpochs {
            let e = try processes.agreed { try runEpoch(trainer, sets, progress) }
            var figures = EpochMetrics(epoch: e.epoch, trainLoss: finite(e.trainLoss),
                                       validationLoss: e.validation.flatMap { finite($0.loss) },
                                       validationAccuracy: e.validation?.accuracy, seconds: e.seconds)
            figures.testLoss = e.test.flatMap { finite($0.loss) }
            figures.testAccuracy = e.test?.accuracy
            run.epochs.append(figures)
            printEpoch(label: label, epoch: e.epoch, trainLoss: e.trainLoss, validation: e.validation, test: e.test,
                       seconds: e.seconds)
        }
        trainer.observer = nil
        // The same final model as a plain run (same bytes).
        let (model, test, movingTest) = try processes.agreed { try finalModel(network, trainer, sets) }
        try Train.requireFinite(model, at: "the end of training")
        try Train.requireFinite(EpochOutcome(epoch: 0, trainLoss: 0, seconds: 0, validation: nil, test: test), at: "the end of training")
        try processes.onWriter { try OutputPaths.save(model, to: modelPath) }
        run.test = TestMetrics(loss: finite(test.loss), accuracy: test.accuracy)
        run.test?.movingAverageLoss = movingTest.flatMap { finite($0.loss) }
        run.test?.movingAverageAccuracy = movingTest?.accuracy
        run.model = modelPath
        run.stepLoss = recorder.stepLoss
        run.snapshots = recorder.snapshots
        run.unitMeans = recorder.unitMeans
        if json {
            var fields = "\"event\":\"test\",\"run\":\(JSONText.string(label)),\"loss\":\(JSONText.number(test.loss))"
            if let a = test.accuracy { fields += ",\"accuracy\":\(JSONText.number(a))" }
            print("{\(fields),\"output\":\(JSONText.string(modelPath))}")
        } else {
            let acc = test.accuracy.map { String(format: "  test accuracy %.2f%%", $0 * 100) } ?? ""
            print("\(label): " + String(format: "test loss %.4f", test.loss) + acc + "  → \(modelPath)")
        }
        return run
    }

    private func finite(_ v: Double) -> Double? { v.isFinite ? v : nil }

    private func printEpoch(label: String, epoch: Int, trainLoss: Double, validation: Evaluation?, test: Evaluation?, seconds: Double) {
        if json {
            var fields: [(String, String)] = [
                ("event", "\"epoch\""), ("run", JSONText.string(label)), ("epoch", "\(epoch)"), ("epochs", "\(resolvedEpochs)"),
                ("train_loss", JSONText.number(trainLoss)),
            ] + Train.evaluationFields(validation: validation, test: test)
            fields.append(("seconds", JSONText.number(seconds)))
            print(JSONText.object(fields))
        } else {
            var line = label.padding(toLength: 10, withPad: " ", startingAt: 0) + "  epoch \(epoch)/\(resolvedEpochs)"
                + String(format: "  train loss %.4g", trainLoss)
            if let validation {
                line += String(format: "  val loss %.4g", validation.loss)
                if let a = validation.accuracy { line += String(format: "  val accuracy %.2f%%", a * 100) }
            }
            if let test {
                line += String(format: "  test loss %.4g", test.loss)
                if let a = test.accuracy { line += String(format: "  test accuracy %.2f%%", a * 100) }
            }
            line += String(format: "  %.2f s", seconds)
            print(line)
        }
        fflush(nil)
    }
}

/// Records, for one network of a comparison, the loss of every step and the values entering
/// each activation on a fixed probe batch: histograms at a few steps (0, a tenth, half, the
/// end) and the means of the first units about 200 times over training.
final class ActivationRecorder: TrainingObserver {
    static let bins = 40
    static let unitsPerLayer = 5
    static let meanPoints = 200

    let network: Network
    let probe: Examples
    let sites: [ActivationSite]
    let totalSteps: Int
    let snapshotSteps: Set<Int>
    let meanEvery: Int
    private(set) var stepLoss: [Double?] = []
    private(set) var snapshots: [Snapshot] = []
    private var meanSteps: [Int] = []
    /// [site][unit][time].
    private var means: [[[Double?]]]

    init(network: Network, probe: Examples, totalSteps: Int) {
        self.network = network
        self.probe = probe
        self.totalSteps = totalSteps
        sites = network.activationSites
        snapshotSteps = Set([0, totalSteps / 10, totalSteps / 2, totalSteps])
        meanEvery = max(1, totalSteps / ActivationRecorder.meanPoints)
        means = sites.map { Array(repeating: [], count: min($0.units, ActivationRecorder.unitsPerLayer)) }
    }

    /// Probes the network as it is after `step` steps.
    func record(step: Int) throws(TrainingError) {
        let histograms = snapshotSteps.contains(step)
        var layers: [Distribution] = []
        var index = 0
        let n = probe.count
        try network.probeActivationInputs(probe) { site, values in
            let m = UnitMeans.means(values, batch: n, units: site.units, spatial: site.spatial, first: ActivationRecorder.unitsPerLayer)
            for (u, v) in m.enumerated() { means[index][u].append(v.map { Significant.round($0, digits: 6) }) }
            if histograms {
                layers.append(Distribution.of(values, bins: ActivationRecorder.bins,
                                              saturationThreshold: Distribution.saturationThreshold(activation: site.activation.name)))
            }
            index += 1
        }
        meanSteps.append(step)
        if histograms { snapshots.append(Snapshot(step: step, layers: layers)) }
    }

    func trainer(_ trainer: Trainer, didFinishStep step: Int, batchLoss: Double) throws(TrainingError) {
        stepLoss.append(batchLoss.isFinite ? Significant.round(batchLoss, digits: 6) : nil)
        if snapshotSteps.contains(step) || step % meanEvery == 0 || step == totalSteps { try record(step: step) }
    }

    var unitMeans: UnitMeans? {
        guard !sites.isEmpty else { return nil }
        return UnitMeans(steps: meanSteps, layers: zip(sites, means).map { UnitMeansLayer(activation: $0.name, means: $1) })
    }
}
