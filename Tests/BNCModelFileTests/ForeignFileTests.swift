import BNCGraph
import Foundation
import Testing

@testable import BNCModelFile

/// Files written by the `onnx` Python package (tools/fixtures/make_onnx_fixtures.py --swift-fixtures):
/// the same model with tensors in float_data, in raw_data, and with packed dims.
@Suite struct ForeignFileTests {
    struct Expected: Decodable {
        struct Tensor: Decodable {
            var dims: [Int]
            var data_type: Int
            var values: [Double]
        }
        var files: [String]
        var ir_version: Int64
        var opset: Int64
        var initializers: [String: Tensor]
    }

    static func fixture(_ name: String) throws -> URL {
        try #require(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures"))
    }

    static func expected() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: fixture("rt_mlp_expected.json")))
    }

    @Test(arguments: ["rt_mlp_float_data.onnx", "rt_mlp_raw_data.onnx", "rt_mlp_packed_dims.onnx"])
    func loadsWithTheExpectedTensors(file: String) throws {
        let expected = try Self.expected()
        let model = try ModelFile.load(path: Self.fixture(file).path)
        #expect(model.irVersion == expected.ir_version)
        #expect(model.defaultOpset == expected.opset)
        #expect(model.graph.initializers.count == expected.initializers.count)
        for t in model.graph.initializers {
            let e = try #require(expected.initializers[t.name], "unexpected tensor \(t.name)")
            #expect(t.dims == e.dims)
            #expect(Int(t.dataType) == e.data_type)
            // JSON holds the float32 values printed as doubles: converting back is exact.
            #expect(t.floats == e.values.map { Float($0) }, "tensor \(t.name)")
        }
    }

    @Test func allEncodingsGiveTheSameTensorsAndResaveKeepsThem() throws {
        let models = try ["rt_mlp_float_data.onnx", "rt_mlp_raw_data.onnx", "rt_mlp_packed_dims.onnx"].map {
            try ModelFile.load(path: Self.fixture($0).path)
        }
        let reference = models[0].graph.initializers
        for m in models.dropFirst() {
            #expect(m.graph.initializers.map(\.storage) == reference.map(\.storage))
            #expect(m.graph.nodes == models[0].graph.nodes)
        }
        for m in models {
            let again = try ModelFile.decode(ModelFile.encode(m))
            #expect(again.graph.initializers.map(\.storage) == reference.map(\.storage))
            #expect(again.graph.nodes == m.graph.nodes)
            #expect(again.graph.inputs == m.graph.inputs)
            #expect(again.producerName == m.producerName)
        }
    }
}
