import BNCData
import BNCGraph
import BNCRuntime

/// How `fold` and `infer` turn IDX images into model inputs: the shape check against the
/// model's input and the pixel scaling the model's metadata records.
enum ModelInput {
    /// The scale to pass to `IDXReader.readBatch` for a model's `bnc.input.scaling`
    /// expression: nil means the reader's exact default (x/255 for bytes). Understood forms:
    /// "x/255" (also the default when the key is absent), "x", "x/<number>", "x*<number>".
    /// IDX files of any other element type are taken as model inputs as they are, whatever
    /// the expression.
    static func scale(expression: String?, elementType: IDXElementType, modelPath: String) throws(ModelError) -> Float? {
        if elementType != .uint8 { return nil }
        let text = (expression ?? "x/255").replacingOccurrences(of: " ", with: "")
        if text == "x/255" { return nil }
        if text == "x" { return 1 }
        if text.hasPrefix("x/"), let d = Float(text.dropFirst(2)), d.isFinite, d != 0 { return 1 / d }
        if text.hasPrefix("x*"), let m = Float(text.dropFirst(2)), m.isFinite { return m }
        throw ModelError(.unsupportedModel, file: modelPath, place: "metadata '\(MetadataKey.inputScaling)'",
                         problem: "scaling '\(expression ?? "")' is not one of x/255, x, x/<number>, x*<number>")
    }

    /// Checks that the items of `reader` are the model's inputs: the same dims, H×W images
    /// for an (N, H·W) or (N, 1, H, W) input, or single values (an IDX of dims [N]) for an
    /// (N, 1) input such as the toy regression's.
    static func check(_ reader: IDXReader, fits executor: Executor, modelPath: String) throws(DataError) {
        let item = reader.itemDims, input = executor.inputShape
        let pixels = item.reduce(1, *)
        let fits = item == input
            || (item.count == 2 && input == [pixels])
            || (item.count == 2 && input == [1] + item)
            || (item.isEmpty && input == [1])
        if fits { return }
        let itemText = item.isEmpty ? "single values" : item.map(String.init).joined(separator: "×")
        var need = ""
        if input == [1] {
            need = " (needs one value per item: IDX dims [N])"
        } else if input.count == 1 {
            need = " (needs images of \(input[0]) pixels, e.g. \(squareHint(input[0])))"
        } else if input.count == 3 && input[0] == 1 {
            need = " (needs \(input[1])×\(input[2]) images)"
        }
        throw DataError(
            file: reader.path, place: "dims \(reader.dims)",
            problem: "items are \(itemText); \(modelPath) input '\(executor.inputName)' is N×\(input.map(String.init).joined(separator: "×"))\(need)")
    }

    private static func squareHint(_ n: Int) -> String {
        let r = Int(Double(n).squareRoot().rounded())
        return r * r == n ? "\(r)×\(r)" : "1×\(n)"
    }
}
