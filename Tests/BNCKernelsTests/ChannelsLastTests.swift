import Testing
@testable import BNCKernels

/// The channels-last kernels: `MaxPooling.forwardChannelsLast` against `MaxPooling.forward` on
/// the same values in planes (the same bits: ties, ±0 and NaN included, since both visit the
/// taps in one order with one comparison), over 1-, 2- and 3-D windows with strides, pads,
/// dilations and ceil mode; and the moves between the orders.
struct ChannelsLastTests {
    struct Case: Sendable, CustomStringConvertible {
        let input: [Int], kernel: [Int], strides: [Int], dilations: [Int], pads: [Int], ceil: Bool, channels: Int
        var description: String { "in \(input) k \(kernel) s \(strides) d \(dilations) p \(pads)\(ceil ? " ceil" : "") C\(channels)" }
    }
    static let cases = [
        // ResNet's stem pool, a plain 2×2, dilated with asymmetric pads, ceil mode, a pad-only
        // corner window (pads ≥ kernel reach), 1-D and 3-D.
        Case(input: [12, 12], kernel: [3, 3], strides: [2, 2], dilations: [1, 1], pads: [1, 1, 1, 1], ceil: false, channels: 16),
        Case(input: [8, 6], kernel: [2, 2], strides: [2, 2], dilations: [1, 1], pads: [0, 0, 0, 0], ceil: false, channels: 5),
        Case(input: [9, 11], kernel: [3, 2], strides: [1, 2], dilations: [2, 1], pads: [2, 0, 1, 1], ceil: false, channels: 7),
        Case(input: [7, 7], kernel: [3, 3], strides: [2, 2], dilations: [1, 1], pads: [0, 0, 0, 0], ceil: true, channels: 3),
        Case(input: [5, 5], kernel: [2, 2], strides: [3, 3], dilations: [1, 1], pads: [1, 1, 1, 1], ceil: true, channels: 4),
        Case(input: [17], kernel: [4], strides: [3], dilations: [1], pads: [1, 2], ceil: false, channels: 9),
        Case(input: [4, 5, 6], kernel: [2, 3, 2], strides: [2, 1, 2], dilations: [1, 1, 1], pads: [0, 1, 0, 1, 1, 0], ceil: false, channels: 6),
    ]

    @Test(arguments: cases)
    func maxPoolMatchesPlanes(_ t: Case) throws {
        let r = t.input.count
        let window = try Window(input: t.input, kernel: t.kernel, strides: t.strides, dilations: t.dilations,
                                padsBegin: Array(t.pads[..<r]), padsEnd: Array(t.pads[r...]), ceilMode: t.ceil)
        let g = try PoolGeometry(window: window, channels: t.channels)
        let n = 3, c = t.channels, s = g.inSpatial, os = g.outSpatial
        var rng = TestRandom(UInt64(c * 31 + s))
        var planes = (0..<(n * c * s)).map { _ in Float(Int(rng.next() % 7) - 3) / 2 }
        for i in stride(from: 5, to: planes.count, by: 29) { planes[i] = .nan }
        for i in stride(from: 3, to: planes.count, by: 11) where planes[i] == 0 { planes[i] = -0.0 }
        var expected = [Float](repeating: 0, count: n * c * os)
        MaxPooling.forward(g, batch: n, input: planes, output: &expected, argmax: nil, parallel: false)
        var last = [Float](repeating: 0, count: planes.count)
        for i in 0..<n { ChannelsLast.fromPlanes(planes.withUnsafeBufferPointer { $0.baseAddress! + i * c * s }, channels: c, spatial: s,
                                                 into: last.withUnsafeMutableBufferPointer { $0.baseAddress! + i * c * s }) }
        for parallel in [false, true] {
            var got = [Float](repeating: 7, count: n * c * os)
            MaxPooling.forwardChannelsLast(g, batch: n, input: last, output: &got, parallel: parallel)
            var mismatches = 0
            for i in 0..<n { for ch in 0..<c { for p in 0..<os {
                let a = got[(i * os + p) * c + ch], b = expected[(i * c + ch) * os + p]
                if a.bitPattern != b.bitPattern && !(a.isNaN && b.isNaN) { mismatches += 1 }
            } } }
            #expect(mismatches == 0, "\(t) parallel \(parallel): \(mismatches) of \(expected.count) outputs differ")
        }
    }

    @Test func ordersRoundTripAndHalvesPlace() {
        let c = 6, s = 10
        let planes = (0..<(c * s)).map(Float.init)
        var last = [Float](repeating: 0, count: c * s), back = [Float](repeating: 0, count: c * s)
        ChannelsLast.fromPlanes(planes, channels: c, spatial: s, into: &last)
        #expect(last[3 * c + 2] == planes[2 * s + 3])
        ChannelsLast.toPlanes(last, channels: c, spatial: s, into: &back)
        #expect(back == planes)
        // Channels 0..<4 and 4..<6 made apart, placed into one channels-last image.
        var lo = [Float](repeating: 0, count: 4 * s), hi = [Float](repeating: 0, count: 2 * s)
        for p in 0..<s { for k in 0..<4 { lo[p * 4 + k] = last[p * c + k] }; for k in 0..<2 { hi[p * 2 + k] = last[p * c + 4 + k] } }
        var placed = [Float](repeating: -1, count: c * s)
        ChannelsLast.place(lo, part: 4, spatial: s, into: &placed, channels: c, first: 0)
        ChannelsLast.place(hi, part: 2, spatial: s, into: &placed, channels: c, first: 4)
        #expect(placed == last)
    }

    /// Channel blocks (nChw8c, nChw16c): element (c, s) of an image at
    /// ((c / lanes)·S + s)·lanes + c % lanes, both ways; channels-last and planes through the
    /// same entry points; and a blocked image seen as channels-last images of `lanes` channels.
    @Test(arguments: [8, 16])
    func channelBlocksRoundTrip(lanes: Int) {
        let c = 2 * lanes, s = 7
        let planes = (0..<(c * s)).map(Float.init)
        let order = ActivationOrder.blocked(lanes)
        var blocked = [Float](repeating: 0, count: c * s), back = [Float](repeating: -1, count: c * s)
        order.fromPlanes(planes, channels: c, spatial: s, into: &blocked)
        var misplaced = 0
        for ch in 0..<c { for p in 0..<s where blocked[((ch / lanes) * s + p) * lanes + ch % lanes] != planes[ch * s + p] { misplaced += 1 } }
        #expect(misplaced == 0)
        order.toPlanes(blocked, channels: c, spatial: s, into: &back)
        #expect(back == planes)
        #expect(order.holds(channels: c) && !order.holds(channels: c + 4))
        #expect(order.asChannelsLast(images: 3, channels: c)! == (6, lanes))
        var last = [Float](repeating: 0, count: c * s)
        ActivationOrder.channelsLast.fromPlanes(planes, channels: c, spatial: s, into: &last)
        #expect(last[3 * c + 5] == planes[5 * s + 3])
        ActivationOrder.planes.toPlanes(planes, channels: c, spatial: s, into: &back)
        #expect(back == planes)
    }
}
