#!/usr/bin/env python3
"""Keras (tensorflow-cpu) reference for `tools/bench/run`: trains bnc's MLP or CNN preset on the same
data, split and hyperparameters, and prints one JSON object per epoch.

  bench_keras.py --arch mlp|cnn [--activation sigmoid|relu|tanh] [--optimizer sgd|adam] [--lr LR]
                 [--batch-size B] [--epochs E] [--limit N] [--data DIR] [--seed S]

Same as `bnc train` with the same flags:
- data: the MNIST-format folder (default Fashion-MNIST from Debian), pixels x/255; the first
  `--limit` training images, of which the last tenth is held out (not used here: bnc's epoch
  seconds exclude its validation pass, so this trains on exactly bnc's training examples);
- architecture: mlp = Dense(100, no bias) → BN → act, twice, → Dense(10); cnn = Conv 3×3 "same"
  32 (no bias) → BN → ReLU → MaxPool 2, the same with 64, → Flatten → Dense(128, no bias) → BN →
  ReLU → Dense(10); softmax cross-entropy on logits. Keras is channels-last, bnc NCHW: the same
  arithmetic in another layout;
- BN: epsilon 1e-3, momentum 0.99 (Keras's and bnc's meaning); init Glorot uniform for sigmoid
  and tanh, He normal for ReLU (bnc's defaults); Adam epsilon 1e-7; SGD without momentum.

Per epoch: wall seconds of training only (callback on_epoch_begin → on_epoch_end, no validation
inside fit), samples/s, then test loss and accuracy on the 10,000 test images (moving BN
statistics, as bnc's --test-every-epoch), measured outside the timed span. Threads: TensorFlow's
defaults (all cores).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

# The reference tools' shared helpers live in tools/reference.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reference"))
from bncref import read_idx  # noqa: E402

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"


def find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (folder / name).exists():
            return folder / name
    raise SystemExit(f"bench_keras: {folder}: no {stem} or {stem}.gz")


def load(folder: Path, limit: int | None):
    x = read_idx(find(folder, "train-images-idx3-ubyte"))
    y = read_idx(find(folder, "train-labels-idx1-ubyte"))
    tx = read_idx(find(folder, "t10k-images-idx3-ubyte"))
    ty = read_idx(find(folder, "t10k-labels-idx1-ubyte"))
    if limit is not None:
        x, y = x[:limit], y[:limit]
    train = len(x) - len(x) // 10  # bnc holds out the last tenth for validation
    return x[:train], y[:train].astype(np.int64), tx, ty.astype(np.int64)


def build(keras, arch: str, activation: str):
    layers = keras.layers
    init = "he_normal" if activation == "relu" else "glorot_uniform"

    def bn():
        return layers.BatchNormalization(momentum=0.99, epsilon=1e-3)

    if arch == "mlp":
        stack = [keras.Input((784,))]
        for _ in range(2):
            stack += [layers.Dense(100, use_bias=False, kernel_initializer=init), bn(), layers.Activation(activation)]
        stack += [layers.Dense(10, kernel_initializer=init)]
    else:
        stack = [keras.Input((28, 28, 1))]
        for filters in (32, 64):
            stack += [layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer=init), bn(),
                      layers.Activation(activation), layers.MaxPooling2D(2)]
        stack += [layers.Flatten(), layers.Dense(128, use_bias=False, kernel_initializer=init), bn(),
                  layers.Activation(activation), layers.Dense(10, kernel_initializer=init)]
    return keras.Sequential(stack)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", choices=["mlp", "cnn"], default="mlp")
    p.add_argument("--activation", choices=["sigmoid", "relu", "tanh"], default="relu")
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="adam")
    p.add_argument("--lr", type=float)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--limit", type=int)
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()

    x, y, tx, ty = load(Path(a.data), a.limit)
    shape = (-1, 784) if a.arch == "mlp" else (-1, 28, 28, 1)
    x = (x.astype(np.float32) / 255).reshape(shape)
    tx = (tx.astype(np.float32) / 255).reshape(shape)

    import keras  # after the data: its import alone takes seconds
    keras.utils.set_random_seed(a.seed)
    lr = a.lr if a.lr is not None else (0.001 if a.optimizer == "adam" else 0.01)
    optimizer = keras.optimizers.Adam(lr, epsilon=1e-7) if a.optimizer == "adam" else keras.optimizers.SGD(lr)
    model = build(keras, a.arch, a.activation)
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self.start
            loss, accuracy = self.model.evaluate(tx, ty, batch_size=1000, verbose=0)
            print(json.dumps({"event": "epoch", "epoch": epoch + 1, "epochs": a.epochs, "seconds": seconds,
                              "samples_per_second": len(x) / seconds, "train_loss": logs.get("loss"),
                              "test_loss": loss, "test_accuracy": accuracy}), flush=True)

    model.fit(x, y, batch_size=a.batch_size, epochs=a.epochs, shuffle=True, verbose=0, callbacks=[Timer()])
    return 0


if __name__ == "__main__":
    sys.exit(main())
