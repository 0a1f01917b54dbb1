#!/usr/bin/env python3
"""Compares `bnc infer --json` outputs with onnxruntime on the same IDX images.

  ort_compare.py --model M.pb --images IMAGES.idx[.gz] --bnc-json OUT.json [--tolerance 1e-5]

Images (uint8 IDX, N×H×W, or one H×W image; plain or gzip) are scaled as the model's metadata
`bnc.input.scaling` says (default "x/255"), shaped to the model input ((N, H·W) or (N, 1, H, W)),
and run through onnxruntime with graph optimizations off (the most literal reference).
OUT.json is what `bnc infer M.pb IMAGES --json` printed: one object with at least
"images": N, "predictions": [class per image], "outputs": [[float, ...] per image].

Prints max abs diff, max rel diff (elementwise, over elements with |ref| ≥ 1e-3·max|ref|) and
argmax agreement. Exit status: 0 if max abs diff ≤ tolerance, 1 if not (or the counts/shapes
disagree, or any output is NaN), 2 on unreadable input.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

from bncref import ToolError, load_model, metadata, one_line, read_idx, scaling, session

SCALING_KEY = "bnc.input.scaling"
DEFAULT_SCALING = "x/255"


class Mismatch(Exception):
    """bnc and onnxruntime disagree on something other than values (counts, shapes)."""


def model_inputs(images: np.ndarray, shape: list[Any], name: str) -> np.ndarray:
    """(N, H, W) float images reshaped to the model input: rank 2 (N, H·W) or rank 4 (N, 1, H, W)."""
    n, h, w = images.shape
    if len(shape) == 2:
        want = [h * w]
    elif len(shape) == 4:
        want = [1, h, w]
    else:
        raise ToolError(f"model input '{name}' has rank {len(shape)}; expected 2 (N, H·W) or "
                        f"4 (N, 1, H, W)")
    for got, exp in zip(shape[1:], want):
        if isinstance(got, int) and got != exp:
            raise ToolError(f"model input '{name}' has shape {shape}; images are {h}×{w}, "
                            f"which needs {['N', *want]}")
    return images.reshape([n, *want])


def run_ort(model_path: str, images_path: str, batch_size: int) -> tuple[np.ndarray, str]:
    """onnxruntime's first output for every image, shape (N, K); and the scaling used."""
    model = load_model(model_path)
    expression = metadata(model).get(SCALING_KEY, DEFAULT_SCALING)
    scale = scaling(expression)
    raw = read_idx(images_path)
    if raw.dtype != np.uint8:
        raise ToolError(f"{images_path}: IDX data type {raw.dtype}, expected uint8 pixels")
    if raw.ndim == 2:
        raw = raw[None]
    if raw.ndim != 3:
        raise ToolError(f"{images_path}: IDX rank {raw.ndim}; expected images N×H×W or one H×W")
    try:
        sess = session(model_path, optimize=False)
    except Exception as error:
        raise ToolError(f"{model_path}: onnxruntime: {one_line(error)}") from error
    inputs = sess.get_inputs()
    if len(inputs) != 1:
        raise ToolError(f"{model_path}: model has {len(inputs)} inputs {[i.name for i in inputs]}; "
                        f"expected one image input")
    arg = inputs[0]
    fixed = arg.shape[0] if isinstance(arg.shape[0], int) and arg.shape[0] > 0 else None
    step = fixed or batch_size
    outputs = []
    for start in range(0, len(raw), step):
        chunk = raw[start:start + step]
        if fixed and len(chunk) != fixed:
            raise ToolError(f"{model_path}: fixed batch size {fixed} does not divide {len(raw)} images")
        try:
            x = model_inputs(scale(chunk), arg.shape, arg.name)
        except ToolError as error:
            raise ToolError(f"{model_path}: {error}") from error
        try:
            outputs.append(sess.run(None, {arg.name: x})[0])
        except Exception as error:
            raise ToolError(f"{model_path}: onnxruntime: {one_line(error)}") from error
    out = np.concatenate(outputs).astype(np.float64)
    return out.reshape(len(raw), -1), expression


def read_bnc(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
    except (OSError, ValueError) as error:
        raise ToolError(f"{path}: {one_line(error)}") from error
    if not isinstance(report, dict):
        raise ToolError(f"{path}: expected one JSON object, found {type(report).__name__}")
    for key in ("images", "predictions", "outputs"):
        if key not in report:
            raise ToolError(f"{path}: no \"{key}\" key (keys: {', '.join(report)})")
    return report


def compare(ref: np.ndarray, report: dict[str, Any]) -> dict[str, Any]:
    """Statistics of bnc's outputs against onnxruntime's `ref` (N, K)."""
    n, k = ref.shape
    if report["images"] != n:
        raise Mismatch(f"bnc reports {report['images']} images, the IDX file has {n}")
    try:
        got = np.asarray(report["outputs"], dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise Mismatch(f"bnc outputs are not a numeric N×K array: {one_line(error)}") from error
    if got.shape != (n, k):
        raise Mismatch(f"bnc outputs have shape {list(got.shape)}, onnxruntime's {[n, k]}")
    predictions = np.asarray(report["predictions"])
    if predictions.shape != (n,):
        raise Mismatch(f"bnc predictions have shape {list(predictions.shape)}, expected [{n}]")
    diff = np.abs(got - ref)
    diff[np.isnan(diff)] = np.inf  # a NaN on either side is never within tolerance
    scale = float(np.nanmax(np.abs(ref))) if ref.size else 0.0
    significant = np.abs(ref) >= 1e-3 * scale
    rel = diff[significant] / np.abs(ref[significant]) if significant.any() else np.zeros(1)
    ref_class = ref.argmax(axis=1)
    return {
        "images": n, "width": k,
        "max_abs": float(diff.max()) if diff.size else 0.0,
        "max_rel": float(rel.max()) if rel.size else 0.0,
        "argmax_agree": int((ref_class == got.argmax(axis=1)).sum()),
        "predictions_agree": int((ref_class == predictions).sum()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, metavar="M.pb")
    parser.add_argument("--images", required=True, metavar="IMAGES.idx[.gz]")
    parser.add_argument("--bnc-json", required=True, metavar="OUT.json")
    parser.add_argument("--tolerance", type=float, default=1e-5,
                        help="largest allowed absolute difference (default 1e-5)")
    parser.add_argument("--batch-size", type=int, default=1000,
                        help="images per onnxruntime run (default 1000)")
    args = parser.parse_args()
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    try:
        report = read_bnc(args.bnc_json)
        ref, expression = run_ort(args.model, args.images, args.batch_size)
    except ToolError as error:
        print(f"ort_compare: {error}", file=sys.stderr)
        return 2
    try:
        s = compare(ref, report)
    except Mismatch as error:
        print(f"ort_compare: FAILED: {args.model}: {error}")
        return 1
    ok = s["max_abs"] <= args.tolerance
    print(f"ort_compare: {args.model} on {s['images']} images ({expression}), {s['width']} outputs "
          f"each: max abs diff {s['max_abs']:.3g}, max rel diff {s['max_rel']:.3g}, "
          f"argmax agreement {s['argmax_agree']}/{s['images']} "
          f"(bnc predictions {s['predictions_agree']}/{s['images']}): "
          + ("OK" if ok else f"FAILED (tolerance {args.tolerance:g})"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
