import BNCGraph
import BNCModelFile
import BNCRuntime

/// The one place where `bnc infer` hands the inputs it read to the runtime, and takes the
/// outputs back.
///
/// `bnc infer` reads any number of named inputs of any supported element type
/// (`TensorInput`); today's `Executor` runs graphs with exactly one FLOAT runtime input, its
/// dim 0 the batch, and gives Float outputs. This glue turns the inputs into batches of that
/// one input and refuses any other set with one line; the multi-input executor replaces
/// these two functions.
enum ExecutorFeed {
    /// Batches of the executor's input from whole input tensors.
    static func batches(_ inputs: [InputTensor], for executor: Executor, modelPath: String) throws -> InputBatches {
        guard inputs.count == 1, let input = inputs.first, input.name == executor.inputName else {
            throw ModelError(.unsupportedModel, file: modelPath, place: "graph",
                             problem: "has inputs \(inputs.map { "'\($0.name)'" }.joined(separator: ", ")); bnc's executor runs one FLOAT input today")
        }
        guard case .float(let values) = input.storage else {
            throw ModelError(.unsupportedModel, file: modelPath, place: "graph input '\(input.name)'",
                             problem: "is \(DataType.name(input.storage.dataType)); bnc's executor feeds FLOAT inputs today")
        }
        guard let batch = input.dims.first, Array(input.dims.dropFirst()) == executor.inputShape else {
            throw ModelError(.unsupportedModel, file: modelPath, place: "graph input '\(input.name)'",
                             problem: "dims \(input.dims) from \(input.file) are not N × \(executor.inputShape), the per-sample shape the executor planned")
        }
        return TensorBatches(values: values, samples: batch)
    }

    /// The model's outputs, whole, from the Float rows `run` collected per output.
    static func outputs(_ rows: [[Float]], samples: Int, of executor: Executor) -> [(name: String, dims: [Int], storage: Tensor.Storage)] {
        zip(executor.outputNames, zip(executor.outputShapes, rows)).map { name, shapeRows in
            (name, [samples] + shapeRows.0, .float(shapeRows.1))
        }
    }
}
