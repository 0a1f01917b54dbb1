import ArgumentParser
import BNCData
import BNCFileSystem
import BNCGraph
import BNCModelFile
import BNCTraining
import Foundation

/// `bnc calibrate model.pb`: replaces every BN's moving statistics by the exact population
/// statistics of the training set under the final weights.
struct Calibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Recompute exact BN population statistics over the training set and report the change.",
        discussion: """
            Training leaves each BatchNormalization with exponential moving averages of batch \
            statistics taken while the weights were still changing: only an estimate. This \
            command runs the training examples through the model with its final weights and \
            sets each BN's mean and variance to the exact values over all of them (layer by \
            layer, each using the calibrated ones before it; biased or unbiased variance as the \
            file's bnc.bn.variance_estimator says). It reports how far each BN's statistics \
            moved and the test accuracy (or MSE) before and after, then writes the model.

            The training examples are the ones `bnc train` used (its bnc.train.examples \
            metadata; the held-out validation tail is excluded). The toy regression is \
            regenerated from the file's seed.
            """)

    @Argument(help: "Model file written by bnc train.")
    var model: String

    @Option(help: ArgumentHelp("Folder with the MNIST-format files (default: Fashion-MNIST).", valueName: "dir"))
    var data: String?

    @Option(name: [.short, .customLong("output")], help: "Where to write the calibrated model (default: replace the input).")
    var output: String?

    @Option(help: "Examples per forward pass.")
    var batchSize: Int = 500

    @Flag(help: "Report only; do not write a file.")
    var dryRun = false

    func validate() throws {
        if batchSize < 1 || batchSize > SizePolicy.maximumBatch {
            throw ValidationError("--batch-size must be between 1 and \(SizePolicy.maximumBatch) (got \(batchSize)); try --batch-size 500.")
        }
    }

    func run() throws {
        var file = try ModelFile.load(path: model)
        let isToy = file[metadata: MetadataKey.trainDataset] == "toy"
        let dataFolder = data ?? MNISTFolder.defaultDirectory
        if !dryRun {
            // -o (default: the model itself, replaced by design), never a data file.
            let dataFiles = isToy ? [] : [MNISTFolder.trainImages, MNISTFolder.trainLabels, MNISTFolder.testImages, MNISTFolder.testLabels]
                .compactMap { try? MNISTFolder.locate($0, in: dataFolder) }.map { OutputPaths.Input("the data file", $0) }
            try OutputPaths.claim([.init("-o", output ?? model)], inputs: dataFiles, replacing: [.init("the input model", model)])
        }
        do {
            try FiniteWeights.requireFinite(file.graph, "bnc calibrate needs finite weights (the statistics would be NaN)")
        } catch {
            throw error.inFile(model)
        }
        let imported: ModelImport.Imported
        do {
            // A classifier may end in its logits (no Softmax): the data decides the task.
            imported = try ModelImport.network(from: file, task: isToy ? nil : .classification)
        } catch {
            throw TrainingError(place: model, problem: error.description)
        }
        let network = imported.network
        guard !imported.batchNorms.isEmpty else {
            throw TrainingError(place: model, problem: "has no BatchNormalization node to calibrate")
        }
        let (train, test) = try examples(for: file, network: network)
        // The size policy: a batch beyond the examples is the same single pass; the memory of
        // that batch is checked before it is allocated.
        let batch = max(1, min(batchSize, max(train.count, test.count)))
        let memory = try TrainingMemory.estimate(inputShape: network.inputShape, layers: network.units.map(\.spec), optimizerSlots: 0)
        try SizePolicy.requireTrainingMemory(fixed: memory.fixedBytes, perExample: memory.bytesPerExample, batch: batch,
                                             what: "calibrating \(memory.parameters) parameters", network: model)
        let evaluator = try Trainer(network: network, options: TrainingOptions(
            epochs: 1, batchSize: batch, optimizer: .sgd(learningRate: 0, momentum: 0), seed: 0))
        let before = try evaluator.evaluate(test)
        let results = try network.calibrateBatchNorm(on: train, batchSize: batch)
        let after = try evaluator.evaluate(test)

        print("calibrated \(results.count) BatchNormalization node\(results.count == 1 ? "" : "s") over \(train.count) training examples")
        for (r, names) in zip(results, imported.batchNorms) {
            print(String(format: "  %@: max mean shift %.4f σ, max variance change %.2f%%",
                         names.node.isEmpty ? r.unit : names.node, r.maxMeanShift, r.maxVarianceRatioChange * 100))
        }
        if let a0 = before.accuracy, let a1 = after.accuracy {
            print(String(format: "test accuracy %.2f%% → %.2f%%  (loss %.4f → %.4f)", a0 * 100, a1 * 100, before.loss, after.loss))
        } else {
            print(String(format: "test MSE %.4f → %.4f", before.loss, after.loss))
        }
        guard !dryRun else { return }
        for (r, names) in zip(results, imported.batchNorms) {
            for (name, values) in [(names.mean, r.mean), (names.variance, r.variance)] {
                guard let i = file.graph.initializerIndex(named: name) else { continue }
                file.graph.initializers[i].storage = .float(values)
            }
        }
        file[metadata: MetadataKey.bnStatistics] = Train.populationStatisticsText(examples: train.count)
        if let a = after.accuracy { file[metadata: MetadataKey.trainTestAccuracy] = String(format: "%.6f", a) }
        file[metadata: MetadataKey.trainTestLoss] = String(format: "%.6f", after.loss)
        let destination = output ?? model
        try OutputPaths.save(file, to: destination)
        print("→ \(destination)")
    }

    /// The training and test examples the model was made with.
    func examples(for file: Model, network: Network) throws -> (Examples, Examples) {
        if file[metadata: MetadataKey.trainDataset] == "toy" {
            guard let seedText = file[metadata: MetadataKey.trainSeed], let seed = UInt64(seedText) else {
                throw TrainingError(place: model, problem: "toy model without a valid \(MetadataKey.trainSeed) metadata entry")
            }
            let (x, y) = ToyRegression.generate(count: 500, seed: seed)
            let (vx, vy) = ToyRegression.generate(count: 500, seed: seed ^ 0x5EED_0000_0000_0001)
            return (Examples(inputs: x, shape: [1], values: y), Examples(inputs: vx, shape: [1], values: vy))
        }
        let (train, test) = try MNISTFolder.load(directory: data ?? MNISTFolder.defaultDirectory)
        if train.classCount != network.outputCount {
            throw TrainingError(place: model, problem: "has \(network.outputCount) outputs, but the data in \(data ?? MNISTFolder.defaultDirectory) has \(train.classCount) classes")
        }
        let used = file[metadata: "bnc.train.examples"].flatMap(Int.init).map { min($0, train.count) } ?? train.count
        let images = network.inputShape.count == 3
        let trainSet = Examples(train.subset(0..<used), asImages: images)
        let testSet = Examples(test, asImages: images)
        guard trainSet.inputShape == network.inputShape else {
            throw TrainingError(place: model, problem: "takes input \(network.inputShape) but the images are \(trainSet.inputShape)")
        }
        return (trainSet, testSet)
    }
}
