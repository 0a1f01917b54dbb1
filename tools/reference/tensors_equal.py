#!/usr/bin/env python3
"""Checks that two model files hold the same initializers: names, data types, dims and values
bitwise, whatever the storage (float_data or raw_data, dims packed or not).

Used for "bnc loads an onnx.helper file and re-saves it with the same tensors". Prints one line
("equal: N initializers") or one line per difference; exits 1 on any difference, 2 on a bad file.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import onnx
from onnx import numpy_helper

from bncref import ToolError, load_model, one_line

MAX_LISTED = 20


def tensors(path: str) -> dict[str, onnx.TensorProto]:
    model = load_model(path)
    out: dict[str, onnx.TensorProto] = {}
    for t in model.graph.initializer:
        if t.name in out:
            raise ToolError(f"duplicate initializer '{t.name}'")
        out[t.name] = t
    return out


def differences(a: dict[str, onnx.TensorProto], b: dict[str, onnx.TensorProto]) -> list[str]:
    diffs = [f"'{n}' only in A" for n in sorted(a.keys() - b.keys())]
    diffs += [f"'{n}' only in B" for n in sorted(b.keys() - a.keys())]
    for name in sorted(a.keys() & b.keys()):
        ta, tb = a[name], b[name]
        if ta.data_type != tb.data_type:
            diffs.append(f"'{name}': data_type {ta.data_type} vs {tb.data_type}")
            continue
        if list(ta.dims) != list(tb.dims):
            diffs.append(f"'{name}': dims {list(ta.dims)} vs {list(tb.dims)}")
            continue
        try:
            va, vb = numpy_helper.to_array(ta), numpy_helper.to_array(tb)
        except Exception as error:
            diffs.append(f"'{name}': cannot decode: {one_line(error)}")
            continue
        if va.tobytes() != vb.tobytes():  # bitwise: NaN payloads and -0.0 count
            bits_a = np.frombuffer(va.tobytes(), np.uint8)
            bits_b = np.frombuffer(vb.tobytes(), np.uint8)
            first = int(np.argmax(bits_a != bits_b)) // max(va.itemsize, 1)
            diffs.append(f"'{name}': values differ, first at flat index {first}: "
                         f"{va.flatten()[first]!r} vs {vb.flatten()[first]!r}")
    return diffs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("a", metavar="A.pb")
    parser.add_argument("b", metavar="B.pb")
    args = parser.parse_args()
    try:
        a = tensors(args.a)
    except ToolError as error:
        print(f"tensors_equal: {args.a}: {error}", file=sys.stderr)
        return 2
    try:
        b = tensors(args.b)
    except ToolError as error:
        print(f"tensors_equal: {args.b}: {error}", file=sys.stderr)
        return 2
    diffs = differences(a, b)
    if not diffs:
        print(f"tensors_equal: equal: {len(a)} initializers ({args.a} = {args.b})")
        return 0
    for line in diffs[:MAX_LISTED]:
        print(f"tensors_equal: {line}")
    if len(diffs) > MAX_LISTED:
        print(f"tensors_equal: ... {len(diffs) - MAX_LISTED} more")
    print(f"tensors_equal: {len(diffs)} differences between {args.a} (A) and {args.b} (B)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
