/// A minimal XML reader for the SVG bnc writes (elements, attributes, text, entities; an
/// optional `<?xml …?>` declaration): parsing it is itself a well-formedness check, and the
/// tree lets tests read back what a chart drew.
struct XMLNode: CustomStringConvertible {
    var name: String
    var attributes: [String: String]
    var children: [XMLNode]
    var text: String

    subscript(_ key: String) -> String? { attributes[key] }

    /// Every descendant (and self) in document order.
    var all: [XMLNode] { [self] + children.flatMap(\.all) }

    func descendants(_ name: String, where predicate: (XMLNode) -> Bool = { _ in true }) -> [XMLNode] {
        all.filter { $0.name == name && predicate($0) }
    }

    func hasClass(_ c: String) -> Bool { (attributes["class"] ?? "").split(separator: " ").contains(Substring(c)) }

    /// All text of the element and its descendants.
    var allText: String { text + children.map(\.allText).joined() }

    var description: String { "<\(name) \(attributes)>" }
}

struct XMLParseError: Error, CustomStringConvertible {
    var offset: Int
    var problem: String
    var description: String { "XML offset \(offset): \(problem)" }
}

enum XMLTree {
    static func parse(_ text: String) throws -> XMLNode {
        var p = Parser(chars: Array(text.unicodeScalars))
        p.skipSpace()
        if p.starts(with: "<?") {
            guard let end = p.find("?>") else { throw XMLParseError(offset: p.i, problem: "unterminated declaration") }
            p.i = end + 2
        }
        p.skipSpace()
        let root = try p.element()
        p.skipSpace()
        guard p.i == p.chars.count else { throw XMLParseError(offset: p.i, problem: "content after the root element") }
        return root
    }

    private struct Parser {
        var chars: [Unicode.Scalar]
        var i = 0

        func starts(with s: String) -> Bool {
            let u = Array(s.unicodeScalars)
            return i + u.count <= chars.count && Array(chars[i..<(i + u.count)]) == u
        }

        func find(_ s: String) -> Int? {
            let u = Array(s.unicodeScalars)
            var j = i
            while j + u.count <= chars.count {
                if Array(chars[j..<(j + u.count)]) == u { return j }
                j += 1
            }
            return nil
        }

        mutating func skipSpace() {
            while i < chars.count, chars[i].properties.isWhitespace { i += 1 }
        }

        mutating func name() throws -> String {
            let start = i
            while i < chars.count, chars[i].properties.isAlphabetic || chars[i] == "-" || chars[i] == ":" || chars[i] == "_"
                || ("0"..."9").contains(chars[i]) { i += 1 }
            guard i > start else { throw XMLParseError(offset: i, problem: "expected a name") }
            return String(String.UnicodeScalarView(chars[start..<i]))
        }

        mutating func expect(_ c: Unicode.Scalar) throws {
            guard i < chars.count, chars[i] == c else { throw XMLParseError(offset: i, problem: "expected '\(c)'") }
            i += 1
        }

        static func decode(_ s: String) throws -> String {
            var out = "", rest = Substring(s)
            while let amp = rest.firstIndex(of: "&") {
                out += rest[..<amp]
                guard let semi = rest[amp...].firstIndex(of: ";") else { throw XMLParseError(offset: 0, problem: "bare &") }
                switch rest[rest.index(after: amp)..<semi] {
                case "amp": out += "&"
                case "lt": out += "<"
                case "gt": out += ">"
                case "quot": out += "\""
                case "apos": out += "'"
                case let e: throw XMLParseError(offset: 0, problem: "unknown entity &\(e);")
                }
                rest = rest[rest.index(after: semi)...]
            }
            return out + rest
        }

        mutating func element() throws -> XMLNode {
            try expect("<")
            let tag = try name()
            var attributes: [String: String] = [:]
            while true {
                skipSpace()
                if starts(with: "/>") {
                    i += 2
                    return XMLNode(name: tag, attributes: attributes, children: [], text: "")
                }
                if starts(with: ">") {
                    i += 1
                    break
                }
                let key = try name()
                try expect("=")
                try expect("\"")
                let start = i
                while i < chars.count, chars[i] != "\"" {
                    guard chars[i] != "<" else { throw XMLParseError(offset: i, problem: "'<' in an attribute") }
                    i += 1
                }
                let raw = String(String.UnicodeScalarView(chars[start..<i]))
                try expect("\"")
                guard attributes[key] == nil else { throw XMLParseError(offset: i, problem: "duplicate attribute \(key)") }
                attributes[key] = try Parser.decode(raw)
            }
            var children: [XMLNode] = []
            var text = ""
            while true {
                guard i < chars.count else { throw XMLParseError(offset: i, problem: "<\(tag)> is not closed") }
                if starts(with: "</") {
                    i += 2
                    let closing = try name()
                    guard closing == tag else { throw XMLParseError(offset: i, problem: "</\(closing)> closes <\(tag)>") }
                    try expect(">")
                    return XMLNode(name: tag, attributes: attributes, children: children, text: try Parser.decode(text))
                }
                if chars[i] == "<" {
                    children.append(try element())
                } else {
                    text.unicodeScalars.append(chars[i])
                    i += 1
                }
            }
        }
    }
}

extension XMLNode {
    /// Points of a polyline/polygon `points` attribute.
    var points: [(Double, Double)] {
        (attributes["points"] ?? "").split(separator: " ").compactMap { pair in
            let p = pair.split(separator: ",")
            guard p.count == 2, let x = Double(p[0]), let y = Double(p[1]) else { return nil }
            return (x, y)
        }
    }

    func number(_ key: String) -> Double? { attributes[key].flatMap(Double.init) }
}
