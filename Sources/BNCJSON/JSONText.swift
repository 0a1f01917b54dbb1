import Foundation

/// bnc's one JSON writer: the text of every JSON document bnc prints or stores (command
/// reports, `--json` event lines, fold audit records in model metadata, inspect output,
/// recorded metrics).
///
/// Two ways in, one set of rules:
/// - `string`, `number` and `object` build text piece by piece, for output that streams
///   (one line per epoch, one row per image) or whose key order is documented;
/// - `encode` writes an `Encodable` value as one document with sorted keys.
/// Both escape only what JSON requires (`"`, `\`, control characters; `/` stays as is).
public enum JSONText {
    /// A JSON string literal: `"` and `\` escaped, `\n` `\r` `\t` by name, other control
    /// characters as `\u00XX`; everything else (including non-ASCII) as is.
    public static func string(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    /// A Float in shortest round-trip form; non-finite values become `null` (JSON has none).
    public static func number(_ x: Float) -> String {
        x.isFinite ? "\(x)" : "null"
    }

    /// A Double in shortest round-trip form; non-finite values become `null`.
    public static func number(_ x: Double) -> String {
        x.isFinite ? "\(x)" : "null"
    }

    /// One compact object from keys and already-written JSON values, in the given order.
    public static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { string($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }

    /// How `encode` writes a Float or Double that is NaN or infinite.
    public enum NonFinite: Sendable {
        /// As the strings "inf", "-inf", "nan" (reports, where none is expected but one
        /// must not hide the rest of the report).
        case strings
        /// Throw (files that must read back as numbers).
        case refuse
    }

    /// `value` as one JSON document: keys sorted, `/` unescaped; Swift's property names
    /// as keys, or converted to snake_case; compact or pretty-printed.
    public static func encode<T: Encodable>(
        _ value: T, snakeCaseKeys: Bool = false, pretty: Bool = false, nonFinite: NonFinite = .strings
    ) throws -> String {
        let encoder = JSONEncoder()
        if snakeCaseKeys { encoder.keyEncodingStrategy = .convertToSnakeCase }
        encoder.outputFormatting = pretty
            ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted] : [.sortedKeys, .withoutEscapingSlashes]
        if case .strings = nonFinite {
            encoder.nonConformingFloatEncodingStrategy = .convertToString(
                positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        }
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
