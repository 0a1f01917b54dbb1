#!/usr/bin/env python3
"""Writes a small MNIST-format data set folder for quick end-to-end runs.

  make_idx_sample.py OUTDIR [--train 500] [--test 200] [--source DIR] [--synthetic]

Takes the first --train training and --test test images (and labels) of the data set in --source
(default: Debian's dataset-fashion-mnist, /usr/share/datasets/fashion-mnist). When that folder is
absent, or with --synthetic, writes seeded synthetic 28×28 images instead: ten classes, each a
fixed random blob pattern plus noise, so a small model still learns them. Files written (gzip):
train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz,
t10k-labels-idx1-ubyte.gz. The last line printed names the source used.
"""
from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

import numpy as np

from bncref import ToolError, write_idx

DEFAULT_SOURCE = Path("/usr/share/datasets/fashion-mnist")
FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def find(folder: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise ToolError(f"{folder}: neither {stem}.gz nor {stem} found")


def read_head(path: Path, count: int) -> np.ndarray:
    """The first `count` items of a uint8 IDX file, reading only what is needed."""
    with open(path, "rb") as f:
        opener = gzip.open if f.read(2) == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        magic = f.read(4)
        if len(magic) != 4 or magic[:3] != b"\x00\x00\x08":
            raise ToolError(f"{path}: byte 0: not a uint8 IDX file")
        dims = [int.from_bytes(f.read(4), "big") for _ in range(magic[3])]
        if not dims or dims[0] < count:
            raise ToolError(f"{path}: has {dims[0] if dims else 0} items, {count} requested")
        item = int(np.prod(dims[1:], dtype=np.int64))
        data = f.read(count * item)
        if len(data) != count * item:
            raise ToolError(f"{path}: truncated: {len(data)} of {count * item} bytes")
    return np.frombuffer(data, np.uint8).reshape([count, *dims[1:]])


def synthetic(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Ten learnable classes: a per-class pattern (fixed across splits) plus per-image noise."""
    patterns = np.random.default_rng(1234).uniform(0, 1, (10, 28, 28)) > 0.7
    rng = np.random.default_rng(seed)
    labels = (np.arange(count) % 10).astype(np.uint8)
    rng.shuffle(labels)
    images = patterns[labels] * 180.0 + rng.uniform(0, 75, (count, 28, 28))
    return images.astype(np.uint8), labels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--train", type=int, default=500)
    parser.add_argument("--test", type=int, default=200)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--synthetic", action="store_true")
    args = parser.parse_args()
    use_synthetic = args.synthetic or not args.source.is_dir()
    args.outdir.mkdir(parents=True, exist_ok=True)
    try:
        for split, count, seed in (("train", args.train, 1), ("test", args.test, 2)):
            images_name, labels_name = FILES[split]
            if use_synthetic:
                images, labels = synthetic(count, seed)
            else:
                images = read_head(find(args.source, images_name), count)
                labels = read_head(find(args.source, labels_name), count)
            write_idx(args.outdir / f"{images_name}.gz", images)
            write_idx(args.outdir / f"{labels_name}.gz", labels)
    except ToolError as error:
        print(f"make_idx_sample: {error}", file=sys.stderr)
        return 2
    source = "synthetic" if use_synthetic else str(args.source)
    print(f"make_idx_sample: {args.train} train + {args.test} test images from {source} "
          f"in {args.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
