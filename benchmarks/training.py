"""End-to-end training on the embedded digits: what the fast layers buy a whole course run.

Each recipe is fixed in advance (hyperparameters, epochs, seeds); the test set is scored
once, after training, and the result says whether it reached the 97% target.
"""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager, nullcontext
from unittest import mock

import numpy as np

from bpkit import layer_utils, layers
from bpkit.data import load_digits
from bpkit.models import ThreeLayerConvNet, TwoLayerNet
from bpkit.solver import Solver

TARGET = 0.97


def _accuracy(model, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(model.loss(X), axis=1) == y))


def _train(model, data: dict, epochs: int) -> tuple[Solver, float]:
    solver = Solver(
        model,
        data,
        update_rule="adam",
        optim_config={"learning_rate": 1e-3},
        batch_size=50,
        num_epochs=epochs,
        verbose=False,
        seed=0,
    )
    t0 = time.perf_counter()
    solver.train()
    return solver, time.perf_counter() - t0


@contextmanager
def naive_conv_layers():
    """Make the conv net's sandwich layers use the naive loops for the duration."""
    with mock.patch.multiple(
        layer_utils,
        conv_forward_fast=layers.conv_forward_naive,
        conv_backward_fast=layers.conv_backward_naive,
        max_pool_forward_fast=layers.max_pool_forward_naive,
        max_pool_backward_fast=layers.max_pool_backward_naive,
    ):
        yield


def _conv_net(dtype) -> ThreeLayerConvNet:
    return ThreeLayerConvNet(
        (1, 8, 8), 32, 3, 100, 10, weight_scale=1e-1, reg=1e-3, dtype=dtype, seed=0
    )


def run(quick: bool = False) -> dict:
    """Train both models; return times (seconds) and test accuracies."""
    results = {}
    flat = load_digits(flat=True)
    epochs = 2 if quick else 50
    model = TwoLayerNet(64, 100, 10, weight_scale=1e-1, reg=1e-3, seed=0)
    solver, seconds = _train(model, flat, epochs)
    acc = _accuracy(model, flat["X_test"], flat["y_test"])
    results["two_layer_net"] = _entry(epochs, seconds, acc, solver)

    images = load_digits(dtype=np.float32)
    epoch = {"fast": [], "naive": []}
    for _ in range(1 if quick else 5):  # alternated, medians: one epoch takes ~0.1 s
        for kind in epoch:
            with naive_conv_layers() if kind == "naive" else nullcontext():
                epoch[kind].append(_train(_conv_net(np.float32), images, 1)[1])
    epoch = {kind: statistics.median(times) for kind, times in epoch.items()}
    results["conv_net_one_epoch"] = {
        "fast_s": epoch["fast"],
        "naive_s": epoch["naive"],
        "speedup": epoch["naive"] / epoch["fast"],
    }
    epochs = 2 if quick else 15
    model = _conv_net(np.float32)
    solver, seconds = _train(model, images, epochs)
    acc = _accuracy(model, images["X_test"], images["y_test"])
    results["conv_net"] = _entry(epochs, seconds, acc, solver)
    return results


def _entry(epochs: int, seconds: float, test_acc: float, solver: Solver) -> dict:
    return {
        "epochs": epochs,
        "train_s": seconds,
        "best_val_acc": solver.best_val_acc,
        "test_acc": test_acc,
        "reached_target": test_acc >= TARGET,
    }
