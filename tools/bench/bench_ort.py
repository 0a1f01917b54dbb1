#!/usr/bin/env python3
"""onnxruntime reference for `tools/bench/run`: inference speed of a model file on IDX images, timed
the way `bnc infer --bench` times bnc, and printed as one JSON object.

  bench_ort.py MODEL IMAGES.idx[.gz]
  bench_ort.py MODEL SAMPLES.idx --batches 1,8


onnxruntime 1.31 with all graph optimizations (it fuses BatchNormalization into Conv/Gemm
itself) and its default threads (one per physical core). Session creation and image loading
are timed separately and excluded from the figures. Up to 10,000 images are loaded (repeated
to 10,000 when the file has fewer), scaled as the model's bnc.input.scaling says (default x/255)
and shaped to the model input:
- batch 1: 100 warm-up runs, then the median (and p90) of 1000 runs over different images;
- batch 100 and batch 10,000: images/s over all 10,000 images, median of 5 passes after one
  warm-up pass.
With --batches (as `bnc infer --bench --bench-batches`, for large models such as ResNet-50): each
listed batch size's median latency over 20 runs after 3 warm-up runs, on the file's samples
repeated as needed (scaled as above).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

# The reference tools' shared helpers live in tools/reference.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reference"))
from bncref import ToolError, load_model, metadata, one_line, read_idx, scaling, session


def main() -> int:
    argv = sys.argv[1:]
    batches = None
    if len(argv) == 4 and argv[2] == "--batches":
        batches = [int(b) for b in argv[3].split(",")]
        argv = argv[:2]
    if len(argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    model_path, images_path = argv
    try:
        t0 = time.perf_counter()
        scale = scaling(metadata(load_model(model_path)).get("bnc.input.scaling", "x/255"))
        raw = read_idx(images_path)[:10_000]
        t1 = time.perf_counter()
        sess = session(model_path, optimize=True)
        t2 = time.perf_counter()
    except ToolError as e:
        print(f"bench_ort: {one_line(e)}", file=sys.stderr)
        return 2
    arg = sess.get_inputs()[0]
    rank = len(arg.shape)
    images = scale(raw.astype(np.float32)).astype(np.float32)
    if batches is not None:
        return batch_latencies(sess, images, batches, model_path, t1 - t0, t2 - t1)
    n = len(images)
    reps = -(-10_000 // n)
    images = np.concatenate([images] * reps)[:10_000]
    x = images.reshape((10_000, -1) if rank == 2 else (10_000, 1) + images.shape[1:])
    x = np.ascontiguousarray(x)
    name = arg.name

    for i in range(100):
        sess.run(None, {name: x[i:i + 1]})
    latencies = []
    for i in range(1000):
        s = time.perf_counter()
        sess.run(None, {name: x[i:i + 1]})
        latencies.append(time.perf_counter() - s)
    latencies.sort()

    def rate(batch: int) -> float:
        rates = []
        for rep in range(6):
            s = time.perf_counter()
            for start in range(0, 10_000, batch):
                sess.run(None, {name: x[start:start + batch]})
            e = time.perf_counter() - s
            if rep > 0:
                rates.append(10_000 / e)
        rates.sort()
        return rates[len(rates) // 2]

    print(json.dumps({
        "model": model_path, "images": n, "load_seconds": t1 - t0, "session_seconds": t2 - t1,
        "batch1_runs": len(latencies),
        "batch1_median_microseconds": latencies[len(latencies) // 2] * 1e6,
        "batch1_p90_microseconds": latencies[len(latencies) * 9 // 10] * 1e6,
        "batch100_images_per_second": rate(100),
        "batch10000_images_per_second": rate(10_000),
    }))
    return 0


def batch_latencies(sess, samples, batches, model_path, load_s, session_s) -> int:
    largest = max(batches)
    x = np.ascontiguousarray(np.concatenate([samples] * -(-largest // len(samples)))[:largest])
    x = x.reshape((largest,) + tuple(d if isinstance(d, int) else -1 for d in sess.get_inputs()[0].shape[1:]))
    name = sess.get_inputs()[0].name
    rows = []
    for b in batches:
        for _ in range(3):
            sess.run(None, {name: x[:b]})
        times = []
        for _ in range(20):
            s = time.perf_counter()
            sess.run(None, {name: x[:b]})
            times.append(time.perf_counter() - s)
        times.sort()
        m = times[len(times) // 2]
        rows.append({"batch": b, "runs": 20, "median_milliseconds": m * 1e3, "images_per_second": b / m})
    print(json.dumps({"model": model_path, "samples": len(samples), "load_seconds": load_s, "session_seconds": session_s,
                      "batches": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
