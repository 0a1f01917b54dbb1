#!/usr/bin/env python3
"""onnxruntime's BN fusion on the CNN fixtures: the reference that `bnc fold` is measured against.

    .venv/bin/python tools/reference/ort_fusion_table.py DIR [--json OUT.json] [--bnc BNC] [--work WORK]

DIR is a folder written by tools/fixtures/cnn-zoo (its manifest.json lists the files) or any
folder of .onnx files. For each model:
  - BN: its BatchNormalization nodes; Mul→Add: the per-channel affine chains the manifest lists;
  - onnxruntime's optimizer at ORT_ENABLE_EXTENDED and ORT_ENABLE_ALL, each with
    `optimized_model_filepath`: how many BNs (and chains) the saved optimized model still has,
    and for every BN left the op that produces its input and why it stayed as far as that shows
    (a Concat/Relu/graph input is not a Conv; a Conv output with several consumers; a Conv whose
    bias is computed). EXTENDED is the fusion count: ALL adds the NCHWc layout pass, which
    rewrites standalone BNs (whose channels fit its blocks) as 1×1 depthwise NCHWc Convs; those
    are counted apart ("as NCHWc Conv"), they are not folds;
  - onnxruntime's own rounding: the largest difference between the outputs of the model with all
    optimizations disabled and enabled, over every graph output, relative to the output scale
    (max |output| of the unoptimized run): max_rel = max |y_opt − y_ref| / max |y_ref|, on
    --probes seeded N(0, 1) inputs at batch 1 (--seed);
  - with --bnc: `BNC fold FILE -o WORK/NAME.bnc.onnx --json` (the CLI contract in README.md: JSON
    with "folded": [{"bn"}], "skipped": [{"bn", "reason"}], "proof": {"max_rel_diff", "passed",
    "probes"}), how many BNs it folded, its proof's figure, and the folded file in onnxruntime
    (disabled optimizations, so only bnc's rounding shows) against the original, in the same
    relative measure. A model bnc cannot load gets its one error line instead. BNC may be a
    command with arguments ("python fake_bnc.py").
Prints a Markdown table (one row per model) and writes the JSON (default WORK/ort_fusion.json, or
./ort_fusion.json without --work);
exit 1 if onnxruntime fails on a model, or a --bnc fold writes a file that onnxruntime cannot run
or that differs from the original by more than --tolerance (default 1e-5 relative, bnc fold's own
default: ≥ 10× the Float rounding of a correct fold, which onnxruntime's own fusions show on these
models as the self-diff column; docs/cnn-fixtures.md has the figures), else 0;
2 on bad arguments. A bnc that refuses a model (no JSON) is a table entry, not a failure: today's
bnc loads few of these files.
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bncref  # noqa: E402

LEVELS = {"extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
          "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}
LINEAR = {"Conv", "ConvTranspose", "Gemm", "MatMul", "FusedConv", "FusedGemm", "FusedMatMul"}


def session(path: Path, level: ort.GraphOptimizationLevel | None,
            optimized: Path | None = None) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = level if level is not None else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 3
    if optimized is not None:
        opts.optimized_model_filepath = str(optimized)
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def probes(sess: ort.InferenceSession, count: int, seed: int) -> list[dict[str, np.ndarray]]:
    return [bncref.random_feeds(sess, batch=1, seed=seed + i) for i in range(count)]


def run_all(sess: ort.InferenceSession, feeds: list[dict[str, np.ndarray]]) -> list[list[np.ndarray]]:
    return [sess.run(None, f) for f in feeds]


def difference(ref: list[list[np.ndarray]], other: list[list[np.ndarray]]) -> dict[str, float]:
    """max |other − ref| over every output of every probe, and that over max |ref|."""
    max_abs = max(float(np.max(np.abs(o.astype(np.float64) - r))) for rs, os in zip(ref, other)
                  for r, o in zip(rs, os))
    scale = max(float(np.max(np.abs(r))) for rs in ref for r in rs)
    return {"max_abs": max_abs, "output_scale": scale, "max_rel": max_abs / scale if scale else max_abs}


def left_bns(model: onnx.ModelProto) -> list[dict[str, Any]]:
    """Every BN of an (optimized) model with the producer of its input and the likely reason it stayed."""
    producer = {o: n for n in model.graph.node for o in n.output}
    consumers = Counter(x for n in model.graph.node for x in n.input)
    inits = {t.name for t in model.graph.initializer}
    graph_inputs = {i.name for i in model.graph.input}
    out = []
    for n in model.graph.node:
        if n.op_type != "BatchNormalization":
            continue
        x = n.input[0]
        p = producer.get(x)
        op = p.op_type if p is not None else ("graph input" if x in graph_inputs else "?")
        if any(name not in inits for name in n.input[1:5]):
            reason = "BN parameters are not constant initializers"
        elif op not in LINEAR:
            reason = f"input comes from {op}, not from a Conv/Gemm/MatMul"
        elif consumers[x] > 1:
            reason = f"the {op} output has {consumers[x]} consumers"
        elif any(w and w not in inits for w in p.input[1:3]):
            w = next(w for w in p.input[1:3] if w and w not in inits)
            made_by = producer[w].op_type if w in producer else "a graph input"
            reason = f"the {op}'s {'weight' if w == p.input[1] else 'bias'} comes from {made_by}, not an initializer"
        else:
            reason = f"after {op}; onnxruntime did not fuse it"
        out.append({"bn": n.name, "producer": op, "reason": reason})
    return out


def load_manifest(folder: Path) -> list[dict[str, Any]]:
    manifest = folder / "manifest.json"
    if manifest.exists():
        return json.loads(manifest.read_text())["fixtures"]
    return [{"file": p.name, "name": p.stem} for p in sorted(folder.glob("*.onnx"))]


def ort_figures(path: Path, entry: dict[str, Any], work: Path, count: int, seed: int) -> dict[str, Any]:
    model = onnx.load(str(path), load_external_data=False)
    chains = entry.get("affine_chains", [])
    start = time.perf_counter()
    ref_sess = session(path, None)
    feeds = probes(ref_sess, count, seed)
    t0 = time.perf_counter()
    ref = run_all(ref_sess, feeds)
    result: dict[str, Any] = {"nodes": len(model.graph.node),
                              "run_seconds": {"disabled": (time.perf_counter() - t0) / count},
                              "self_diff": {}}
    result["session_seconds"] = {"disabled": t0 - start}
    for level, value in LEVELS.items():
        optimized = work / f"{entry['name']}.ort-{level}.onnx"
        start = time.perf_counter()
        sess = session(path, value, optimized)
        result["session_seconds"][level] = time.perf_counter() - start
        t0 = time.perf_counter()
        outs = run_all(sess, feeds)
        result["run_seconds"][level] = (time.perf_counter() - t0) / count
        result["self_diff"][level] = difference(ref, outs)
        opt = onnx.load(str(optimized), load_external_data=False)
        names = {n.name for n in opt.graph.node}
        left = left_bns(opt)
        result[level] = {
            "bn_left": len(left),
            "left": left,
            # ORT_ENABLE_ALL's NCHWc layout pass rewrites a standalone BN as a 1×1 depthwise
            # com.microsoft.nchwc.Conv named <BN output>_bn_nchwc: gone as a BN, but not folded
            "bn_as_nchwc_conv": sum(1 for n in opt.graph.node if n.name.endswith("_bn_nchwc")),
            "affine_chains_left": sum(1 for c in chains if c["mul"] in names),
            "nodes": len(opt.graph.node),
            "optimized_model": str(optimized),
        }
    return result


def bnc_figures(bnc: list[str], path: Path, entry: dict[str, Any], work: Path, count: int, seed: int,
                timeout: float) -> dict[str, Any]:
    out = work / f"{entry['name']}.bnc.onnx"
    out.unlink(missing_ok=True)
    start = time.perf_counter()
    try:
        r = subprocess.run([*bnc, "fold", str(path), "-o", str(out), "--json"], capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"exit": None, "error": f"timed out after {timeout:.0f} s"}
    figures: dict[str, Any] = {"exit": r.returncode, "seconds": time.perf_counter() - start}
    try:
        report = json.loads(r.stdout)
    except json.JSONDecodeError:
        lines = (r.stderr or r.stdout).strip().splitlines()
        figures["error"] = lines[-1] if lines else f"exit {r.returncode}, no output"
        return figures
    figures["folded"] = [f["bn"] for f in report.get("folded", [])]
    # how: backward / forward / chain / concat-split (bnc's JSON "method"), and the totals
    figures["methods"] = dict(Counter(f.get("method", f.get("direction", "?")) for f in report.get("folded", [])))
    figures["totals"] = report.get("totals")
    figures["skipped"] = [{"bn": s["bn"], "reason": s.get("reason", "")} for s in report.get("skipped", [])]
    proof = report.get("proof") or {}
    figures["proof"] = {k: proof.get(k) for k in ("max_rel_diff", "max_abs_diff", "output_scale", "probes", "passed",
                                                  "distribution", "seconds")}
    if out.exists():
        figures["output"] = str(out)
        try:
            ref_sess = session(path, None)
            feeds = probes(ref_sess, count, seed)
            figures["ort_folded_vs_original"] = difference(run_all(ref_sess, feeds),
                                                           run_all(session(out, None), feeds))
            folded_model = onnx.load(str(out), load_external_data=False)
            names = {n.name for n in folded_model.graph.node}
            figures["bn_left_in_output"] = sum(1 for n in folded_model.graph.node if n.op_type == "BatchNormalization")
            figures["affine_chains_left"] = sum(1 for c in entry.get("affine_chains", []) if c["mul"] in names)
        except Exception as error:  # onnxruntime's own types: the folded file does not run
            figures["ort_error"] = bncref.one_line(error)[:500]
    return figures


def fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.1e}"


def table(rows: list[dict[str, Any]], with_bnc: bool) -> str:
    head = ["model", "style", "opset/IR", "MB", "BN", "ORT removes (ext / all)", "BN left, EXTENDED (producer)",
            "Mul→Add chains left (ext / all)", "ORT self-diff (rel)", "ORT s (session all / run)"]
    if with_bnc:
        head += ["bnc folds (how)", "bnc Mul→Add chains left", "bnc proof (rel, probes)", "ORT: bnc's file vs original (rel)",
                 "bnc fold s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in rows:
        if "error" in m:
            lines.append(f"| {m['name']} | {m.get('style', '')} | | | | error: {m['error']} |" + " |" * (len(head) - 6))
            continue
        o = m["ort"]
        producers = Counter(b["producer"] for b in o["extended"]["left"])
        left = ", ".join(f"{k} {v}" for k, v in sorted(producers.items())) or "—"
        cells = [m["name"], m.get("style", ""), f"{m.get('opset', '?')}/{m.get('ir_version', '?')}",
                 f"{m['bytes'] / 1e6:.2f}", str(m["bn"]),
                 f"{m['bn'] - o['extended']['bn_left']} / {m['bn'] - o['all']['bn_left']}"
                 + (f" ({o['all']['bn_as_nchwc_conv']} as NCHWc Conv)" if o['all']['bn_as_nchwc_conv'] else ""), left,
                 (f"{o['extended']['affine_chains_left']} / {o['all']['affine_chains_left']} of {m['affine_chains']}"
                  if m["affine_chains"] else "—"),
                 fmt(o["self_diff"]["all"]["max_rel"]),
                 f"{o['session_seconds']['all']:.2f} / {o['run_seconds']['all']:.3f}"]
        if with_bnc:
            b = m.get("bnc") or {}
            if "error" in b:
                cells += [f"error: {b['error'][:120]}", "—", "—", "—", "—"]
            else:
                how = ", ".join(f"{k} {v}" for k, v in sorted((b.get("methods") or {}).items()))
                proof = b.get("proof") or {}
                chains_left = b.get("affine_chains_left")
                cells += [f"{len(b.get('folded', []))} / {m['bn']}" + (f" ({how})" if how else ""),
                          ("—" if not m["affine_chains"] or chains_left is None else f"{chains_left} of {m['affine_chains']}"),
                          f"{fmt(proof.get('max_rel_diff'))}, {proof.get('probes')}",
                          (f"onnxruntime fails: {b['ort_error'][:120]}" if "ort_error" in b
                           else fmt((b.get("ort_folded_vs_original") or {}).get("max_rel"))),
                          f"{b.get('seconds', 0):.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--json", type=Path,
                        help="where to write the JSON (default WORK/ort_fusion.json, ./ort_fusion.json without --work)")
    parser.add_argument("--work", type=Path, help="folder for the optimized and folded models (default: a temp dir)")
    parser.add_argument("--bnc", help="the bnc binary (or a command), to add bnc's fold columns")
    parser.add_argument("--only", help="comma-separated model names (default: every model in the folder)")
    parser.add_argument("--probes", type=int, default=4, help="seeded N(0, 1) inputs at batch 1 (default 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tolerance", type=float, default=1e-5,
                        help="largest relative difference of bnc's folded file vs the original (default 1e-5, "
                             "bnc fold's own default)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per bnc fold (default 600)")
    args = parser.parse_args()
    if not args.folder.is_dir():
        print(f"ort_fusion_table: {args.folder}: not a folder", file=sys.stderr)
        return 2
    if args.probes < 1:
        print(f"ort_fusion_table: --probes {args.probes} must be at least 1", file=sys.stderr)
        return 2
    tmp = None
    if args.work is None:
        tmp = tempfile.TemporaryDirectory(prefix="ort-fusion-")
        args.work = Path(tmp.name)
    args.work.mkdir(parents=True, exist_ok=True)
    bnc = shlex.split(args.bnc) if args.bnc else None

    rows, failed = [], 0
    entries = load_manifest(args.folder)
    if args.only:
        names = {n.strip() for n in args.only.split(",") if n.strip()}
        unknown = names - {e["name"] for e in entries}
        if unknown:
            print(f"ort_fusion_table: --only: no model named {', '.join(sorted(unknown))} in {args.folder}",
                  file=sys.stderr)
            return 2
        entries = [e for e in entries if e["name"] in names]
    for entry in entries:
        path = args.folder / entry["file"]
        model = onnx.load(str(path), load_external_data=False)
        side = entry.get("external_data")
        row: dict[str, Any] = {
            "file": entry["file"], "name": entry.get("name", path.stem), "style": entry.get("style"),
            "size": entry.get("size"), "opset": next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None),
            "ir_version": model.ir_version, "external_data": side,
            "bytes": path.stat().st_size + ((args.folder / side).stat().st_size if side else 0),
            "bn": sum(1 for n in model.graph.node if n.op_type == "BatchNormalization"),
            "affine_chains": len(entry.get("affine_chains", [])),
        }
        try:
            row["ort"] = ort_figures(path, row | entry, args.work, args.probes, args.seed)
        except Exception as error:  # onnxruntime's and onnx's own exception types
            row["error"] = bncref.one_line(error)
            failed += 1
        if bnc and "error" not in row:
            row["bnc"] = bnc_figures(bnc, path, row | entry, args.work, args.probes, args.seed, args.timeout)
            diff = (row["bnc"].get("ort_folded_vs_original") or {}).get("max_rel")
            if "ort_error" in row["bnc"] or (diff is not None and diff > args.tolerance):
                failed += 1
        rows.append(row)
        print(f"{row['name']}: done", file=sys.stderr, flush=True)

    result = {"tool": "tools/reference/ort_fusion_table.py", "onnxruntime": ort.__version__,
              "onnx": onnx.__version__, "probes": {"count": args.probes, "batch": 1, "seed": args.seed,
                                                    "distribution": "N(0, 1)"},
              "tolerance": args.tolerance, "bnc": args.bnc, "models": rows}
    out = args.json or (Path("ort_fusion.json") if tmp is not None else args.work / "ort_fusion.json")
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(table(rows, bnc is not None))
    print(f"\nJSON: {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
