import BNCData
import BNCGraph
import BNCModelFile
@testable import BNCCLI
@testable import BNCTraining
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

    /// Row 6 after good epochs: the model is not written, the last finite checkpoint is kept
    /// and named. A single Dense layer (linear regression) under SGD at lr 0.06 on the toy
    /// set diverges geometrically, not chaotically: the step's error grows by about
    /// |1 − lr·2E[x²]| ≈ 2.2 (E[x²] ≈ 26 for x uniform on [−7, 10]), so the outputs pass
    /// Float's range at a step fixed by that rate (epoch 8, step 5 of 16 with seed 4; seeds 1
    /// and 7 stop in epoch 7), far from an epoch's end. (A BN network at the edge of stability
    /// diverged or not depending on the machine's last bits.)
    @Test func divergenceKeepsTheLastCheckpoint() throws {
        let f = try Folder()
        defer { f.cleanUp() }
        let r = try ChildProcess.runBNC(
            ["train", "--dataset", "toy", "--arch", "d1", "--optimizer", "sgd", "--lr", "0.06", "--seed", "4", "--epochs", "20",
             "-o", f.path("m.pb")], outputs: f.logs)
        CLISupport.expectOneLine(r, status: 1, prefix: "bnc: \(f.path("m.pb")): training stopped at epoch ", "no model written")
        #expect(f.bytes("m.pb") == nil)
        let checkpoint = try ModelFile.load(path: f.path("m.pb.ckpt"))
        let epochs = try #require(checkpoint[metadata: "bnc.checkpoint.epochs_completed"])
        #expect((Int(epochs) ?? 0) >= 3, "checkpoint after epoch \(epochs)")
        #expect(r.stderr.contains("the checkpoint \(f.path("m.pb.ckpt")) (after epoch \(epochs)) is kept"), "\(r.stderr)")
        #expect(FiniteWeights.nonFiniteTensors(in: checkpoint.graph).isEmpty)
        #expect(!r.stdout.contains("-nan"), "\(r.stdout)")
    }

    /// An epoch whose validation (or test) loss is not finite ends training, though its
    /// weights are finite (the network's values overflow): checked directly, since which of
    /// the training step and the epoch's evaluation overflows first is a matter of last bits.
    @Test(arguments: [Double.nan, .infinity, -.infinity])
    func aNonFiniteEvaluationLossStopsTraining(_ loss: Double) throws {
        let finite = Evaluation(loss: 0.5, accuracy: 0.9)
        let bad = Evaluation(loss: loss, accuracy: 0.1)
        func outcome(_ validation: Evaluation?, _ test: Evaluation?) -> Train.EpochOutcome {
            Train.EpochOutcome(epoch: 3, trainLoss: 0.4, seconds: 1, validation: validation, test: test, communication: nil)
        }
        try Train.requireFinite(outcome(finite, finite), at: "epoch 3")
        try Train.requireFinite(outcome(nil, nil), at: "epoch 3")
        for (validation, test, label) in [(bad, finite, "validation"), (finite, bad, "test"), (nil, bad, "test")] {
            do {
                try Train.requireFinite(outcome(validation, test), at: "the end of epoch 3")
                Issue.record("a \(label) loss of \(loss) passed")
            } catch {
                #expect(error.kind == .diverged)
                #expect("\(error)".contains("the \(label) loss is \(loss.isNaN ? "NaN" : "infinite")"), "\(error)")
            }
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
