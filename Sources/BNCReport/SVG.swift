/// A small SVG writer: elements as values, rendered to deterministic text.
///
/// Numbers are written by `SVGNumber` (fixed decimals, no locale, no exponent), so the same
/// chart gives the same bytes on every platform. Text and attribute values are escaped.
public struct SVGElement: Equatable, Sendable {
    public var name: String
    /// Attributes in the order written.
    public var attributes: [(String, String)]
    public var children: [SVGElement]
    /// Character content (escaped when rendered); for `text`, `title`, `style`.
    public var text: String?

    public init(_ name: String, _ attributes: [(String, String)] = [], children: [SVGElement] = [], text: String? = nil) {
        self.name = name
        self.attributes = attributes
        self.children = children
        self.text = text
    }

    public static func == (a: SVGElement, b: SVGElement) -> Bool {
        a.name == b.name && a.attributes.elementsEqual(b.attributes, by: { $0 == $1 }) && a.children == b.children
            && a.text == b.text
    }

    /// The element as XML text, children indented by one space per level.
    public func render(indent: Int = 0) -> String {
        var out = ""
        write(to: &out, indent: indent)
        return out
    }

    func write(to out: inout String, indent: Int) {
        out += String(repeating: " ", count: indent)
        out += "<" + name
        for (key, value) in attributes { out += " \(key)=\"\(XML.escape(value, attribute: true))\"" }
        if children.isEmpty && text == nil {
            out += "/>\n"
            return
        }
        out += ">"
        if let text { out += XML.escape(text, attribute: false) }
        if children.isEmpty {
            out += "</\(name)>\n"
            return
        }
        out += "\n"
        for child in children { child.write(to: &out, indent: indent + 1) }
        out += String(repeating: " ", count: indent) + "</\(name)>\n"
    }
}

// MARK: Element helpers

extension SVGElement {
    /// A group, optionally translated and with a class and data attributes.
    public static func group(
        _ children: [SVGElement], x: Double = 0, y: Double = 0, cssClass: String? = nil, data: [(String, String)] = []
    ) -> SVGElement {
        var attrs: [(String, String)] = []
        if let cssClass { attrs.append(("class", cssClass)) }
        if x != 0 || y != 0 { attrs.append(("transform", "translate(\(SVGNumber.format(x)),\(SVGNumber.format(y)))")) }
        for (k, v) in data { attrs.append(("data-\(k)", v)) }
        return SVGElement("g", attrs, children: children)
    }

    public static func rect(
        x: Double, y: Double, width: Double, height: Double, cssClass: String? = nil, fill: String? = nil,
        extra: [(String, String)] = []
    ) -> SVGElement {
        var attrs: [(String, String)] = [
            ("x", SVGNumber.format(x)), ("y", SVGNumber.format(y)),
            ("width", SVGNumber.format(max(0, width))), ("height", SVGNumber.format(max(0, height))),
        ]
        if let cssClass { attrs.append(("class", cssClass)) }
        if let fill { attrs.append(("fill", fill)) }
        return SVGElement("rect", attrs + extra)
    }

    public static func line(
        x1: Double, y1: Double, x2: Double, y2: Double, cssClass: String? = nil, stroke: String? = nil,
        extra: [(String, String)] = []
    ) -> SVGElement {
        var attrs: [(String, String)] = [
            ("x1", SVGNumber.format(x1)), ("y1", SVGNumber.format(y1)),
            ("x2", SVGNumber.format(x2)), ("y2", SVGNumber.format(y2)),
        ]
        if let cssClass { attrs.append(("class", cssClass)) }
        if let stroke { attrs.append(("stroke", stroke)) }
        return SVGElement("line", attrs + extra)
    }

    /// An open polyline through `points` (pixel coordinates).
    public static func polyline(
        _ points: [(Double, Double)], cssClass: String? = nil, stroke: String? = nil, extra: [(String, String)] = []
    ) -> SVGElement {
        var attrs: [(String, String)] = [("points", SVGNumber.points(points))]
        if let cssClass { attrs.append(("class", cssClass)) }
        if let stroke { attrs.append(("stroke", stroke)) }
        return SVGElement("polyline", attrs + extra)
    }

    /// A closed polygon (for bands).
    public static func polygon(
        _ points: [(Double, Double)], cssClass: String? = nil, fill: String? = nil, extra: [(String, String)] = []
    ) -> SVGElement {
        var attrs: [(String, String)] = [("points", SVGNumber.points(points))]
        if let cssClass { attrs.append(("class", cssClass)) }
        if let fill { attrs.append(("fill", fill)) }
        return SVGElement("polygon", attrs + extra)
    }

    public static func circle(x: Double, y: Double, r: Double, cssClass: String? = nil, fill: String? = nil) -> SVGElement {
        var attrs: [(String, String)] = [
            ("cx", SVGNumber.format(x)), ("cy", SVGNumber.format(y)), ("r", SVGNumber.format(r)),
        ]
        if let cssClass { attrs.append(("class", cssClass)) }
        if let fill { attrs.append(("fill", fill)) }
        return SVGElement("circle", attrs)
    }

    /// How text is placed relative to its x.
    public enum Anchor: String, Sendable {
        case start, middle, end
    }

    /// Text at (x, y) (the baseline); `rotate` turns it about that point (−90 for y titles).
    public static func text(
        _ string: String, x: Double, y: Double, anchor: Anchor = .start, cssClass: String? = nil,
        rotate: Double = 0, fill: String? = nil
    ) -> SVGElement {
        var attrs: [(String, String)] = [("x", SVGNumber.format(x)), ("y", SVGNumber.format(y))]
        if anchor != .start { attrs.append(("text-anchor", anchor.rawValue)) }
        if let cssClass { attrs.append(("class", cssClass)) }
        if let fill { attrs.append(("fill", fill)) }
        if rotate != 0 {
            attrs.append(("transform", "rotate(\(SVGNumber.format(rotate)) \(SVGNumber.format(x)) \(SVGNumber.format(y)))"))
        }
        return SVGElement("text", attrs, text: string)
    }
}

/// A whole SVG picture: a fixed pixel size, a style sheet, and its elements.
public struct SVGDocument: Sendable {
    public var width: Double, height: Double
    /// Accessible name (the `<title>` child), e.g. the chart's title.
    public var title: String
    public var elements: [SVGElement]

    public init(width: Double, height: Double, title: String, elements: [SVGElement] = []) {
        self.width = width
        self.height = height
        self.title = title
        self.elements = elements
    }

    /// The root element (with the shared style sheet, so the SVG looks the same alone and
    /// inlined in a page).
    public var root: SVGElement {
        SVGElement(
            "svg",
            [
                ("xmlns", "http://www.w3.org/2000/svg"),
                ("width", SVGNumber.format(width)), ("height", SVGNumber.format(height)),
                ("viewBox", "0 0 \(SVGNumber.format(width)) \(SVGNumber.format(height))"),
                ("role", "img"), ("class", "bnc-chart"),
            ],
            children: [SVGElement("title", text: title), SVGElement("style", text: ChartStyle.css),
                       .rect(x: 0, y: 0, width: width, height: height, cssClass: "background")] + elements)
    }

    /// A standalone SVG file's text (with the XML declaration).
    public func render() -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + root.render()
    }

    /// The SVG for inlining in HTML (no XML declaration).
    public func renderInline() -> String { root.render() }
}

/// Number formatting for SVG and HTML: fixed decimals, trailing zeros dropped, no exponent,
/// no locale, "-0" written as "0".
public enum SVGNumber {
    /// `v` rounded to `decimals` places (pixel coordinates use 2).
    public static func format(_ v: Double, decimals: Int = 2) -> String {
        guard v.isFinite else { return "0" }
        let d = max(0, min(decimals, 12))
        var scale = 1.0
        for _ in 0..<d { scale *= 10 }
        let r = (v * scale).rounded()
        guard abs(r) < 9e15 else { return "\(v)" }
        let n = Int64(r)
        if n == 0 { return "0" }
        var digits = String(n.magnitude)
        if d > 0 {
            if digits.count <= d { digits = String(repeating: "0", count: d - digits.count + 1) + digits }
            let cut = digits.index(digits.endIndex, offsetBy: -d)
            var fraction = String(digits[cut...])
            while fraction.hasSuffix("0") { fraction.removeLast() }
            digits = String(digits[..<cut]) + (fraction.isEmpty ? "" : "." + fraction)
        }
        return (n < 0 ? "-" : "") + digits
    }

    /// "x1,y1 x2,y2 …" for polyline/polygon points.
    public static func points(_ points: [(Double, Double)]) -> String {
        points.map { "\(format($0.0)),\(format($0.1))" }.joined(separator: " ")
    }
}

/// XML/HTML escaping.
public enum XML {
    public static func escape(_ s: String, attribute: Bool) -> String {
        guard s.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || (attribute && $0 == 0x22) }) else { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"" where attribute: out += "&quot;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
