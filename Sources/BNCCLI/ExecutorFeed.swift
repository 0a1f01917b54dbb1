import BNCGraph
import BNCModelFile
import BNCRuntime

/// The one place where `bnc infer` hands whole input tensors to the runtime and takes the
/// outputs back: every runtime input by name, any supported element type, every output
/// (`GraphRunner`). The streamed IDX path feeds an `Executor` a batch at a time instead.
enum ExecutorFeed {
    /// Every graph output for the given inputs, in graph order.
    static func run(_ inputs: [InputTensor], model: Model, maxBatch: Int, modelPath: String) throws(ModelError) -> [Tensor] {
        do {
            let runner = try GraphRunner(model: model)
            runner.maxBatch = maxBatch
            runner.memoryLimit = Executor.limit()
            var feeds: [String: Tensor] = [:]
            for i in inputs { feeds[i.name] = Tensor(name: i.name, dims: i.dims, storage: i.storage) }
            return try runner.run(feeds)
        } catch {
            throw error.inFile(modelPath)
        }
    }
}
