import ArgumentParser
import Foundation

/// The command line before and after ArgumentParser: negative numbers as option values,
/// and argument errors as one line.
enum CommandLineArguments {
    /// `--lr -1` → `--lr=-1`: a negative number after a long option is that option's value
    /// (ArgumentParser would take `-1` for a short flag and say the value is missing). Stops
    /// at `--`. A `--flag` that takes no value then gets a clear "does not take a value".
    static func normalized(_ arguments: [String]) -> [String] {
        var out: [String] = []
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if a == "--" {
                out += arguments[i...]
                break
            }
            if a.hasPrefix("--"), a.count > 2, !a.contains("="), i + 1 < arguments.count, isNegativeNumber(arguments[i + 1]) {
                out.append(a + "=" + arguments[i + 1])
                i += 2
                continue
            }
            out.append(a)
            i += 1
        }
        return out
    }

    /// "-1", "-0.5", "-.5", "-1e-3", "-inf", "-nan".
    static func isNegativeNumber(_ s: String) -> Bool {
        s.hasPrefix("-") && s.count > 1 && Double(s) != nil
    }

    /// An ArgumentParser message (possibly several lines, "Error: " first) as the one line
    /// bnc prints: `bnc train: <message> (bnc train --help lists the options)`.
    static func oneLine(_ message: String, arguments: [String]) -> String {
        var lines = message.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        lines = lines.filter { !$0.hasPrefix("Usage:") && !$0.hasPrefix("See '") }
        var text = lines.map { line -> String in
            if line.hasPrefix("Error: ") { return String(line.dropFirst("Error: ".count)) }
            if line.hasPrefix("Help: ") {
                // "Help:  --epochs <epochs>  Passes over the training set." → what the flag takes.
                let parts = line.dropFirst("Help: ".count).components(separatedBy: "  ").map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { !$0.isEmpty }
                return parts.count >= 2 ? "\(parts[0]): \(parts.dropFirst().joined(separator: " "))" : parts.joined()
            }
            return line
        }.joined(separator: "; ").replacingOccurrences(of: ".; ", with: ". ")
        if text.isEmpty { text = "invalid arguments" }
        let sub = arguments.first.flatMap { a in
            BNC.configuration.subcommands.first { $0.configuration.commandName ?? $0._commandName == a }
        }
        let command = sub.map { "bnc \($0.configuration.commandName ?? $0._commandName)" } ?? "bnc"
        return "\(command): \(text) (\(command) --help lists the \(sub == nil ? "commands" : "options"))"
    }
}
