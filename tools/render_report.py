#!/usr/bin/env python3
"""Renders a bnc report (HTML) or one of its SVG figures in headless Chromium to a PNG and
checks that it rendered: the PNG decodes, has the window's width, is not blank, has drawn
detail, shows the two comparison colours, and the page ends above the bottom of the window
(nothing cut off). The image is then cropped to its content.

  tools/render_report.py REPORT.html [OUT.png] [--width 1100] [--chromium PATH]

Standard library only (PNG decoding with zlib). Exit status 1 when a check fails, 2 for
bad arguments or a missing browser. tools/render-report installs Chromium first.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

WITH_BN = (0x00, 0x72, 0xB2)
WITHOUT_BN = (0xD5, 0x5E, 0x00)


def decode_png(data: bytes) -> tuple[int, int, list[bytearray]]:
    """(width, height, rows of RGB bytes) of an 8-bit RGB/RGBA/grey, non-interlaced PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, header = 8, bytearray(), None
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length:
            raise ValueError(f"byte {pos}: chunk {kind!r} is truncated")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None:
        raise ValueError("no IHDR chunk")
    width, height, depth, colour, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace != 0:
        raise ValueError(f"unsupported PNG (bit depth {depth}, colour type {colour}, interlace {interlace})")
    raw = zlib.decompress(bytes(idat))
    stride = width * channels
    if len(raw) != height * (stride + 1):
        raise ValueError(f"image data has {len(raw)} bytes, expected {height * (stride + 1)}")
    rows: list[bytearray] = []
    previous = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = previous[i]
            c = previous[i - channels] if i >= channels else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            elif f != 0:
                raise ValueError(f"row {y}: unknown filter {f}")
        previous = line
        if channels == 3:
            rows.append(line)
        else:
            rgb = bytearray()
            for x in range(width):
                px = line[x * channels : (x + 1) * channels]
                rgb += bytes(px[:3]) if channels == 4 else bytes([px[0]] * 3)
            rows.append(rgb)
    return width, height, rows


def encode_png(width: int, rows: list[bytearray]) -> bytes:
    """An 8-bit RGB PNG of `rows` (filter 0)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + bytes(r) for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, len(rows), 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def near(px: tuple[int, int, int], colour: tuple[int, int, int], tolerance: int = 24) -> bool:
    return all(abs(p - c) <= tolerance for p, c in zip(px, colour))


def find_chromium(explicit: str | None) -> str:
    for name in [explicit] if explicit else ["chromium", "chromium-browser", "google-chrome"]:
        path = shutil.which(name) if name else None
        if path:
            return path
    sys.exit("render_report: Chromium not found; run tools/render-report (it installs Debian's chromium)")


def estimated_height(page: Path, width: int) -> int:
    """A window tall enough for the whole page: the SVG heights (scaled to the column) plus text."""
    text = page.read_text(encoding="utf-8")
    if page.suffix == ".svg":
        m = re.search(r'<svg[^>]*\bheight="([\d.]+)"', text)
        return int(float(m.group(1))) + 40 if m else 1200
    column = min(width - 40, 1000)
    total = 300
    for w, h in re.findall(r'<svg[^>]*\bwidth="([\d.]+)" height="([\d.]+)"', text):
        total += int(float(h) * min(1.0, column / float(w))) + 140
    total += 32 * text.count("<tr>")
    return total + 400


def render(page: Path, out: Path, width: int, chromium: str) -> int:
    height = estimated_height(page, width)
    with tempfile.TemporaryDirectory() as profile:
        command = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                   "--force-device-scale-factor=1", "--disable-dev-shm-usage", "--no-first-run",
                   f"--user-data-dir={profile}", f"--window-size={width},{height}", f"--screenshot={out}",
                   "--virtual-time-budget=3000", page.resolve().as_uri()]
        result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    if result.returncode != 0 or not out.exists():
        sys.stderr.write(result.stderr[-2000:])
        sys.exit(f"render_report: chromium failed (exit {result.returncode}) on {page}")
    return height


def check(out: Path, width: int, height: int, compare: bool) -> list[str]:
    """Problems with the screenshot (empty when it looks rendered); crops it to its content."""
    problems: list[str] = []
    w, h, rows = decode_png(out.read_bytes())
    if (w, h) != (width, height):
        problems.append(f"PNG is {w}×{h}, expected the window size {width}×{height}")
    white = bytes([255, 255, 255])
    ink, colours, seen_bn, seen_plain = 0, set(), False, False
    last_ink_row = -1
    for y, row in enumerate(rows):
        row_ink = 0
        for x in range(0, w * 3, 3):
            px = (row[x], row[x + 1], row[x + 2])
            if bytes(px) != white:
                row_ink += 1
                if len(colours) < 5000:
                    colours.add(px)
                seen_bn = seen_bn or near(px, WITH_BN)
                seen_plain = seen_plain or near(px, WITHOUT_BN)
        if row_ink:
            last_ink_row = y
        ink += row_ink
    share = ink / max(1, w * h)
    if share < 0.01:
        problems.append(f"only {share:.2%} of the pixels are not white: blank page")
    if len(colours) < 50:
        problems.append(f"only {len(colours)} colours: no charts drawn")
    if compare and not (seen_bn and seen_plain):
        problems.append("the with-BN blue or the without-BN vermillion does not appear")
    if last_ink_row >= h - 10:
        problems.append(f"content reaches the bottom of the {h}-pixel window: the page may be cut off")
    bottom = min(h, last_ink_row + 21)
    out.write_bytes(encode_png(w, rows[:bottom]))
    print(f"render_report: {out}: {w}×{bottom} after cropping, {share:.1%} ink, {len(colours)}{'+' if len(colours) >= 5000 else ''} colours"
          + (", both run colours present" if compare and seen_bn and seen_plain else ""))
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("page", type=Path, help="report .html (or a figure .svg)")
    parser.add_argument("png", type=Path, nargs="?", help="PNG to write (default: beside the page)")
    parser.add_argument("--width", type=int, default=1100, help="window width in pixels (default 1100)")
    parser.add_argument("--chromium", help="browser executable (default: chromium on PATH)")
    args = parser.parse_args()
    if not args.page.is_file():
        print(f"render_report: {args.page}: no such file", file=sys.stderr)
        return 2
    out = args.png or args.page.with_suffix(".png")
    if out.exists():
        out.unlink()
    height = render(args.page, out, args.width, find_chromium(args.chromium))
    text = args.page.read_text(encoding="utf-8")
    compare = "with BN" in text and "without BN" in text
    problems = check(out, args.width, height, compare)
    for p in problems:
        print(f"render_report: {args.page}: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
