import CDNNL
import Testing
@testable import BNCKernels

/// `BlockedPooling.maxPool2x2` on each layout oneDNN's convolutions write (nChw8c, nChw16c with
/// a padded last block, nhwc with 5, 12 and 40 channels: the scalar, 8-wide and 16-wide
/// paths) against `MaxPooling.forward` on the same values in NCHW: the same bits, NaN, ±0 and
/// ties included (both select with the same comparisons in the same order); and the layouts
/// read off oneDNN's own descriptors.
struct BlockedPoolingTests {
    struct Case: Sendable, CustomStringConvertible {
        let tag: String, channels: Int, height: Int, width: Int
        var description: String { "\(tag) C\(channels) \(height)×\(width)" }
    }
    static let cases = [
        Case(tag: "nChw8c", channels: 12, height: 9, width: 11), Case(tag: "nChw16c", channels: 12, height: 8, width: 6),
        Case(tag: "nChw8c", channels: 32, height: 28, width: 28), Case(tag: "nhwc", channels: 5, height: 7, width: 7),
        Case(tag: "nhwc", channels: 12, height: 9, width: 11), Case(tag: "nhwc", channels: 40, height: 6, width: 10),
    ]

    /// The layout of (n, C, H, W) in `tag`, as `BlockedPooling.Layout` describes it.
    static func layout(_ tag: String, n: Int, c: Int, h: Int, w: Int) -> BlockedPooling.Layout {
        switch tag {
        case "nhwc": return .init(lanes: c, blocks: 1, image: h * w * c, block: 0, row: w * c)
        default:
            let lanes = tag == "nChw8c" ? 8 : 16, blocks = (c + lanes - 1) / lanes
            return .init(lanes: lanes, blocks: blocks, image: blocks * h * w * lanes, block: h * w * lanes, row: w * lanes)
        }
    }

    static func offset(_ l: BlockedPooling.Layout, _ n: Int, _ c: Int, _ y: Int, _ x: Int) -> Int {
        n * l.image + (c / l.lanes) * l.block + y * l.row + x * l.lanes + c % l.lanes
    }

    @Test(arguments: cases)
    func matchesPlainPool(_ t: Case) throws {
        let n = 3, (c, h, w) = (t.channels, t.height, t.width)
        let pool = try PoolGeometry(window: Window(input: [h, w], kernel: [2, 2], strides: [2, 2]), channels: c)
        let (oh, ow) = (pool.outHeight, pool.outWidth)
        var rng = TestRandom(UInt64(c * 100 + h))
        // Values from a small set (ties), with ±0 and a few NaN.
        var plain = (0..<(n * c * h * w)).map { _ in Float(Int(rng.next() % 7) - 3) / 2 }
        for i in stride(from: 5, to: plain.count, by: 37) { plain[i] = .nan }
        for i in stride(from: 3, to: plain.count, by: 11) { plain[i] = plain[i] == 0 ? -0.0 : plain[i] }
        let from = Self.layout(t.tag, n: n, c: c, h: h, w: w), to = Self.layout(t.tag, n: n, c: c, h: oh, w: ow)
        var blocked = [Float](repeating: 0, count: n * from.image)
        for i in 0..<n { for ch in 0..<c { for y in 0..<h { for x in 0..<w {
            blocked[Self.offset(from, i, ch, y, x)] = plain[((i * c + ch) * h + y) * w + x]
        } } } }
        var pooledBlocked = [Float](repeating: 0, count: n * to.image)
        BlockedPooling.maxPool2x2(images: n, outHeight: oh, outWidth: ow, from: from, blocked, to: to, &pooledBlocked)
        var expected = [Float](repeating: 0, count: n * c * oh * ow)
        MaxPooling.forward(pool, batch: n, input: plain, output: &expected, argmax: nil, parallel: false)
        var mismatches = 0
        for i in 0..<n { for ch in 0..<c { for y in 0..<oh { for x in 0..<ow {
            let got = pooledBlocked[Self.offset(to, i, ch, y, x)], want = expected[((i * c + ch) * oh + y) * ow + x]
            if got.bitPattern != want.bitPattern && !(got.isNaN && want.isNaN) { mismatches += 1 }
        } } } }
        #expect(mismatches == 0, "\(mismatches) of \(expected.count) outputs differ")
    }

    /// The layouts as oneDNN describes them: nChw8c, nChw16c and nhwc are read (with the
    /// strides `layout` above assumes); NCHW and a two-level block are not.
    @Test func layoutsFromOneDNNDescriptors() throws {
        let dims = [3, 12, 9, 11]
        for (tag, name) in [(dnnl_aBcd8b, "nChw8c"), (dnnl_aBcd16b, "nChw16c"), (dnnl_nhwc, "nhwc")] {
            let d = try #require(DNNLLayout(dims, tag))
            #expect(BlockedPooling.Layout(d.desc) == Self.layout(name, n: 3, c: 12, h: 9, w: 11), "\(name)")
        }
        #expect(BlockedPooling.Layout(try #require(DNNLLayout(dims, dnnl_nchw)).desc) == nil)
        #expect(BlockedPooling.Layout(try #require(DNNLLayout(dims, dnnl_ABcd8a8b)).desc) == nil)
    }
}
