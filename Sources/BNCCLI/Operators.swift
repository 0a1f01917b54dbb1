import ArgumentParser
import BNCOps

/// `bnc operators`: the operators bnc runs and their ONNX versions, from the registry (the
/// README's operator table is this command's `--markdown` output; a test keeps them equal).
struct OperatorsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operators",
        abstract: "List the ONNX operators bnc runs, with the operator versions it implements.",
        discussion: """
            bnc reads default-domain opsets \(Registry.opsets.lowerBound)–\(Registry.opsets.upperBound); a \
            model at opset k runs each operator's newest version ≤ k. --opset K shows those versions.
            """)

    @Option(help: "Show the version each operator has in a model of this opset.")
    var opset: Int?

    @Flag(help: "Print the table as Markdown (the README's operator table).")
    var markdown = false

    func validate() throws {
        if let opset, !Registry.opsets.contains(opset) {
            throw ValidationError("--opset \(opset): bnc reads opsets \(Registry.opsets.lowerBound)–\(Registry.opsets.upperBound).")
        }
    }

    func run() {
        print(markdown ? Self.markdownTable() : table())
    }

    /// One line per operator: name and versions (or the one for `--opset`).
    func table() -> String {
        let width = Registry.names.map(\.count).max() ?? 0
        return Registry.table.map { row in
            let name = row.type.padding(toLength: width, withPad: " ", startingAt: 0)
            if let opset {
                let v = Registry.version(of: Registry.operatorType(row.type)!, opset: opset)
                return "\(name)  \(v.map { "version \($0)" } ?? "not in opset \(opset)")"
            }
            return "\(name)  versions \(row.versions.map(String.init).joined(separator: ", "))"
        }.joined(separator: "\n")
    }

    /// The README's table: operator | ONNX versions implemented.
    static func markdownTable() -> String {
        var lines = ["| operator | versions (ONNX since-version) |", "|---|---|"]
        for row in Registry.table {
            lines.append("| \(row.type) | \(row.versions.map(String.init).joined(separator: ", ")) |")
        }
        return lines.joined(separator: "\n")
    }
}
