#!/usr/bin/env python3
"""Checks model files with the outside references: onnx's checker and onnxruntime.

For each FILE: onnx.checker.check_model(full_check=True) (includes strict shape inference), then an
onnxruntime session with every graph optimization, run once on zeros of the input shapes (symbolic
batch dims → 2). Prints one line per file, "FILE: OK ..." or "FILE: FAILED: reason"; exits 1 if any
file failed.
"""
from __future__ import annotations

import argparse
import sys

import onnx

from bncref import ToolError, load_model, one_line, session, zeros_feeds


def check(path: str) -> str:
    """A short summary of a good file; raises ToolError with the reason otherwise."""
    model = load_model(path)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as error:
        raise ToolError(f"onnx.checker: {one_line(error)}") from error
    try:
        sess = session(path, optimize=True)
        inputs = zeros_feeds(sess, batch=2)
        outputs = sess.run(None, inputs)
    except ToolError:
        raise
    except Exception as error:
        raise ToolError(f"onnxruntime: {one_line(error)}") from error
    shapes = ", ".join(f"{o.name} {list(v.shape)}" for o, v in zip(sess.get_outputs(), outputs))
    return (f"OK (IR {model.ir_version}, opset {model.opset_import[0].version}, "
            f"{len(model.graph.node)} nodes; onnxruntime → {shapes})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", metavar="FILE")
    args = parser.parse_args()
    failed = 0
    for path in args.files:
        try:
            print(f"{path}: {check(path)}")
        except ToolError as error:
            failed += 1
            print(f"{path}: FAILED: {error}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
