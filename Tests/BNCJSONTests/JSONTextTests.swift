import Foundation
import Testing

@testable import BNCJSON

/// The one JSON writer: exact text (other tests and tools compare bnc's JSON byte for byte),
/// and text that Foundation's parser reads back to the same values.
@Suite struct JSONTextTests {
    @Test func stringEscapesWhatJSONRequiresAndNothingElse() {
        #expect(JSONText.string("a\"b\\c\n\u{1}") == "\"a\\\"b\\\\c\\n\\u0001\"")
        #expect(JSONText.string("\r\t\u{1F}") == "\"\\r\\t\\u001f\"")
        #expect(JSONText.string("out/model.pb") == "\"out/model.pb\"")
        #expect(JSONText.string("größe µ") == "\"größe µ\"")
        #expect(JSONText.string("") == "\"\"")
    }

    @Test func everyControlCharacterReadsBack() throws {
        let all = String(String.UnicodeScalarView((0..<0x20).compactMap(Unicode.Scalar.init))) + "\"\\/é\u{7F}"
        let parsed = try JSONSerialization.jsonObject(
            with: Data(JSONText.string(all).utf8), options: [.fragmentsAllowed])
        #expect(parsed as? String == all)
    }

    @Test func numbersAreShortestRoundTripAndNonFiniteIsNull() {
        #expect(JSONText.number(Float(0.1)) == "0.1")
        #expect(JSONText.number(Float(1e-5)) == "1e-05")
        #expect(JSONText.number(Double(0.1)) == "0.1")
        #expect(JSONText.number(Double(3)) == "3.0")
        #expect(JSONText.number(Float.nan) == "null")
        #expect(JSONText.number(-Double.infinity) == "null")
        #expect(Float(JSONText.number(Float(0.1) + .ulpOfOne)) == Float(0.1) + .ulpOfOne)
    }

    @Test func objectKeepsTheGivenOrder() {
        let text = JSONText.object([("event", "\"epoch\""), ("b", "1"), ("a", JSONText.number(0.5))])
        #expect(text == "{\"event\":\"epoch\",\"b\":1,\"a\":0.5}")
        #expect(JSONText.object([]) == "{}")
    }

    struct Report: Encodable {
        var maxAbsDiff: Double
        var output: String
        var argmaxAgreement: Double
    }

    @Test func encodeSortsKeysAndLeavesSlashes() throws {
        let r = Report(maxAbsDiff: 1.5e-7, output: "out/m.pb", argmaxAgreement: 1)
        #expect(try JSONText.encode(r, snakeCaseKeys: true)
            == "{\"argmax_agreement\":1,\"max_abs_diff\":1.5e-07,\"output\":\"out/m.pb\"}")
        #expect(try JSONText.encode(r) == "{\"argmaxAgreement\":1,\"maxAbsDiff\":1.5e-07,\"output\":\"out/m.pb\"}")
        #expect(try JSONText.encode(r, pretty: true).contains("\n  \"argmaxAgreement\" : 1,\n"))
    }

    @Test func encodeNonFiniteAsStringsOrRefused() throws {
        let r = Report(maxAbsDiff: .nan, output: "", argmaxAgreement: -.infinity)
        #expect(try JSONText.encode(r) == "{\"argmaxAgreement\":\"-inf\",\"maxAbsDiff\":\"nan\",\"output\":\"\"}")
        #expect(throws: EncodingError.self) { try JSONText.encode(r, nonFinite: .refuse) }
    }
}
