#!/usr/bin/env python3
"""Checks bnc's file-format and data-IO output against the outside references (onnx checker,
onnxruntime, numpy), on the committed fixtures of tools/fixtures/make_format_fixtures.py.

  .venv/bin/python tools/check/format_io.py [BNC]      (BNC default: .build/debug/bnc)

Steps (each prints PASS or FAIL with the reason; exit 1 if any failed):
  external-fold     bnc fold of a model onnx.save_model wrote with external data: the output and
                    its new side file pass onnx.checker (by path) and run in onnxruntime with the
                    original's outputs (tolerance below); the original files are unchanged
  external-inplace  bnc fold --in-place: the model gets a new side file (cnn.onnx.1.data), the
                    old one is removed, and the result passes the checker and matches onnxruntime
  external-convert  bnc convert inlines the external data: checker + exactly the original outputs
  ir3-fold          bnc fold of an IR 3 file (opset 15): IR 3 and opset 15 kept, every
                    initializer still a graph input, checker + onnxruntime outputs
  typed-convert     bnc convert of INT64/INT32/BOOL tensors and inputs: checker, and onnxruntime's
                    Identity outputs equal its inputs
  infer-outputs     bnc infer --input x=FILE (.npy, float64 .npy, .pb, int16 IDX) --output
                    (.npy, .pb, .npz): numpy and onnx read the files, and the outputs match
                    onnxruntime's with ONNX's backend-test tolerance (rtol 1e-3, atol 1e-7)

Tolerance of the fold comparisons: |bnc-folded − original| ≤ 1e-5 · max|original output|, the
bound bnc's own fold proof uses (Float rounding of the rescaled weights, ≈ 1e-7 relative per
weight, grows to ≈ 1e-6 over the 288- and 512-term dot products of the fixture CNN).
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "Tests" / "BNCModelFileTests" / "Fixtures" / "format"
FOLD_TOLERANCE = 1e-5


def probe() -> np.ndarray:
    return np.random.default_rng(zlib.crc32(b"probe")).standard_normal((2, 1, 8, 8)).astype(np.float32)


def run_ort(path: Path, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: unused initializers are expected in typed.onnx
    sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


class Checks:
    def __init__(self, bnc: str, work: Path) -> None:
        self.bnc, self.work = bnc, work
        self.failed: list[str] = []

    def bnc_run(self, *args: str) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([self.bnc, *map(str, args)], capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise AssertionError(f"bnc {' '.join(map(str, args))} exited {r.returncode}: {r.stderr.strip()}")
        return r

    def step(self, name: str, fn) -> None:
        try:
            fn()
            print(f"PASS {name}")
        except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the others
            print(f"FAIL {name}: {e}")
            self.failed.append(name)

    def copy(self, sub: str) -> Path:
        self.copies = getattr(self, "copies", 0) + 1
        dst = self.work / f"{sub.replace('/', '_')}-{self.copies}"
        shutil.copytree(FIXTURES / sub, dst)
        return dst

    def fold_matches(self, original: Path, folded: Path) -> None:
        x = probe()
        want = run_ort(original, {"x": x})[0]
        got = run_ort(folded, {"x": x})[0]
        scale = float(np.max(np.abs(want)))
        diff = float(np.max(np.abs(got - want)))
        if diff > FOLD_TOLERANCE * scale:
            raise AssertionError(f"folded outputs differ by {diff:.3g} (> {FOLD_TOLERANCE} · {scale:.3g})")

    def external_fold(self) -> None:
        src = self.copy("external")
        before = digest(src)
        out = self.work / "folded" / "cnn.folded.onnx"
        out.parent.mkdir()
        self.bnc_run("fold", src / "cnn.onnx", "-o", out, "--random-probes", "50", "--probe-images", "0")
        if sorted(p.name for p in out.parent.iterdir()) != ["cnn.folded.onnx", "cnn.folded.onnx.data"]:
            raise AssertionError(f"files beside the output: {sorted(p.name for p in out.parent.iterdir())}")
        onnx.checker.check_model(str(out), full_check=True)
        m = onnx.load(str(out), load_external_data=False)
        ext = [t.name for t in m.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
        if ext != ["conv1.W", "fc.W"]:
            raise AssertionError(f"external tensors {ext}")
        if any(n.op_type == "BatchNormalization" for n in m.graph.node):
            raise AssertionError("BatchNormalization left in the folded model")
        self.fold_matches(src / "cnn.onnx", out)
        if digest(src) != before:
            raise AssertionError("the input model or its side file changed")

    def external_inplace(self) -> None:
        src = self.copy("external")
        x = probe()
        want = run_ort(src / "cnn.onnx", {"x": x})[0]
        self.bnc_run("fold", src / "cnn.onnx", "--in-place", "--random-probes", "50", "--probe-images", "0")
        names = sorted(p.name for p in src.iterdir())
        if names != ["cnn.onnx", "cnn.onnx.1.data"]:
            raise AssertionError(f"after the in-place fold the folder holds {names}")
        onnx.checker.check_model(str(src / "cnn.onnx"), full_check=True)
        self.fold_matches_arrays(want, run_ort(src / "cnn.onnx", {"x": x})[0])

    def fold_matches_arrays(self, want: np.ndarray, got: np.ndarray) -> None:
        scale = float(np.max(np.abs(want)))
        diff = float(np.max(np.abs(got - want)))
        if diff > FOLD_TOLERANCE * scale:
            raise AssertionError(f"outputs differ by {diff:.3g} (> {FOLD_TOLERANCE} · {scale:.3g})")

    def external_convert(self) -> None:
        src = self.copy("external")
        out = self.work / "inline.onnx"
        self.bnc_run("convert", src / "cnn.onnx", "-o", out)
        onnx.checker.check_model(str(out), full_check=True)
        m = onnx.load(str(out), load_external_data=False)
        if any(t.data_location == onnx.TensorProto.EXTERNAL for t in m.graph.initializer):
            raise AssertionError("convert left external tensors")
        x = probe()
        if not np.array_equal(run_ort(out, {"x": x})[0], run_ort(src / "cnn.onnx", {"x": x})[0]):
            raise AssertionError("inlined model gives different outputs")

    def ir3_fold(self) -> None:
        src = FIXTURES / "ir3_opset15.onnx"
        out = self.work / "ir3.folded.onnx"
        self.bnc_run("fold", src, "-o", out, "--random-probes", "50", "--probe-images", "0")
        onnx.checker.check_model(str(out), full_check=True)
        m = onnx.load(str(out))
        if m.ir_version != 3 or [(o.domain, o.version) for o in m.opset_import] != [("", 15)]:
            raise AssertionError(f"ir_version {m.ir_version}, opsets {m.opset_import}")
        inputs = [i.name for i in m.graph.input]
        if inputs != ["x"] + [t.name for t in m.graph.initializer]:
            raise AssertionError(f"graph inputs {inputs}")
        self.fold_matches(src, out)

    def typed_convert(self) -> None:
        out = self.work / "typed.onnx"
        self.bnc_run("convert", FIXTURES / "typed.onnx", "-o", out)
        onnx.checker.check_model(str(out), full_check=True)
        feeds = {"i64": np.array([[1, -2, 1 << 40, 3]] * 2, dtype=np.int64),
                 "i32": np.array([[7, -8, 2**31 - 1, 0]] * 2, dtype=np.int32),
                 "b": np.array([[True, False, False, True]] * 2),
                 "f": np.ones((2, 4), dtype=np.float32)}
        outs = run_ort(out, feeds)
        for (name, x), y in zip(feeds.items(), outs):
            if x.dtype != y.dtype or not np.array_equal(x, y):
                raise AssertionError(f"Identity of {name} gave {y!r}")
        m = onnx.load(str(out))
        got = {t.name: onnx.numpy_helper.to_array(t).tolist() for t in m.graph.initializer}
        if got["c.i32"] != [[1, -2], [2**31 - 1, -2**31]] or got["c.b"] != [True, False, True]:
            raise AssertionError(f"tensors {got}")


    def infer_outputs(self) -> None:
        model = FIXTURES / "external" / "cnn.onnx"
        x = probe()
        want = run_ort(model, {"x": x})[0]
        d = self.work / "infer"
        d.mkdir()
        np.save(d / "x.npy", x)
        np.save(d / "x64.npy", x.astype(np.float64))
        (d / "x.pb").write_bytes(onnx.numpy_helper.from_array(x, "x").SerializeToString())
        # An int16 IDX file [2, 1, 8, 8] (big-endian) and what it means as float32.
        xi = np.round(x * 1000).astype(np.int16)
        (d / "x.idx").write_bytes(bytes([0, 0, 0x0B, 4]) + np.array(xi.shape, dtype=">u4").tobytes() + xi.astype(">i2").tobytes())
        cases = [("x.npy", "y.npz", x), ("x64.npy", "y.npy", x), ("x.pb", "y.pb", x), ("x.idx", "yi.npy", xi.astype(np.float32))]
        for src, out, fed in cases:
            self.bnc_run("infer", model, "--input", f"x={d / src}", "--output", d / out, "--quiet")
            if out.endswith(".npz"):
                z = np.load(d / out)
                if list(z.keys()) != ["y"]:
                    raise AssertionError(f"{out} holds {list(z.keys())}")
                got = z["y"]
            elif out.endswith(".npy"):
                got = np.load(d / out)
            else:
                t = onnx.load_tensor(str(d / out))
                if t.name != "y":
                    raise AssertionError(f"{out} tensor is named {t.name!r}")
                got = onnx.numpy_helper.to_array(t)
            expected = want if fed is x else run_ort(model, {"x": fed})[0]
            if got.dtype != np.float32 or got.shape != expected.shape:
                raise AssertionError(f"{src} → {out}: {got.dtype} {got.shape}")
            np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-7, err_msg=f"{src} → {out}")


def main(argv: list[str]) -> int:
    bnc = str(Path(argv[1]).resolve()) if len(argv) > 1 else str(REPO / ".build" / "debug" / "bnc")
    with tempfile.TemporaryDirectory() as tmp:
        c = Checks(bnc, Path(tmp))
        c.step("external-fold", c.external_fold)
        c.step("external-inplace", c.external_inplace)
        c.step("external-convert", c.external_convert)
        c.step("ir3-fold", c.ir3_fold)
        c.step("typed-convert", c.typed_convert)
        c.step("infer-outputs", c.infer_outputs)
    print(f"format_io: {6 - len(c.failed)} passed, {len(c.failed)} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
