#!/usr/bin/env python3
"""Checks one `bnc fold` result against the fixture manifest and against onnxruntime.

  fold_expect.py MANIFEST.json FIXTURE REPORT.json FOLDED.pb [--tolerance 1e-5]

FIXTURE is a file named in the manifest (looked up beside it), REPORT.json what
`bnc fold FIXTURE -o FOLDED.pb --json` printed:
  {"folded": [{"bn": name, ...}], "skipped": [{"bn": name, "reason": text}], ...}
Checks:
  - the folded and skipped BN names are exactly the manifest's, every skip reason contains the
    manifest's keyword (case-insensitive), and every BN of the fixture is accounted for;
  - FOLDED.pb passes onnx.checker (full_check), keeps exactly the skipped BatchNormalization nodes,
    and, where the manifest lists "cloned" weights, no initializer feeds two Gemm/MatMul/Conv nodes;
  - onnxruntime gives the same outputs for the fixture and FOLDED.pb on seeded random inputs:
    max abs diff ≤ tolerance × max(1, max |output|).
When nothing is to be folded, FOLDED.pb may be absent. Prints one line; exits 1 on any failed check,
2 on unreadable input.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from bncref import ToolError, load_model, one_line, random_feeds, session

LINEAR_OPS = {"Gemm", "MatMul", "Conv"}
PROBE_SEEDS = (1, 2)
PROBE_BATCH = 4


def read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as error:
        raise ToolError(f"{path}: {one_line(error)}") from error


def manifest_entry(manifest_path: str, fixture: str) -> dict[str, Any]:
    manifest = read_json(manifest_path)
    name = Path(fixture).name
    for entry in manifest.get("fixtures", []):
        if entry.get("file") == name:
            return entry
    raise ToolError(f"{manifest_path}: no fixture named '{name}'")


def report_names(report: Any, path: str) -> tuple[list[str], dict[str, str]]:
    """(folded BN names, skipped BN name → reason) from a `bnc fold --json` report."""
    if not isinstance(report, dict) or "folded" not in report or "skipped" not in report:
        raise ToolError(f"{path}: expected an object with \"folded\" and \"skipped\" lists")
    try:
        folded = [str(f["bn"]) for f in report["folded"]]
        skipped = {str(s["bn"]): str(s.get("reason", "")) for s in report["skipped"]}
    except (TypeError, KeyError) as error:
        raise ToolError(f"{path}: malformed folded/skipped entry: {one_line(error)}") from error
    return folded, skipped


def check_report(expect: dict[str, Any], folded: list[str], skipped: dict[str, str],
                 model: onnx.ModelProto) -> list[str]:
    problems = []
    if sorted(folded) != sorted(expect["folded"]):
        problems.append(f"folded {sorted(folded)}, expected {sorted(expect['folded'])}")
    if sorted(skipped) != sorted(expect["skipped"]):
        problems.append(f"skipped {sorted(skipped)}, expected {sorted(expect['skipped'])}")
    for bn, keyword in expect["skipped"].items():
        if bn in skipped and keyword.lower() not in skipped[bn].lower():
            problems.append(f"reason for skipping {bn} is '{skipped[bn]}', expected it to "
                            f"mention '{keyword}'")
    all_bn = {n.name for n in model.graph.node if n.op_type == "BatchNormalization"}
    unlisted = all_bn - set(folded) - set(skipped)
    if unlisted:
        problems.append(f"BatchNormalization nodes neither folded nor skipped: {sorted(unlisted)}")
    return problems


def check_folded(expect: dict[str, Any], folded_model: onnx.ModelProto) -> list[str]:
    problems = []
    try:
        onnx.checker.check_model(folded_model, full_check=True)
    except Exception as error:
        problems.append(f"onnx.checker: {one_line(error)}")
    left = sorted(n.name for n in folded_model.graph.node if n.op_type == "BatchNormalization")
    if left != sorted(expect["skipped"]):
        problems.append(f"BatchNormalization nodes left {left}, expected {sorted(expect['skipped'])}")
    if expect.get("cloned"):
        inits = {t.name for t in folded_model.graph.initializer}
        users: dict[str, list[str]] = {}
        for node in folded_model.graph.node:
            if node.op_type in LINEAR_OPS:
                for name in set(node.input) & inits:
                    users.setdefault(name, []).append(node.name)
        shared = {k: v for k, v in users.items() if len(v) > 1}
        if shared:
            problems.append(f"initializers still shared after folding: {shared}")
    return problems


def max_output_diff(original: str, folded: str) -> tuple[float, float]:
    """(max abs diff, max |output|) over all outputs, matched by name, on seeded random inputs."""
    try:
        a, b = session(original, optimize=False), session(folded, optimize=False)
    except Exception as error:
        raise ToolError(f"onnxruntime: {one_line(error)}") from error
    names = [o.name for o in a.get_outputs()]
    if sorted(names) != sorted(o.name for o in b.get_outputs()):
        raise ToolError(f"outputs differ: {names} vs {[o.name for o in b.get_outputs()]}")
    worst, scale = 0.0, 0.0
    for seed in PROBE_SEEDS:
        feeds = random_feeds(a, PROBE_BATCH, seed)
        try:
            ya, yb = a.run(names, feeds), b.run(names, feeds)
        except Exception as error:
            raise ToolError(f"onnxruntime: {one_line(error)}") from error
        for x, y in zip(ya, yb):
            if x.shape != y.shape:
                raise ToolError(f"output shapes differ: {list(x.shape)} vs {list(y.shape)}")
            d = np.abs(x.astype(np.float64) - y)
            worst = max(worst, float(np.nan_to_num(d, nan=np.inf).max()))
            scale = max(scale, float(np.abs(x).max()))
    return worst, scale


def check(manifest: str, fixture: str, report_path: str, folded_path: str,
          tolerance: float) -> tuple[list[str], str]:
    """(problems, summary) for one fixture."""
    expect = manifest_entry(manifest, fixture)["expect"]
    fixture_path = Path(manifest).parent / Path(fixture).name
    original = load_model(fixture_path)
    folded, skipped = report_names(read_json(report_path), report_path)
    problems = check_report(expect, folded, skipped, original)
    summary = f"folded {sorted(folded) or '-'}, skipped {sorted(skipped) or '-'}"
    if not Path(folded_path).exists():
        if expect["folded"]:
            problems.append(f"{folded_path}: not written")
        return problems, summary + ", no output file"
    try:
        folded_model = load_model(folded_path)
    except ToolError as error:
        return problems + [f"{folded_path}: {error}"], summary
    problems += check_folded(expect, folded_model)
    try:
        diff, scale = max_output_diff(str(fixture_path), folded_path)
    except ToolError as error:
        return problems + [str(error)], summary
    limit = tolerance * max(1.0, scale)
    if not diff <= limit:
        problems.append(f"onnxruntime outputs differ by {diff:.3g} > {limit:.3g}")
    return problems, summary + f", onnxruntime max abs diff {diff:.3g} (limit {limit:.3g})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("manifest", metavar="MANIFEST.json")
    parser.add_argument("fixture", metavar="FIXTURE")
    parser.add_argument("report", metavar="REPORT.json")
    parser.add_argument("folded", metavar="FOLDED.pb")
    parser.add_argument("--tolerance", type=float, default=1e-5,
                        help="allowed abs diff per unit of output scale (default 1e-5)")
    args = parser.parse_args()
    name = Path(args.fixture).name
    try:
        problems, summary = check(args.manifest, args.fixture, args.report, args.folded,
                                  args.tolerance)
    except ToolError as error:
        print(f"fold_expect: {name}: {error}", file=sys.stderr)
        return 2
    if problems:
        print(f"fold_expect: {name}: FAILED: {'; '.join(problems)}")
        return 1
    print(f"fold_expect: {name}: OK ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
