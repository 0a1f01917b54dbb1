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
        var p = Parser(bytes: Array(text.utf8))
        p.skipSpace()
        if p.starts(with: "<?") {
            guard let end = p.find("?>") else { throw XMLParseError(offset: p.i, problem: "unterminated declaration") }
            p.i = end + 2
        }
        p.skipSpace()
        let root = try p.element()
        p.skipSpace()
        guard p.i == p.bytes.count else { throw XMLParseError(offset: p.i, problem: "content after the root element") }
        return root
    }

    /// Works on UTF-8 bytes: every markup character is ASCII, so multi-byte characters only
    /// ever appear inside names' neighbours, text and attribute values, copied whole.
    private struct Parser {
        var bytes: [UInt8]
        var i = 0

        func starts(with s: StaticString) -> Bool {
            let n = s.utf8CodeUnitCount
            guard i + n <= bytes.count else { return false }
            let p = s.utf8Start
            for k in 0..<n where bytes[i + k] != p[k] { return false }
            return true
        }

        func find(_ s: StaticString) -> Int? {
            var copy = self
            while copy.i < bytes.count {
                if copy.starts(with: s) { return copy.i }
                copy.i += 1
            }
            return nil
        }

        mutating func skipSpace() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x09 || bytes[i] == 0x0D { i += 1 }
        }

        func string(_ from: Int, _ to: Int) -> String { String(decoding: bytes[from..<to], as: UTF8.self) }

        mutating func name() throws -> String {
            let start = i
            while i < bytes.count {
                let b = bytes[i]
                let ok = (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39)
                    || b == 0x2D || b == 0x3A || b == 0x5F
                guard ok else { break }
                i += 1
            }
            guard i > start else { throw XMLParseError(offset: i, problem: "expected a name") }
            return string(start, i)
        }

        mutating func expect(_ c: UInt8) throws {
            guard i < bytes.count, bytes[i] == c else {
                throw XMLParseError(offset: i, problem: "expected '\(Character(Unicode.Scalar(c)))'")
            }
            i += 1
        }

        static func decode(_ s: String) throws -> String {
            guard s.contains("&") else { return s }
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
            try expect(0x3C)  // <
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
                try expect(0x3D)  // =
                try expect(0x22)  // "
                let start = i
                while i < bytes.count, bytes[i] != 0x22 {
                    guard bytes[i] != 0x3C else { throw XMLParseError(offset: i, problem: "'<' in an attribute") }
                    i += 1
                }
                let raw = string(start, i)
                try expect(0x22)
                guard attributes[key] == nil else { throw XMLParseError(offset: i, problem: "duplicate attribute \(key)") }
                attributes[key] = try Parser.decode(raw)
            }
            var children: [XMLNode] = []
            var text = ""
            while true {
                guard i < bytes.count else { throw XMLParseError(offset: i, problem: "<\(tag)> is not closed") }
                if starts(with: "</") {
                    i += 2
                    let closing = try name()
                    guard closing == tag else { throw XMLParseError(offset: i, problem: "</\(closing)> closes <\(tag)>") }
                    try expect(0x3E)
                    return XMLNode(name: tag, attributes: attributes, children: children, text: try Parser.decode(text))
                }
                if bytes[i] == 0x3C {
                    children.append(try element())
                } else {
                    let start = i
                    while i < bytes.count, bytes[i] != 0x3C { i += 1 }
                    text += string(start, i)
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
