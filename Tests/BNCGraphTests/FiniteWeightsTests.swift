import Testing

@testable import BNCGraph

@Suite struct FiniteWeightsTests {
    func graph(_ tensors: [Tensor]) -> Graph {
        Graph(name: "g", nodes: [], initializers: tensors, inputs: [], outputs: [])
    }

    @Test func findsEachTensorWithItsFirstBadElement() {
        let g = graph([
            Tensor(name: "ok", dims: [2], floats: [1, 2]),
            Tensor(name: "w", dims: [2, 3], floats: [0, 1, 2, 3, .nan, -.infinity]),
            Tensor(name: "shape", dims: [1], int64s: [-1]),
            Tensor(name: "b", dims: [3], floats: [.infinity, 0, 0]),
        ])
        let found = FiniteWeights.nonFiniteTensors(in: g)
        #expect(found.map(\.tensor) == ["w", "b"])
        #expect(found[0].firstIndex == 4 && found[0].count == 2 && found[0].firstPosition == [1, 1])
        #expect(found[0].summary == "element 4 (index [1, 1]) is NaN (2 non-finite values in this tensor)")
        #expect(found[1].summary == "element 0 is +Inf (1 non-finite value in this tensor)")
    }

    @Test func requireFiniteNamesTheTensor() {
        let bad = graph([Tensor(name: "w", dims: [1, 2], floats: [1, -.infinity])])
        #expect {
            try FiniteWeights.requireFinite(bad, "no good")
        } throws: { error in
            (error as? ModelError)?.description == "tensor 'w': element 1 (index [0, 1]) is -Inf (1 non-finite value in this tensor); no good"
        }
        #expect(throws: Never.self) {
            try FiniteWeights.requireFinite(graph([Tensor(name: "w", dims: [1], floats: [.greatestFiniteMagnitude])]), "")
        }
    }
}
