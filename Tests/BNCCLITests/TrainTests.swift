import BNCData
import BNCGraph
import BNCModelFile
import Foundation
import Testing

/// `bnc train` and `bnc calibrate` as a user runs them (the built binary), on the toy data set
/// (no files, a fraction of a second per run) and, when installed, a few Fashion-MNIST images.
@Suite struct TrainTests {
    static let fashionMNIST = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

    @Test func resumedRunWritesTheSameBytesAsAnUninterruptedOne() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let common = ["train", "--dataset", "toy", "--epochs", "3", "--activation", "tanh", "--seed", "4"]
        let full = try CLIRunner.run(common + ["-o", "a.pb"], in: dir)
        #expect(full.status == 0, "\(full.stderr)")
        // Interrupted after epoch 1: the checkpoint stays, no model yet.
        let first = try CLIRunner.run(common + ["-o", "b.pb", "--stop-after", "1"], in: dir)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("b.pb.ckpt").path))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("b.pb").path))
        let resumed = try CLIRunner.run(common + ["-o", "b.pb", "--resume"], in: dir)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("resuming"))
        let a = try Data(contentsOf: dir.appendingPathComponent("a.pb"))
        let b = try Data(contentsOf: dir.appendingPathComponent("b.pb"))
        #expect(a == b)
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("b.pb.ckpt").path))
        // Another seed gives another model.
        let other = try CLIRunner.run(["train", "--dataset", "toy", "--epochs", "3", "--activation", "tanh", "--seed", "5", "-o", "c.pb"], in: dir)
        #expect(other.status == 0)
        #expect(try Data(contentsOf: dir.appendingPathComponent("c.pb")) != a)

        let model = try ModelFile.load(path: dir.appendingPathComponent("a.pb").path)
        #expect(model.graph.outputs.map(\.name) == ["prediction"])
        #expect(model[metadata: MetadataKey.trainDataset] == "toy")
        #expect(model[metadata: MetadataKey.trainSeed] == "4")
        #expect(model[metadata: MetadataKey.bnVarianceEstimator] == "biased")
        #expect(model.graph.nodes.filter { $0.opType == "BatchNormalization" }.count == 8)
    }

    @Test func savedStatisticsArePopulationByDefaultAndMovingOnRequest() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let common = ["train", "--dataset", "toy", "--epochs", "2", "--seed", "3"]
        let exact = try CLIRunner.run(common + ["-o", "p.pb"], in: dir)
        #expect(exact.status == 0, "\(exact.stderr)")
        #expect(exact.stdout.contains("BN statistics: exact over the 500 training examples"))
        let moving = try CLIRunner.run(common + ["--bn-statistics", "moving", "-o", "m.pb"], in: dir)
        #expect(moving.status == 0, "\(moving.stderr)")
        #expect(!moving.stdout.contains("BN statistics"))
        let p = try ModelFile.load(path: dir.appendingPathComponent("p.pb").path)
        let m = try ModelFile.load(path: dir.appendingPathComponent("m.pb").path)
        #expect(p[metadata: MetadataKey.bnStatistics]?.hasPrefix("population") == true)
        #expect(m[metadata: MetadataKey.bnStatistics] == "moving average")
        // Same training, only the statistics differ: weights equal, bn1 (on the raw input x)
        // holds the exact mean and biased variance of the 500 training x.
        #expect(p.graph.initializer(named: "dense1.weight") == m.graph.initializer(named: "dense1.weight"))
        let x = ToyRegression.generate(count: 500, seed: 3).x.map(Double.init)
        let mean = x.reduce(0, +) / 500
        let variance = x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 500
        let stored = try #require(p.graph.initializer(named: "bn1.mean")?.floats?.first)
        let storedVariance = try #require(p.graph.initializer(named: "bn1.var")?.floats?.first)
        #expect(abs(Double(stored) - mean) < 1e-5 * max(1, abs(mean)))
        #expect(abs(Double(storedVariance) - variance) < 1e-5 * variance)
        let movingMean = try #require(m.graph.initializer(named: "bn1.mean")?.floats?.first)
        #expect(movingMean != stored)
    }

    /// The same with convolutions on oneDNN's training primitives (the second convolution sums
    /// 8·3·3 = 72 products per output: `ConvLayer.oneDNNDepth`), batches split over the threads.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: fashionMNIST)))
    func resumedConvolutionalRunWritesTheSameBytes() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let common = ["train", "--arch", "c8-bn-relu-p2-c16-bn-relu-p2-flat-d10", "--limit", "400", "--batch-size", "50",
                      "--epochs", "2", "--seed", "3"]
        let full = try CLIRunner.run(common + ["-o", "a.pb"], in: dir)
        #expect(full.status == 0, "\(full.stderr)")
        let again = try CLIRunner.run(common + ["-o", "c.pb"], in: dir)
        #expect(again.status == 0, "\(again.stderr)")
        let first = try CLIRunner.run(common + ["-o", "b.pb", "--stop-after", "1"], in: dir)
        #expect(first.status == 0, "\(first.stderr)")
        let resumed = try CLIRunner.run(common + ["-o", "b.pb", "--resume"], in: dir)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let a = try Data(contentsOf: dir.appendingPathComponent("a.pb"))
        #expect(a == (try Data(contentsOf: dir.appendingPathComponent("c.pb"))), "the same flags give the same bytes")
        #expect(a == (try Data(contentsOf: dir.appendingPathComponent("b.pb"))), "a resumed run gives the same bytes")
    }

    @Test func resumeRefusesOtherSettingsAndMissingCheckpoints() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = try CLIRunner.run(["train", "--dataset", "toy", "--resume", "-o", "m.pb"], in: dir)
        #expect(missing.status == 2)
        #expect(missing.stderr.hasPrefix("bnc: m.pb.ckpt: no checkpoint"))
        _ = try CLIRunner.run(["train", "--dataset", "toy", "--epochs", "2", "--stop-after", "1", "-o", "m.pb"], in: dir)
        let changed = try CLIRunner.run(["train", "--dataset", "toy", "--epochs", "2", "--lr", "0.5", "--resume", "-o", "m.pb"], in: dir)
        #expect(changed.status == 2)
        #expect(changed.stderr.contains("different settings"))
        #expect(changed.stderr.split(separator: "\n").count == 1)
    }

    @Test(arguments: [
        (["--epochs", "0"], "--epochs must be between 1 and 1000000"),
        (["--batch-size", "1"], "--batch-size must be at least 2"),
        (["--lr", "0"], "--lr must be a positive number"),
        (["--bn-momentum", "1.5"], "--bn-momentum is the weight of the old value"),
        (["--arch", "d10-x3"], "unknown layer"),
        (["--arch", "d100-bn-relu-d7"], "must end with a dense layer of 10 units"),
        (["--momentum", "0.9"], "--momentum applies to SGD"),
        (["--dataset", "toy", "--limit", "100"], "--limit, --validation and --data apply to image data sets"),
    ])
    func badOptionsSayWhatToType(_ args: [String], _ message: String) throws {
        let r = try CLIRunner.run(["train"] + args)
        #expect(r.status != 0)
        #expect(r.stderr.contains(message), "\(r.stderr)")
    }

    @Test func calibrateReportsAndRewritesStatistics() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let trained = try CLIRunner.run(["train", "--dataset", "toy", "--epochs", "4", "--bn-statistics", "moving", "-o", "t.pb"], in: dir)
        #expect(trained.status == 0, "\(trained.stderr)")
        let before = try ModelFile.load(path: dir.appendingPathComponent("t.pb").path)
        let r = try CLIRunner.run(["calibrate", "t.pb", "-o", "c.pb"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("calibrated 8 BatchNormalization nodes over 500 training examples"))
        #expect(r.stdout.contains("test MSE"))
        let after = try ModelFile.load(path: dir.appendingPathComponent("c.pb").path)
        #expect(after.graph.initializer(named: "bn1.mean") != before.graph.initializer(named: "bn1.mean"))
        #expect(after.graph.initializer(named: "dense1.weight") == before.graph.initializer(named: "dense1.weight"))
        #expect(after[metadata: MetadataKey.bnStatistics]?.hasPrefix("population") == true)
        // bn1 normalizes the raw input x: its exact mean is the mean of the 500 training x.
        let mean = after.graph.initializer(named: "bn1.mean")!.floats![0]
        #expect(mean > 0.5 && mean < 2.5, "mean of x uniform on [−7, 10] ≈ 1.5, got \(mean)")
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: fashionMNIST)))
    func fashionMNISTJSONLines() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLIRunner.run(["train", "--limit", "600", "--epochs", "2", "--batch-size", "50", "--json", "-o", "f.pb"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object != nil)
        }
        #expect(lines[0].contains("\"event\":\"epoch\"") && lines[0].contains("\"val_accuracy\""))
        #expect(lines[2].contains("\"event\":\"test\""))
        let model = try ModelFile.load(path: dir.appendingPathComponent("f.pb").path)
        #expect(model.graph.inputs[0].shape == [.param("N"), .value(784)])
        #expect(model[metadata: MetadataKey.trainTestAccuracy] != nil)
        #expect(model[metadata: "bnc.train.examples"] == "540")
    }
}
