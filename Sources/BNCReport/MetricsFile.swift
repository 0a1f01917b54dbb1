import BNCJSON
import Foundation

/// Why a metrics file cannot be used: one line naming the file, the place in it (a JSON path
/// like `runs[1].snapshots[0].layers[2].histogram`, or a line) and the problem.
public struct ReportError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var place: String
    public var problem: String

    public init(file: String, place: String, problem: String) {
        self.file = file
        self.place = place
        self.problem = problem
    }

    public var description: String { [file, place, problem].filter { !$0.isEmpty }.joined(separator: ": ") }
}

/// Reading and writing metrics: the JSON `bnc train --compare` writes, and the JSON lines of
/// `bnc train --json` (one run, per-epoch figures only).
public enum MetricsFile {
    /// Larger files are refused before reading (a comparison of a long run is a few MB).
    public static let maximumBytes = 256 << 20

    /// Reads and checks a metrics file (either form).
    public static func read(path: String) throws(ReportError) -> ComparisonMetrics {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ReportError(file: path, place: "", problem: "no such file")
        }
        guard !isDirectory.boolValue else { throw ReportError(file: path, place: "", problem: "is a directory, not a metrics file") }
        let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
        guard size <= maximumBytes else {
            throw ReportError(file: path, place: "", problem: "is \(size) bytes; a metrics file is at most \(maximumBytes) bytes")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ReportError(file: path, place: "", problem: "cannot be opened for reading")
        }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.readToEnd() ?? Data()
        } catch {
            throw ReportError(file: path, place: "", problem: "cannot be read (\(error.localizedDescription))")
        }
        return try decode([UInt8](data), path: path)
    }

    /// Decodes and checks metrics from the bytes of a file called `path`.
    public static func decode(_ bytes: [UInt8], path: String) throws(ReportError) -> ComparisonMetrics {
        guard !bytes.isEmpty else { throw ReportError(file: path, place: "", problem: "is empty") }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ReportError(file: path, place: "byte \(firstInvalidUTF8(bytes))", problem: "is not UTF-8 text")
        }
        if isTrainJSONLines(text) { return try decodeTrainLines(text, path: path) }
        let metrics: ComparisonMetrics
        do {
            metrics = try JSONDecoder().decode(ComparisonMetrics.self, from: Data(bytes))
        } catch let error as DecodingError {
            let (place, problem) = describe(error, bytes: bytes)
            throw ReportError(file: path, place: place, problem: problem)
        } catch {
            throw ReportError(file: path, place: "", problem: "is not valid JSON (\(error))")
        }
        try validate(metrics, path: path)
        return metrics
    }

    /// The metrics as pretty-printed JSON with sorted keys (deterministic text).
    public static func encode(_ metrics: ComparisonMetrics) throws(ReportError) -> [UInt8] {
        do {
            return [UInt8](try JSONText.encode(metrics, pretty: true, nonFinite: .refuse).utf8) + [10]
        } catch {
            throw ReportError(file: "", place: "metrics", problem: "cannot be written as JSON (\(error))")
        }
    }

    // MARK: Checks

    /// Checks what JSON decoding cannot: format and version, counts that must agree, ranges.
    public static func validate(_ m: ComparisonMetrics, path: String) throws(ReportError) {
        func fail(_ place: String, _ problem: String) -> ReportError { ReportError(file: path, place: place, problem: problem) }
        guard m.format == ComparisonMetrics.formatName else {
            throw fail("format", "is '\(m.format)', expected '\(ComparisonMetrics.formatName)' (a file written by bnc train --compare)")
        }
        guard m.version == ComparisonMetrics.currentVersion else {
            throw fail("version", "is \(m.version); this bnc reads version \(ComparisonMetrics.currentVersion)")
        }
        guard (1...2).contains(m.runs.count) else { throw fail("runs", "has \(m.runs.count) runs; a report shows 1 or 2") }
        for (r, run) in m.runs.enumerated() {
            let at = "runs[\(r)]"
            var last = 0
            for (i, e) in run.epochs.enumerated() {
                guard e.epoch > last else {
                    throw fail("\(at).epochs[\(i)].epoch", "is \(e.epoch); epochs must count up from 1")
                }
                last = e.epoch
                if let a = e.validationAccuracy, !(0...1).contains(a) {
                    throw fail("\(at).epochs[\(i)].val_accuracy", "is \(a); an accuracy is a fraction in [0, 1]")
                }
            }
            for (i, a) in run.activations.enumerated() where a.shape.isEmpty || a.shape.contains(where: { $0 < 1 }) {
                throw fail("\(at).activations[\(i)].shape", "is \(a.shape); expected positive sizes (K) or (C, H, W)")
            }
            var lastStep = -1
            for (s, snapshot) in run.snapshots.enumerated() {
                let sp = "\(at).snapshots[\(s)]"
                guard snapshot.step > lastStep else { throw fail("\(sp).step", "is \(snapshot.step); snapshot steps must increase from 0") }
                lastStep = snapshot.step
                guard snapshot.layers.count == run.activations.count else {
                    throw fail("\(sp).layers", "has \(snapshot.layers.count) entries for \(run.activations.count) activations")
                }
                for (l, d) in snapshot.layers.enumerated() {
                    try check(d, at: "\(sp).layers[\(l)]", fail: fail)
                }
            }
            if let u = run.unitMeans {
                guard u.steps.count <= 1_000_000 else { throw fail("\(at).unit_means.steps", "has \(u.steps.count) entries") }
                for (i, step) in u.steps.enumerated() where step < 0 || (i > 0 && step <= u.steps[i - 1]) {
                    throw fail("\(at).unit_means.steps[\(i)]", "is \(step); steps must increase from 0")
                }
                for (l, layer) in u.layers.enumerated() {
                    let lp = "\(at).unit_means.layers[\(l)]"
                    guard run.activations.contains(where: { $0.name == layer.activation }) else {
                        throw fail("\(lp).activation", "'\(layer.activation)' is not one of the run's activations")
                    }
                    for (k, series) in layer.means.enumerated() where series.count != u.steps.count {
                        throw fail("\(lp).means[\(k)]", "has \(series.count) values for \(u.steps.count) steps")
                    }
                }
            }
        }
    }

    private static func check(
        _ d: Distribution, at place: String, fail: (String, String) -> ReportError
    ) throws(ReportError) {
        guard d.count >= 0, d.nonFinite >= 0 else { throw fail("\(place).count", "must not be negative") }
        for (name, v) in [("non_positive", d.nonPositive), ("saturated", d.saturated)] {
            if let v, !(0...1).contains(v) { throw fail("\(place).\(name)", "is \(v); a share is a fraction in [0, 1]") }
        }
        guard let h = d.histogram else {
            guard d.count == 0 else { throw fail("\(place).histogram", "is missing for \(d.count) values") }
            return
        }
        let hp = "\(place).histogram"
        guard (1...10_000).contains(h.counts.count) else {
            throw fail("\(hp).counts", "has \(h.counts.count) bins; expected 1 to 10000")
        }
        guard h.min.isFinite, h.max.isFinite, h.min <= h.max else {
            throw fail(hp, "range [\(h.min), \(h.max)] is not an interval")
        }
        if let i = h.counts.firstIndex(where: { $0 < 0 }) { throw fail("\(hp).counts[\(i)]", "is negative") }
        let total = h.counts.reduce(0) { $0 &+ $1 }
        guard total == d.count else { throw fail("\(hp).counts", "add up to \(total), but count is \(d.count)") }
    }

    // MARK: Decoding errors

    /// Place and problem for a JSON decoding error of `bytes`.
    static func describe(_ error: DecodingError, bytes: [UInt8]) -> (String, String) {
        switch error {
        case .typeMismatch(let type, let c):
            return (path(c.codingPath), "expected \(kind(type))")
        case .valueNotFound(let type, let c):
            return (path(c.codingPath), "is null, expected \(kind(type))")
        case .keyNotFound(let key, let c):
            return (path(c.codingPath + [key]), "is missing")
        case .dataCorrupted(let c):
            if c.codingPath.isEmpty { return syntaxError(bytes) }
            return (path(c.codingPath), c.debugDescription)
        @unknown default:
            return ("", "\(error)")
        }
    }

    /// `runs[0].step_loss[3]` from a coding path.
    static func path(_ keys: [any CodingKey]) -> String {
        var out = ""
        for key in keys {
            if let i = key.intValue {
                out += "[\(i)]"
            } else {
                out += (out.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return out.isEmpty ? "top level" : out
    }

    /// Where and why `bytes` are not JSON. JSONDecoder says only "not valid JSON" on Linux;
    /// JSONSerialization names a character offset ("Invalid value around character 8.") or
    /// the end of the file, which becomes "line L, column C".
    static func syntaxError(_ bytes: [UInt8]) -> (String, String) {
        var message = "syntax error"
        var offset = bytes.count
        do {
            _ = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            message = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? message
            if let r = message.range(of: " around character ") {
                offset = min(bytes.count, Int(message[r.upperBound...].prefix { $0.isNumber }) ?? bytes.count)
                message = String(message[..<r.lowerBound])
            }
        }
        var line = 1, column = 1
        for b in bytes[0..<offset] {
            if b == 10 {
                line += 1
                column = 1
            } else if b & 0xC0 != 0x80 {
                column += 1
            }
        }
        let problem = message.trimmingCharacters(in: CharacterSet(charactersIn: " ."))
        let text = problem.isEmpty ? "syntax error" : problem.prefix(1).lowercased() + problem.dropFirst()
        return ("line \(line), column \(column)", "is not valid JSON: " + text)
    }

    static func kind(_ type: Any.Type) -> String {
        let name = "\(type)"
        if name.hasPrefix("Array") { return "an array" }
        if name.hasPrefix("Dictionary") { return "an object" }
        switch name {
        case "Double", "Float": return "a number"
        case "Int", "UInt64", "Int64": return "a whole number"
        case "String": return "a string"
        case "Bool": return "true or false"
        default: return name
        }
    }

    private static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int {
        var lo = 0, hi = bytes.count
        // The longest valid prefix, by bisection (a valid prefix stays valid when shortened
        // only at character boundaries; close enough for an error message).
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if String(validating: bytes[0..<mid], as: UTF8.self) != nil { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    // MARK: bnc train --json lines

    /// Whether `text` looks like `bnc train --json` output: its first line is a JSON object
    /// with an "event" key.
    static func isTrainJSONLines(_ text: String) -> Bool {
        guard let first = text.split(separator: "\n", omittingEmptySubsequences: true).first else { return false }
        let line = first.trimmingCharacters(in: .whitespaces)
        return line.hasPrefix("{") && line.hasSuffix("}") && line.contains("\"event\"")
    }

    private struct TrainLine: Decodable {
        var event: String
        /// Which network (`bnc train --compare --json`); absent for a single run.
        var run: String?
        var epoch: Int?
        var epochs: Int?
        var train_loss: Double?
        var val_loss: Double?
        var val_accuracy: Double?
        var seconds: Double?
        var loss: Double?
        var accuracy: Double?
        var output: String?
    }

    /// The runs of `bnc train --json` lines (one run, or the two of `--compare --json`,
    /// told apart by their "run" field): per-epoch losses and accuracy, the test result.
    static func decodeTrainLines(_ text: String, path: String) throws(ReportError) -> ComparisonMetrics {
        var runs: [RunMetrics] = []
        var total: Int?
        var classification = false
        let decoder = JSONDecoder()
        func index(_ label: String?, at place: String) throws(ReportError) -> Int {
            let name = label ?? "bnc train"
            if let i = runs.firstIndex(where: { $0.label == name }) { return i }
            guard runs.count < 2 else {
                throw ReportError(file: path, place: "\(place).run", problem: "'\(name)' is a third run; a report shows 1 or 2")
            }
            runs.append(RunMetrics(label: name, batchNorm: name == "with BN" ? true : name == "without BN" ? false : nil))
            return runs.count - 1
        }
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            let place = "line \(i + 1)"
            let entry: TrainLine
            do {
                entry = try decoder.decode(TrainLine.self, from: Data(line.utf8))
            } catch let error as DecodingError {
                let (p, problem) = describe(error, bytes: Array(line.utf8))
                let at = p.hasPrefix("line 1, ") ? place + p.dropFirst(6) : p == "top level" ? place : "\(place): \(p)"
                throw ReportError(file: path, place: at,
                                  problem: problem + " (expected one JSON object per line, as bnc train --json prints)")
            } catch {
                throw ReportError(file: path, place: place, problem: "is not a JSON object")
            }
            switch entry.event {
            case "epoch":
                let r = try index(entry.run, at: place)
                let last = runs[r].epochs.last?.epoch ?? 0
                guard let n = entry.epoch, n > last else {
                    throw ReportError(file: path, place: "\(place).epoch", problem: "missing or not after the previous epoch (\(last))")
                }
                if let a = entry.val_accuracy {
                    guard (0...1).contains(a) else {
                        throw ReportError(file: path, place: "\(place).val_accuracy", problem: "is \(a); an accuracy is a fraction in [0, 1]")
                    }
                    classification = true
                }
                total = entry.epochs ?? total
                runs[r].epochs.append(EpochMetrics(epoch: n, trainLoss: entry.train_loss, validationLoss: entry.val_loss,
                                                   validationAccuracy: entry.val_accuracy, seconds: entry.seconds))
            case "test":
                let r = try index(entry.run, at: place)
                runs[r].test = TestMetrics(loss: entry.loss, accuracy: entry.accuracy)
                if entry.accuracy != nil { classification = true }
                runs[r].model = entry.output ?? runs[r].model
            default:
                continue
            }
        }
        guard runs.contains(where: { !$0.epochs.isEmpty }) else {
            throw ReportError(file: path, place: "", problem: "has no \"epoch\" lines (expected bnc train --json output)")
        }
        var settings = RunSettings(task: classification ? .classification : .regression)
        settings.epochs = total
        settings.command = "bnc train --json (lines from \(path))"
        if runs.count == 1, let model = runs[0].model { runs[0].label = "bnc train → \(model)" }
        return ComparisonMetrics(settings: settings, runs: runs)
    }
}
