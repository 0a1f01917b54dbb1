import BNCGraph

/// Training checkpoints as ONNX model files.
///
/// A checkpoint is the inference model of the network at the end of an epoch (so it loads,
/// validates and integrity-checks like any model, and can even be inferred from) plus:
/// - one extra initializer per parameter and optimizer slot, `<parameter>.<slot>` (slots
///   `velocity` for SGD with momentum, `m` and `v` for Adam), not read by any node;
/// - metadata `bnc.checkpoint.epochs_completed`, `bnc.checkpoint.step` (optimizer updates,
///   Adam's t) and `bnc.checkpoint.config` (every setting that affects the result except the
///   epoch count; resuming with different settings is refused);
/// - for a data-parallel run, `bnc.checkpoint.processes` (absent: one process). Each
///   process's shard of every batch depends on the count, so resuming with another count is
///   refused.
/// Epoch shuffles and dropout draws are derived from (seed, epoch), so no generator state
/// is needed.
public enum Checkpoint {
    public static let epochsKey = "bnc.checkpoint.epochs_completed"
    public static let stepKey = "bnc.checkpoint.step"
    public static let configKey = "bnc.checkpoint.config"
    public static let processesKey = "bnc.checkpoint.processes"

    /// The checkpoint of `trainer`'s current state.
    public static func model(_ trainer: Trainer, config: String, metadata: [(String, String)] = []) -> Model {
        var model = ModelExport.model(trainer.network, metadata: metadata)
        let store = trainer.network.store
        for (slot, buffer) in zip(trainer.optimizer.kind.stateNames, trainer.optimizer.state) {
            for e in store.entries {
                let values = Array(UnsafeBufferPointer(start: buffer.pointer + e.offset, count: e.count))
                model.graph.initializers.append(Tensor(name: "\(e.name).\(slot)", dims: e.dims, floats: values))
            }
        }
        model[metadata: epochsKey] = "\(trainer.epochsCompleted)"
        model[metadata: stepKey] = "\(trainer.steps)"
        model[metadata: configKey] = config
        if trainer.processes > 1 { model[metadata: processesKey] = "\(trainer.processes)" }
        return model
    }

    /// The settings that differ between two config texts ("key=value" words; a value may
    /// span words, as the optimizer's does), e.g. "lr=0.5 in the checkpoint, lr=0.01 now".
    static func difference(saved: String, now: String) -> String {
        func settings(_ text: String) -> [(key: String, value: String)] {
            var out: [(key: String, value: String)] = []
            for word in text.split(separator: " ") {
                if let eq = word.firstIndex(of: "=") {
                    out.append((String(word[..<eq]), String(word[word.index(after: eq)...])))
                } else if !out.isEmpty {
                    out[out.count - 1].value += " " + word
                }
            }
            return out
        }
        let a = settings(saved), b = settings(now)
        var parts: [String] = []
        for (key, value) in a {
            let other = b.first { $0.key == key }?.value
            if other != value { parts.append("\(key)=\(value) in the checkpoint, " + (other.map { "\(key)=\($0) now" } ?? "not set now")) }
        }
        for (key, value) in b where !a.contains(where: { $0.key == key }) {
            parts.append("\(key)=\(value) now, not in the checkpoint")
        }
        return parts.isEmpty ? "the settings text differs" : parts.joined(separator: "; ")
    }

    /// Restores weights, moving statistics, optimizer state and counters from a checkpoint
    /// made by `model(_:config:)` for the same configuration.
    public static func restore(_ model: Model, into trainer: Trainer, config: String) throws(TrainingError) {
        guard let saved = model[metadata: configKey], let epochsText = model[metadata: epochsKey],
              let stepText = model[metadata: stepKey], let epochs = Int(epochsText), let step = Int(stepText),
              epochs >= 0, step >= 0
        else {
            throw TrainingError(place: "checkpoint", problem: "is not a bnc training checkpoint (metadata \(configKey), \(epochsKey) or \(stepKey) missing or invalid)")
        }
        let processes = model[metadata: processesKey].flatMap { Int($0) } ?? 1
        guard processes == trainer.processes else {
            func runs(_ n: Int) -> String { n == 1 ? "one process" : "\(n) processes" }
            throw TrainingError(
                place: "checkpoint",
                problem: "was written by a run of \(runs(processes)); this run has \(runs(trainer.processes)). Every process's share of each batch depends on the count: resume with \(processes == 1 ? "bnc train --resume without mpirun" : "mpirun -np \(processes)"), or delete the checkpoint to start over")
        }
        guard saved == config else {
            throw TrainingError(
                place: "checkpoint",
                problem: "was made with different settings: \(difference(saved: saved, now: config)); rerun with the checkpoint's settings, or delete it to start over")
        }
        let network = trainer.network
        for (name, dims, _) in network.namedTensors() {
            let values = try floats(model, name, dims: dims)
            try network.setTensor(name, values)
        }
        let store = network.store
        for (slot, buffer) in zip(trainer.optimizer.kind.stateNames, trainer.optimizer.state) {
            for e in store.entries {
                let values = try floats(model, "\(e.name).\(slot)", dims: e.dims)
                values.withUnsafeBufferPointer { buffer.pointer.advanced(by: e.offset).update(from: $0.baseAddress!, count: e.count) }
            }
        }
        trainer.optimizer.step = step
        trainer.epochsCompleted = epochs
    }

    private static func floats(_ model: Model, _ name: String, dims: [Int]) throws(TrainingError) -> [Float] {
        guard let t = model.graph.initializer(named: name) else {
            throw TrainingError(place: "checkpoint tensor '\(name)'", problem: "is missing")
        }
        guard t.dims == dims, let v = t.floats else {
            throw TrainingError(place: "checkpoint tensor '\(name)'", problem: "has dims \(t.dims) of \(DataType.name(t.dataType)); expected FLOAT \(dims)")
        }
        return v
    }
}
