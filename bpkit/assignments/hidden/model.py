"""Hidden checks of ``TwoLayerNet.loss``.

The submission's model is built in the worker and given parameters drawn here (non-zero
biases, so a forgotten bias shows); the reference model gets the same ones. The model
stays in the worker: the checks set ``params`` and ``reg`` on it, call ``loss`` and fetch
only the scores, the loss and the gradients.
"""

from __future__ import annotations

import numpy as np

from bpkit import models as ref
from bpkit.assignments.hidden import compare as cmp
from bpkit.assignments.remote import Remote, Worker

MODEL = "bpkit.models.TwoLayerNet"
KEYS = ("W1", "b1", "W2", "b2")


def _setup(worker: Worker, rng: np.random.Generator, reg: float):
    n, d, h, c = (int(rng.integers(lo, hi)) for lo, hi in ((3, 7), (4, 9), (5, 11), (3, 6)))
    params = {
        "W1": cmp.normal(rng, d, h, scale=0.5),
        "b1": cmp.normal(rng, h, scale=0.5),
        "W2": cmp.normal(rng, h, c, scale=0.5),
        "b2": cmp.normal(rng, c, scale=0.5),
    }
    model = worker.function(MODEL)(d, h, c, reg=reg)
    model.set("params", {k: v.copy() for k, v in params.items()})
    model.set("reg", reg)
    reference = ref.TwoLayerNet(d, h, c, reg=reg)
    reference.params = {k: v.copy() for k, v in params.items()}
    reference.reg = reg
    return model, reference, cmp.normal(rng, n, d), rng.integers(0, c, n), params


def scores(worker: Worker, rng: np.random.Generator) -> None:
    model, reference, X, _, _ = _setup(worker, rng, 0.0)
    got = model.attr("loss")(X).get()
    cmp.close("scores of TwoLayerNet.loss(X)", got, reference.loss(X))


def _loss_and_grads(worker: Worker, rng: np.random.Generator, reg: float) -> None:
    model, reference, X, y, params = _setup(worker, rng, reg)
    res = model.attr("loss")(X, y)
    loss, grads = reference.loss(X, y)
    label = f" (reg = {reg:.3g})"
    penalty = 0.5 * reg * sum(np.sum(params[k] ** 2) for k in ("W1", "W2"))
    hints = [("leaving out the L2 term", loss - penalty)] if reg else []
    cmp.close("loss of TwoLayerNet.loss(X, y)" + label, res[0].get(), float(loss), hints=hints)
    _check_grads(res[1], grads, params, reg, label)


def _check_grads(theirs: Remote, grads: dict, params: dict, reg: float, label: str) -> None:
    got = theirs.get()
    if type(got) is not dict:
        raise cmp.CheckFailed(
            f"grads of TwoLayerNet.loss: expected a dict, got {type(got).__name__}"
        )
    if sorted(got) != sorted(KEYS):
        raise cmp.CheckFailed(
            f"grads of TwoLayerNet.loss: expected keys {list(KEYS)}, got {sorted(got)}"
        )
    for key in KEYS:
        hints = []
        if reg and key in ("W1", "W2"):
            hints = [
                ("leaving out the regularization gradient reg * W", grads[key] - reg * params[key])
            ]
        cmp.close(f"grads[{key!r}] of TwoLayerNet.loss" + label, got[key], grads[key], hints=hints)


def loss_no_reg(worker: Worker, rng: np.random.Generator) -> None:
    _loss_and_grads(worker, rng, 0.0)


def loss_with_reg(worker: Worker, rng: np.random.Generator) -> None:
    _loss_and_grads(worker, rng, float(rng.uniform(0.1, 1.0)))


def inputs_unchanged(worker: Worker, rng: np.random.Generator) -> None:
    model, _, X, y, params = _setup(worker, rng, float(rng.uniform(0.1, 1.0)))
    xr, yr = worker.put(X, "X"), worker.put(y, "y")
    model.attr("loss")(xr, yr)
    cmp.unchanged("X", xr.get(), X, "TwoLayerNet.loss")
    cmp.unchanged("y", yr.get(), y, "TwoLayerNet.loss")
    after = model.attr("params").get()
    if type(after) is not dict:
        raise cmp.CheckFailed("TwoLayerNet.loss replaced self.params with a non-dict")
    for key in KEYS:
        cmp.unchanged(f"self.params[{key!r}]", after.get(key), params[key], "TwoLayerNet.loss")
