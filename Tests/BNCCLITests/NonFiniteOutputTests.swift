import BNCData
import BNCGraph
import BNCModelFile
import Foundation
import Testing

/// No silent non-finite numbers (issue 19, rows 5, 6, 7, 12, 14): training stops at the first
/// non-finite loss and writes no model; infer never prints NaN or ±Inf as a result; a count
/// of 0 images gives no accuracy; calibrate takes a classifier that ends in its logits.
@Suite struct NonFiniteOutputTests {
    typealias Folder = NothingLostTests.Folder
    typealias Files = FoldInferTests.Files

    /// FoldInferTests' model (4×4 images, three classes) with bn1's variance and epsilon set.
    static func model(variance: Float, epsilon: Float? = nil, scaleCount: Int? = nil) -> Model {
        var model = FoldInferTests.model()
        let v = model.graph.initializers.firstIndex { $0.name == "bn1.var" }!
        model.graph.initializers[v].storage = .float([variance] + Array(repeating: 1, count: 7))
        if let scaleCount {
            let s = model.graph.initializers.firstIndex { $0.name == "bn1.scale" }!
            model.graph.initializers[s] = Tensor(name: "bn1.scale", dims: [scaleCount], floats: Array(repeating: 1, count: scaleCount))
        }
        if let epsilon {
            let n = model.graph.nodes.firstIndex { $0.name == "bn1" }!
            model.graph.nodes[n].attributes = [Attribute("epsilon", .float(epsilon))]
        }
        return model
    }

    /// Writes `model` without validation or checks (the loader's future checks must not stop
    /// the test from making the file).
    static func write(_ model: Model, to path: String) throws {
        try AtomicFile.write(ModelFile.encode(model), to: path)
    }

    /// Row 5, the command line's part: outputs that are NaN or infinite are never printed as
    /// results (their argmax would be a silent "class 0", their probability "-nan"). Weights of
    /// 3e38 are finite and pass every load check, but their products overflow to ±Inf and
    /// then NaN; infer refuses with one line naming the image (exit 2) instead of printing
    /// "-nan" and an accuracy. A BN variance of −1 (or 0 with epsilon 0) is refused too, by
    /// the loader or at the output, and prints no result either.
    @Test(arguments: ["overflow", "variance -1", "variance 0, epsilon 0"])
    func inferNeverPrintsNonFiniteResults(_ kind: String) throws {
        let f = try Files()
        defer { f.remove() }
        let path = f.dir.appendingPathComponent("bad.pb").path
        var model: Model
        switch kind {
        case "overflow":
            model = FoldInferTests.model()
            let w = model.graph.initializers.firstIndex { $0.name == "W1" }!
            model.graph.initializers[w].storage = .float(Array(repeating: 3e38, count: 128))
        case "variance -1": model = Self.model(variance: -1)
        default: model = Self.model(variance: 0, epsilon: 0)
        }
        try Self.write(model, to: path)
        let logs = f.dir.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        for extra in [["--labels", f.labels], [], ["--json"]] {
            let r = try ChildProcess.runBNC(["infer", path, f.images] + extra, outputs: logs)
            if kind == "overflow" {
                CLISupport.expectOneLine(r, prefix: "bnc: \(path): graph output 'y', image 0: the model computes ")
            } else {
                CLISupport.expectOneLine(r, prefix: "bnc: \(path): ")
            }
            #expect(!r.stdout.lowercased().contains("nan") && !r.stdout.contains("accuracy"), "\(extra): \(r.stdout)")
        }
    }

    /// Row 5 at the loader (the operator registry's parameter checks): inspect, verify, fold
    /// and infer report var + epsilon ≤ 0 the same way, as one line naming the BN.
    @Test(
          arguments: [(Float(-1), Float?.none), (0, 0)])
    func everyCommandReportsANonPositiveVariance(_ variance: Float, _ epsilon: Float?) throws {
        let f = try Files()
        defer { f.remove() }
        let path = f.dir.appendingPathComponent("var.pb").path
        try Self.write(Self.model(variance: variance, epsilon: epsilon), to: path)
        var lines: [String] = []
        for command in [["inspect", path], ["verify", path], ["fold", path, "--random-probes", "5"], ["infer", path, f.images]] {
            let r = try CLIRunner.run(command)
            #expect(r.status == 2, "\(command[0]): \(r.stderr)")
            #expect(r.stderr.hasPrefix("bnc: \(path): node 'bn1'"), "\(command[0]): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1)
            lines.append(r.stderr)
        }
        #expect(Set(lines).count == 1, "the commands disagree: \(lines)")
        #expect(!FileManager.default.fileExists(atPath: f.dir.appendingPathComponent("var.folded.pb").path))
    }

    /// Row 7: a BN scale of 4 values for 8 channels is invalid for every command alike (fold
    /// must not write it "passed" after no probe).
    @Test
    func everyCommandReportsAParameterShapeMismatch() throws {
        let f = try Files()
        defer { f.remove() }
        let path = f.dir.appendingPathComponent("shape.pb").path
        try Self.write(Self.model(variance: 1, scaleCount: 4), to: path)
        var lines: [String] = []
        for command in [["inspect", path], ["verify", path], ["fold", path, "--random-probes", "5"], ["infer", path, f.images]] {
            let r = try CLIRunner.run(command)
            #expect(r.status == 2, "\(command[0]): \(r.stderr)")
            #expect(r.stderr.hasPrefix("bnc: \(path): node 'bn1'") && r.stderr.contains("scale"), "\(command[0]): \(r.stderr)")
            lines.append(r.stderr)
        }
        #expect(Set(lines).count == 1, "the commands disagree: \(lines)")
        #expect(!FileManager.default.fileExists(atPath: f.dir.appendingPathComponent("shape.folded.pb").path))
    }

    /// Row 6: a learning rate of 1e30 stops training at the first non-finite loss: exit 1,
    /// one line naming the step and the last finite loss, no model, no checkpoint.
    @Test func trainingStopsAtTheFirstNonFiniteLoss() throws {
        let f = try Folder()
        defer { f.cleanUp() }
        let r = try ChildProcess.runBNC(["train", "--dataset", "toy", "--lr", "1e30", "--epochs", "3", "-o", f.path("m.pb")], outputs: f.logs)
        CLISupport.expectOneLine(r, status: 1, prefix: "bnc: \(f.path("m.pb")): training stopped at epoch 1, step ",
                                 "the training loss is", "last finite loss", "no model written, no checkpoint written", "smaller --lr (now 1e+30)")
        #expect(f.listing().isEmpty)
    }

    /// Row 6 after a good epoch: the model is not written, the last finite checkpoint is kept
    /// and named. (SGD at 0.036 on the toy set overflows in its second epoch with seed 4.)
    @Test func divergenceKeepsTheLastCheckpoint() throws {
        let f = try Folder()
        defer { f.cleanUp() }
        let r = try ChildProcess.runBNC(
            ["train", "--dataset", "toy", "--optimizer", "sgd", "--lr", "0.036", "--seed", "4", "--epochs", "12", "-o", f.path("m.pb")], outputs: f.logs)
        CLISupport.expectOneLine(r, status: 1, prefix: "bnc: \(f.path("m.pb")): training stopped at ", "no model written")
        #expect(f.bytes("m.pb") == nil)
        let checkpoint = try ModelFile.load(path: f.path("m.pb.ckpt"))
        let epochs = try #require(checkpoint[metadata: "bnc.checkpoint.epochs_completed"])
        #expect(r.stderr.contains("the checkpoint \(f.path("m.pb.ckpt")) (after epoch \(epochs)) is kept"), "\(r.stderr)")
        #expect(FiniteWeights.nonFiniteTensors(in: checkpoint.graph).isEmpty)
        #expect(!r.stdout.contains("-nan"), "\(r.stdout)")
        // An epoch whose validation loss is not finite is the last one: no epoch after it
        // runs, and the kept checkpoint is the one before it.
        let lines = r.stdout.split(separator: "\n")
        if let bad = lines.firstIndex(where: { $0.hasPrefix("epoch ") && ($0.contains("val loss NaN") || $0.contains("Inf")) }) {
            let epoch = Int(lines[bad].dropFirst("epoch ".count).prefix { $0.isNumber }) ?? 0
            #expect(!r.stdout.contains("epoch \(epoch + 1)/"), "training went on after epoch \(epoch)'s non-finite validation loss")
            #expect(epochs == "\(epoch - 1)", "checkpoint after epoch \(epochs), validation failed in epoch \(epoch)")
        }
    }

    /// Row 12: accuracy over 0 images is refused, not "0.00 % (0/0)".
    @Test func noAccuracyOverNoImages() throws {
        let f = try Files()
        defer { f.remove() }
        let images = f.dir.appendingPathComponent("empty.idx").path, labels = f.dir.appendingPathComponent("empty-labels.idx").path
        try AtomicFile.write(IDXFile(path: "", dims: [0, 4, 4], elements: .uint8([])).encoded(), to: images)
        try AtomicFile.write(IDXFile(path: "", dims: [0], elements: .uint8([])).encoded(), to: labels)
        let logs = f.dir.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        let r = try ChildProcess.runBNC(["infer", f.model, images, "--labels", labels], outputs: logs)
        CLISupport.expectOneLine(r, prefix: "bnc: \(images): dims [0, 4, 4]: holds no images, so there is no accuracy to measure")
        #expect(!r.stdout.contains("accuracy"))
    }

    /// Row 14: calibrate on a classifier whose graph ends in its logits (no Softmax) works,
    /// instead of "10 classes, but the network's last layer has 10 outputs".
    @Test func calibrateTakesAClassifierWithoutSoftmax() throws {
        let f = try Folder()
        defer { f.cleanUp() }
        let data = f.root.appendingPathComponent("mnist")
        try CLISupport.writeMNISTFolder(data)
        let trained = try ChildProcess.runBNC(["train", "--data", data.path, "--arch", "d8-bn-relu-d10", "--epochs", "1", "-o", f.path("m.pb")], outputs: f.logs)
        try #require(trained.status == 0, "\(trained.stderr)")
        var model = try ModelFile.load(path: f.path("m.pb"))
        let softmax = try #require(model.graph.nodes.last)
        try #require(softmax.opType == "Softmax")
        model.graph.nodes.removeLast()
        model.graph.outputs[0].name = softmax.inputs[0]
        try ModelFile.save(model, to: f.path("logits.pb"))
        let r = try ChildProcess.runBNC(["calibrate", f.path("logits.pb"), "--data", data.path, "-o", f.path("c.pb")], outputs: f.logs)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("calibrated 1 BatchNormalization node over"), "\(r.stdout)")
        #expect(r.stdout.contains("test accuracy"), "\(r.stdout)")
    }
}
