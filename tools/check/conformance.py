#!/usr/bin/env python3
"""ONNX's own conformance tests, run through `bnc infer`.

  tools/check/conformance [--bnc BNC] [--operators FILE|A,B,...] [--only GLOB]... [--work DIR]
                          [--jobs N] [--refusals skip|fail] [--json REPORT] [--list]
                          [--readme README.md | --readme-check README.md]

Cases, for the operators of the list (below):
  - node tests: `onnx.backend.test.case.node.collect_testcases()` (model, inputs, expected
    outputs), the test's operator in the list and every operator of its model too (an
    `_expanded` test runs the operator's function body);
  - model tests shipped with the onnx package under backend/test/data/{pytorch-converted,
    pytorch-operator,simple}, when every operator of the model is in the list.
Each case is written to WORK/<kind>/<test>/ (model.onnx, inputs as .npy; model tests use their
own test_data_set_*/input_*.pb) and run as

    bnc infer model.onnx --input NAME=FILE ... --output out.npz

once per data set. Every output must have the expected shape and dtype and match with the
test's tolerance: ONNX's backend default rtol 1e-3, atol 1e-7 (np.testing.assert_allclose), or
what the test's data.json says; `TOLERANCE` below loosens single tests, each with the reason its
data demands it (none so far).

Skipped, with the reason: cases with a tensor of a type bnc does not feed or compute (not
float32, int64, int32 or bool: "dtype float64"), non-tensor values (sequences, optionals), and —
unless --refusals fail — cases bnc refuses with exit status 2 and one line (an attribute or
version it does not run, named), that line being the reason. Failed: wrong, missing or
mistyped outputs, any other exit status, more than one line on stderr for a refusal, a timeout.

The operator list: --operators (a file with one name a line, names separated by commas, or
`issue` for the 48 operators of issue 15, `ISSUE_OPERATORS`); else every operator bnc registers
(`bnc operators`, the first word of each line); else what `bnc --help` lists after "operators…:";
else issue 15's.

Output: one line per operator (node tests) and per model-test kind — passed, failed, skipped —
then every failure and every distinct skip reason; --json writes it all; --readme FILE writes the
per-operator counts into FILE's conformance section (between its markers), --readme-check FILE
fails when that section differs from the run (tools/test checks README.md). Exit status 1 when a
case of a listed operator failed, 2 on bad usage, 0 otherwise.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

REPO = Path(__file__).resolve().parents[2]

# Issue 15, section 3: the operators of CNNs in the wild, and those constant subgraphs need.
ISSUE_OPERATORS = """
Conv ConvTranspose BatchNormalization MaxPool AveragePool GlobalAveragePool GlobalMaxPool Gemm MatMul
Add Sub Mul Div Sum Max Min Mean Concat Split Transpose Reshape Flatten Squeeze Unsqueeze Constant
Identity Dropout Relu LeakyRelu PRelu Elu Clip Sigmoid HardSigmoid HardSwish Tanh Softmax LogSoftmax
Pad LRN Shape Gather Slice Cast CastLike Expand ConstantOfShape ReduceMean
""".split()

MODEL_KINDS = ["pytorch-converted", "pytorch-operator", "simple"]

# Per-test tolerances beyond ONNX's default, each with the reason the test's data demands it:
#   "test_name": (rtol, atol, "why")
TOLERANCE: dict[str, tuple[float, float, str]] = {}

FED_DTYPES = {np.dtype(np.float32), np.dtype(np.int64), np.dtype(np.int32), np.dtype(np.bool_)}


@dataclass
class Case:
    name: str
    kind: str  # "node" or a model kind
    op: str  # the operator a node test is for; the kind for model tests
    model: onnx.ModelProto
    data_sets: list[tuple[list[np.ndarray | Path], list[np.ndarray]]]
    rtol: float
    atol: float
    skip: str | None = None


@dataclass
class Result:
    case: Case
    outcome: str  # passed / failed / skipped
    reason: str = ""


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)

    def by_group(self) -> dict[tuple[str, str], list[Result]]:
        groups: dict[tuple[str, str], list[Result]] = defaultdict(list)
        for r in self.results:
            groups[(r.case.kind, r.case.op)].append(r)
        return groups


# ---------------------------------------------------------------- the operator list

def operators_from_help(help_text: str) -> list[str]:
    """The names after "operators" and a colon in `bnc --help`, up to the first full stop."""
    m = re.search(r"operators[^:.]*:(.*?)(?:\.\s|\.$)", help_text, re.IGNORECASE | re.DOTALL)
    if not m:
        return []
    names = [n.strip() for n in re.split(r"[,\s]+", m.group(1)) if n.strip()]
    return [n for n in names if re.fullmatch(r"[A-Z][A-Za-z0-9]*", n)]


def operators_from_registry(listing: str) -> list[str]:
    """The first word of each line of `bnc operators` ("Conv   versions 1, 11, 22")."""
    names = [line.split()[0] for line in listing.splitlines() if line.strip()]
    return [n for n in names if re.fullmatch(r"[A-Z][A-Za-z0-9]*", n)]


def operator_list(spec: str | None, bnc: str) -> tuple[list[str], str]:
    if spec == "issue":
        return ISSUE_OPERATORS, "issue 15"
    if spec:
        path = Path(spec)
        if path.is_file():
            names = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
            return [n for n in names if n], f"file {spec}"
        return [n.strip() for n in spec.split(",") if n.strip()], "--operators"

    def output(*args: str) -> str:
        try:
            r = subprocess.run([bnc, *args], capture_output=True, text=True, timeout=60)
            return r.stdout if r.returncode == 0 else ""
        except OSError:
            return ""

    names = operators_from_registry(output("operators"))
    if names:
        return names, "bnc operators"
    names = operators_from_help(output("--help"))
    if names:
        return names, "bnc --help"
    return ISSUE_OPERATORS, "issue 15 (bnc lists no operators)"


# ---------------------------------------------------------------- collecting cases

def model_ops(model: onnx.ModelProto) -> set[str]:
    ops = set()

    def walk(graph: onnx.GraphProto) -> None:
        for n in graph.node:
            ops.add(n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}")
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
                for g in a.graphs:
                    walk(g)

    walk(model.graph)
    return ops


def as_array(x) -> np.ndarray:
    return numpy_helper.to_array(x) if isinstance(x, onnx.TensorProto) else np.asarray(x)


def static_skip(model: onnx.ModelProto, arrays: list[np.ndarray]) -> str | None:
    for v in list(model.graph.input) + list(model.graph.output):
        if not v.type.HasField("tensor_type"):
            return f"non-tensor value '{v.name}' ({v.type.WhichOneof('value')})"
    for a in arrays:
        if isinstance(a, np.ndarray) and a.dtype not in FED_DTYPES:
            return f"dtype {a.dtype} (bnc feeds and computes float32, int64, int32, bool)"
    return None


def node_cases(ops: set[str]) -> list[Case]:
    import warnings

    import onnx.backend.test.case.node as node_tests

    with warnings.catch_warnings():
        # The reference outputs of some tests overflow or divide by zero on purpose.
        warnings.simplefilter("ignore", RuntimeWarning)
        tests = node_tests.collect_testcases()
    op_of: dict[str, str] = {}
    for t in tests:
        if not re.search(r"_expanded(_ver\d+)?$", t.name) and t.model.graph.node:
            op_of[t.name] = t.model.graph.node[0].op_type
    cases = []
    for t in tests:
        base = re.sub(r"_expanded(_ver\d+)?$", "", t.name)
        op = op_of.get(base) or (t.model.graph.node[0].op_type if t.model.graph.node else "?")
        if op not in ops:
            continue
        data = [([as_array(x) for x in ins], [as_array(y) for y in outs]) for ins, outs in t.data_sets]
        case = Case(t.name, "node", op, t.model, data, t.rtol, t.atol)
        extra = sorted(model_ops(t.model) - ops)
        if extra:
            case.skip = f"its model also uses {', '.join(extra)}, not in the list"
        else:
            case.skip = static_skip(t.model, [a for ins, outs in data for a in ins + outs])
        cases.append(case)
    return cases


def model_cases(ops: set[str]) -> list[Case]:
    from onnx.backend.test.loader import load_model_tests

    cases = []
    for kind in MODEL_KINDS:
        for t in sorted(load_model_tests(kind=kind), key=lambda t: t.name):
            if t.model_dir is None:
                continue
            d = Path(t.model_dir)
            model = onnx.load(str(d / "model.onnx"))
            if not model_ops(model) <= ops:
                continue
            data = []
            for ds in sorted(d.glob("test_data_set_*")):
                ins = sorted(ds.glob("input_*.pb"), key=lambda p: int(p.stem.split("_")[1]))
                outs = sorted(ds.glob("output_*.pb"), key=lambda p: int(p.stem.split("_")[1]))
                data.append((list(ins), [numpy_helper.to_array(onnx.load_tensor(str(p))) for p in outs]))
            case = Case(t.name, kind, kind, model, data, t.rtol, t.atol)
            arrays = [numpy_helper.to_array(onnx.load_tensor(str(p))) for ins, _ in data for p in ins]
            case.skip = static_skip(model, arrays + [a for _, outs in data for a in outs])
            cases.append(case)
    return cases


# ---------------------------------------------------------------- running one case

def runtime_inputs(model: onnx.ModelProto) -> list[str]:
    constants = {t.name for t in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in constants]


def run_case(case: Case, bnc: str, work: Path, refusals: str, timeout: float) -> Result:
    if case.skip:
        return Result(case, "skipped", case.skip)
    folder = work / case.kind / case.name
    folder.mkdir(parents=True, exist_ok=True)
    model_path = folder / "model.onnx"
    onnx.save(case.model, str(model_path))
    names = runtime_inputs(case.model)
    rtol, atol = case.rtol, case.atol
    if case.name in TOLERANCE:
        rtol, atol, _ = TOLERANCE[case.name]
    for k, (inputs, expected) in enumerate(case.data_sets):
        if len(inputs) != len(names):
            return Result(case, "failed", f"data set {k} has {len(inputs)} inputs for graph inputs {names}")
        args = [bnc, "infer", str(model_path)]
        for i, (name, x) in enumerate(zip(names, inputs)):
            if isinstance(x, Path):
                path = x
            else:
                path = folder / f"input_{k}_{i}.npy"
                np.save(path, x)
            args += ["--input", f"{name}={path}"]
        out = folder / f"out_{k}.npz"
        args += ["--output", str(out), "--quiet"]
        try:
            r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return Result(case, "failed", f"bnc infer took more than {timeout:.0f} s")
        err = r.stderr.strip()
        if r.returncode == 2:
            lines = err.splitlines()
            if len(lines) != 1:
                return Result(case, "failed", f"refused with {len(lines)} lines on stderr (one expected): {err[:300]}")
            line = lines[0].replace(str(model_path), "model.onnx")
            return Result(case, "failed" if refusals == "fail" else "skipped", f"bnc refuses: {line}")
        if r.returncode != 0:
            return Result(case, "failed", f"bnc infer exited {r.returncode}: {(err.splitlines() or [''])[-1][:300]}")
        try:
            got = np.load(out)
        except Exception as e:  # noqa: BLE001
            return Result(case, "failed", f"cannot read {out.name}: {e}")
        for o, want in zip(case.model.graph.output, expected):
            if o.name not in got.files:
                return Result(case, "failed", f"output '{o.name}' missing from {out.name} (has {got.files})")
            y = got[o.name]
            if y.shape != want.shape:
                return Result(case, "failed", f"output '{o.name}' has shape {list(y.shape)}, expected {list(want.shape)}")
            if y.dtype != want.dtype:
                return Result(case, "failed", f"output '{o.name}' is {y.dtype}, expected {want.dtype}")
            try:
                np.testing.assert_allclose(y, want, rtol=rtol, atol=atol)
            except AssertionError:
                diff = np.abs(y.astype(np.float64) - want.astype(np.float64))
                i = np.unravel_index(int(np.nanargmax(np.where(np.isnan(diff), np.inf, diff))), diff.shape) if diff.size else ()
                return Result(case, "failed",
                              f"output '{o.name}' differs: at {list(map(int, i))} {y[i].item()!r} vs {want[i].item()!r} "
                              f"(max |diff| {float(np.nanmax(diff)) if diff.size else 0:.3g}; rtol {rtol}, atol {atol})")
    return Result(case, "passed")


# ---------------------------------------------------------------- report

def print_report(report: Report, source: str, ops: list[str], filtered: bool = False) -> None:
    groups = report.by_group()
    print(f"operators ({len(ops)}, from {source}): {' '.join(ops)}")
    print(f"{'operator / model kind':<28}{'passed':>8}{'failed':>8}{'skipped':>9}")
    for (kind, op), rs in sorted(groups.items(), key=lambda kv: (kv[0][0] != "node", kv[0][1])):
        c = {k: sum(r.outcome == k for r in rs) for k in ("passed", "failed", "skipped")}
        label = op if kind == "node" else f"[{kind}]"
        print(f"{label:<28}{c['passed']:>8}{c['failed']:>8}{c['skipped']:>9}")
    missing = [op for op in ops if ("node", op) not in groups]
    if missing and not filtered:
        print(f"no node tests in onnx {onnx.__version__}: {' '.join(missing)}")
    failed = [r for r in report.results if r.outcome == "failed"]
    if failed:
        print(f"\nfailed ({len(failed)}):")
        for r in failed:
            print(f"  {r.case.name} [{r.case.op}]: {r.reason}")
    reasons: dict[str, list[str]] = defaultdict(list)
    for r in report.results:
        if r.outcome == "skipped":
            reasons[r.reason].append(r.case.name)
    if reasons:
        print(f"\nskipped ({sum(map(len, reasons.values()))}):")
        for reason, names in sorted(reasons.items(), key=lambda kv: -len(kv[1])):
            shown = ", ".join(names[:4]) + (f", … ({len(names)} in all)" if len(names) > 4 else "")
            print(f"  {reason}: {shown}")
    total = {k: sum(r.outcome == k for r in report.results) for k in ("passed", "failed", "skipped")}
    print(f"\nconformance: {total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped")


README_BEGIN = "<!-- conformance: generated by tools/check/conformance --readme README.md -->"
README_END = "<!-- /conformance -->"


def readme_table(report: Report) -> str:
    """The README's conformance table: per operator (node tests) and per model-test kind, how
    many cases passed, failed and were skipped, the skips split by why: a tensor type or value
    kind bnc does not feed ("types"), or a one-line refusal of an attribute or version bnc does
    not run ("refused")."""
    lines = [f"onnx {onnx.__version__}; cases counted once per test (all of its data sets).", "",
             "| operator / model kind | passed | failed | skipped: types | skipped: refused |",
             "|---|---|---|---|---|"]
    groups = report.by_group()
    for (kind, op), rs in sorted(groups.items(), key=lambda kv: (kv[0][0] != "node", kv[0][1])):
        refused = sum(r.outcome == "skipped" and r.reason.startswith("bnc refuses") for r in rs)
        typed = sum(r.outcome == "skipped" for r in rs) - refused
        c = {k: sum(r.outcome == k for r in rs) for k in ("passed", "failed")}
        label = op if kind == "node" else f"[{kind}]"
        lines.append(f"| {label} | {c['passed']} | {c['failed']} | {typed or ''} | {refused or ''} |")
    total = {k: sum(r.outcome == k for r in report.results) for k in ("passed", "failed", "skipped")}
    lines += ["", f"In all: {total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped."]
    return "\n".join(lines) + "\n"


def readme_section(path: Path, table: str, check: bool) -> int:
    """Writes `table` between the README's conformance markers, or (check) compares."""
    text = path.read_text()
    if README_BEGIN not in text or README_END not in text:
        print(f"conformance: {path} has no {README_BEGIN} … {README_END} section", file=sys.stderr)
        return 2
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    new = head + README_BEGIN + "\n" + table + README_END + tail
    if check:
        if new != text:
            print(f"conformance: the table in {path} differs from this run; run tools/check/conformance --readme {path}",
                  file=sys.stderr)
            return 1
        return 0
    path.write_text(new)
    return 0


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="tools/check/conformance", description=__doc__.split("\n\n")[0])
    p.add_argument("--bnc", default=str(REPO / ".build" / "debug" / "bnc"))
    p.add_argument("--operators", help="a file (one name a line), names separated by commas, or 'issue'")
    p.add_argument("--only", action="append", default=[], help="run only the tests whose name matches GLOB")
    p.add_argument("--work", help="keep the case folders here (default: a temporary folder)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--refusals", choices=["skip", "fail"], default="skip")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--json", help="write the report as JSON to this file")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("--readme", help="write the per-operator table into this README's conformance section")
    p.add_argument("--readme-check", help="fail when this README's conformance table differs from the run")
    args = p.parse_args(argv[1:])
    bnc = str(Path(args.bnc).resolve())
    if not args.list and not os.access(bnc, os.X_OK):
        print(f"conformance: {bnc} is not an executable; build bnc or give --bnc", file=sys.stderr)
        return 2
    ops, source = operator_list(args.operators, bnc)
    cases = node_cases(set(ops)) + model_cases(set(ops))
    if args.only:
        cases = [c for c in cases if any(fnmatch.fnmatch(c.name, g) for g in args.only)]
    if args.list:
        for c in cases:
            print(f"{c.kind}\t{c.op}\t{c.name}\t{c.skip or ''}")
        return 0
    work_dir = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bnc-conformance-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    report = Report()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        report.results = list(pool.map(lambda c: run_case(c, bnc, work_dir, args.refusals, args.timeout), cases))
    print_report(report, source, ops, filtered=bool(args.only))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "onnx": onnx.__version__, "operators": ops, "operator_source": source,
            "cases": [{"name": r.case.name, "kind": r.case.kind, "operator": r.case.op,
                       "opset": next((o.version for o in r.case.model.opset_import if o.domain in ("", "ai.onnx")), None),
                       "outcome": r.outcome, "reason": r.reason} for r in report.results],
        }, indent=1) + "\n")
    if not args.work:
        shutil.rmtree(work_dir, ignore_errors=True)
    status = 1 if any(r.outcome == "failed" for r in report.results) else 0
    for readme, check in ((args.readme, False), (args.readme_check, True)):
        if readme:
            if args.only or args.operators:
                print("conformance: --readme and --readme-check need the full run (no --only, no --operators)", file=sys.stderr)
                return 2
            status = max(status, readme_section(Path(readme), readme_table(report), check))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
