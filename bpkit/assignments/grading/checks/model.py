"""Hidden checks of the model exercises: ``TwoLayerNet.loss`` and ``ThreeLayerConvNet.loss``.

The submission's model is built in the worker and given parameters drawn here (non-zero
biases, so a forgotten bias shows); the reference model gets the same ones. The model
stays in the worker: the checks set ``params`` and ``reg`` on it, call ``loss`` and fetch
only the scores, the loss and the gradients. The ConvNet's weights are drawn with a standard
deviation of ``1 / sqrt(fan_in)``, so its scores stay of order one and every ReLU sees both
signs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bpkit import models as ref
from bpkit.assignments.grading.checks import compare as cmp
from bpkit.assignments.grading.worker_client import Remote, Worker


@dataclass(frozen=True)
class _Net:
    """One model exercise: the class graded, its parameter keys and its weight keys."""

    name: str
    keys: tuple[str, ...]
    weights: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return f"bpkit.models.{self.name}"


TWO_LAYER = _Net("TwoLayerNet", ("W1", "b1", "W2", "b2"), ("W1", "W2"))
CONVNET = _Net("ThreeLayerConvNet", ("W1", "b1", "W2", "b2", "W3", "b3"), ("W1", "W2", "W3"))


@dataclass
class _Case:
    """A model in the worker, its reference twin here, and the inputs drawn for both."""

    net: _Net
    model: Remote
    reference: object
    X: np.ndarray
    y: np.ndarray
    params: dict


def _weights(rng: np.random.Generator, *shape: int, fan_in: int) -> np.ndarray:
    return cmp.normal(rng, *shape, scale=1.0 / np.sqrt(fan_in))


def _install(model: Remote, reference, params: dict, reg: float, dtype) -> None:
    model.set("params", {k: v.astype(dtype) for k, v in params.items()})
    model.set("reg", reg)
    # The reference sees exactly the values the submission got, in float64.
    reference.params = {k: v.astype(dtype).astype(np.float64) for k, v in params.items()}
    reference.reg = reg


def _two_layer(worker: Worker, rng: np.random.Generator, reg: float) -> _Case:
    n, d, h, c = (int(rng.integers(lo, hi)) for lo, hi in ((3, 7), (4, 9), (5, 11), (3, 6)))
    params = {
        "W1": cmp.normal(rng, d, h, scale=0.5),
        "b1": cmp.normal(rng, h, scale=0.5),
        "W2": cmp.normal(rng, h, c, scale=0.5),
        "b2": cmp.normal(rng, c, scale=0.5),
    }
    model = worker.function(TWO_LAYER.dotted)(d, h, c, reg=reg)
    reference = ref.TwoLayerNet(d, h, c, reg=reg)
    _install(model, reference, params, reg, np.float64)
    return _Case(TWO_LAYER, model, reference, cmp.normal(rng, n, d), rng.integers(0, c, n), params)


def _convnet(worker: Worker, rng: np.random.Generator, reg: float, dtype=np.float64) -> _Case:
    """A small ConvNet: images of 1-3 channels and 4 or 6 pixels a side, 3x3 or 5x5 filters."""
    c, f, hidden, classes, n = (
        int(rng.integers(lo, hi)) for lo, hi in ((1, 4), (2, 5), (3, 8), (3, 6), (2, 5))
    )
    h, w = (2 * int(v) for v in rng.integers(2, 4, size=2))
    size = int(rng.choice([3, 5]))
    pooled = f * (h // 2) * (w // 2)
    params = {
        "W1": _weights(rng, f, c, size, size, fan_in=c * size * size),
        "b1": cmp.normal(rng, f, scale=0.5),
        "W2": _weights(rng, pooled, hidden, fan_in=pooled),
        "b2": cmp.normal(rng, hidden, scale=0.5),
        "W3": _weights(rng, hidden, classes, fan_in=hidden),
        "b3": cmp.normal(rng, classes, scale=0.5),
    }
    kwargs = {
        "input_dim": (c, h, w),
        "num_filters": f,
        "filter_size": size,
        "hidden_dim": hidden,
        "num_classes": classes,
        "reg": reg,
    }
    # A dtype crosses as its name: plain data only goes to the worker.
    model = worker.function(CONVNET.dotted)(**kwargs, dtype=np.dtype(dtype).name)
    reference = ref.ThreeLayerConvNet(**kwargs, dtype=np.float64)
    _install(model, reference, params, reg, dtype)
    X, y = cmp.normal(rng, n, c, h, w), rng.integers(0, classes, n)
    return _Case(CONVNET, model, reference, X, y, params)


def _scores(case: _Case, rtol: float = cmp.RTOL, X: np.ndarray | None = None) -> np.ndarray:
    X = case.X if X is None else X
    got = case.model.attr("loss")(X).get()
    label = f"scores of {case.net.name}.loss(X)"
    cmp.close(label, got, case.reference.loss(X.astype(np.float64)), rtol)
    return got


def _loss_and_grads(case: _Case, reg: float, rtol: float = cmp.RTOL, X=None) -> dict:
    X = case.X if X is None else X
    res = case.model.attr("loss")(X, case.y)
    loss, grads = case.reference.loss(X.astype(np.float64), case.y)
    name, label = case.net.name, f" (reg = {reg:.3g})"
    weights = case.reference.params
    penalty = 0.5 * reg * sum(np.sum(weights[k] ** 2) for k in case.net.weights)
    hints = [("leaving out the L2 term", loss - penalty)] if reg else []
    cmp.close(f"loss of {name}.loss(X, y){label}", res[0].get(), float(loss), rtol, hints)
    got = _grads_dict(case.net, res[1].get())
    for key in case.net.keys:
        hints = []
        if reg and key in case.net.weights:
            without = grads[key] - reg * weights[key]
            hints = [("leaving out the regularization gradient reg * W", without)]
        cmp.close(f"grads[{key!r}] of {name}.loss{label}", got[key], grads[key], rtol, hints)
    return got


def _grads_dict(net: _Net, got: object) -> dict:
    if type(got) is not dict:
        raise cmp.CheckFailed(
            f"grads of {net.name}.loss: expected a dict, got {type(got).__name__}"
        )
    if set(got) != set(net.keys):
        keys = sorted(map(repr, got))
        raise cmp.CheckFailed(
            f"grads of {net.name}.loss: expected keys {list(net.keys)}, got [{', '.join(keys)}]"
        )
    return got


def _inputs_unchanged(case: _Case, worker: Worker) -> None:
    xr, yr = worker.put(case.X, "X"), worker.put(case.y, "y")
    case.model.attr("loss")(xr, yr)
    func = f"{case.net.name}.loss"
    cmp.unchanged("X", xr.get(), case.X, func)
    cmp.unchanged("y", yr.get(), case.y, func)
    after = case.model.attr("params").get()
    if type(after) is not dict:
        raise cmp.CheckFailed(f"{func} replaced self.params with a non-dict")
    for key in case.net.keys:
        cmp.unchanged(f"self.params[{key!r}]", after.get(key), case.params[key], func)


# ------------------------------------------------------------------ TwoLayerNet


def scores(worker: Worker, rng: np.random.Generator) -> None:
    _scores(_two_layer(worker, rng, 0.0))


def loss_no_reg(worker: Worker, rng: np.random.Generator) -> None:
    _loss_and_grads(_two_layer(worker, rng, 0.0), 0.0)


def loss_with_reg(worker: Worker, rng: np.random.Generator) -> None:
    reg = float(rng.uniform(0.1, 1.0))
    _loss_and_grads(_two_layer(worker, rng, reg), reg)


def inputs_unchanged(worker: Worker, rng: np.random.Generator) -> None:
    _inputs_unchanged(_two_layer(worker, rng, float(rng.uniform(0.1, 1.0))), worker)


# ------------------------------------------------------------------ ThreeLayerConvNet


def convnet_scores(worker: Worker, rng: np.random.Generator) -> None:
    _scores(_convnet(worker, rng, 0.0))


def convnet_loss_no_reg(worker: Worker, rng: np.random.Generator) -> None:
    _loss_and_grads(_convnet(worker, rng, 0.0), 0.0)


def convnet_loss_with_reg(worker: Worker, rng: np.random.Generator) -> None:
    reg = float(rng.uniform(0.1, 1.0))
    _loss_and_grads(_convnet(worker, rng, reg), reg)


def convnet_float32(worker: Worker, rng: np.random.Generator) -> None:
    reg = float(rng.uniform(0.1, 1.0))
    case = _convnet(worker, rng, reg, np.float32)
    # The given code casts X to the model's dtype; the reference gets the same values.
    X = case.X.astype(np.float32)
    cmp.dtype_is("scores of a float32 ThreeLayerConvNet", _scores(case, cmp.RTOL32, X), np.float32)
    grads = _loss_and_grads(case, reg, cmp.RTOL32, X)
    for key in CONVNET.keys:
        cmp.dtype_is(f"grads[{key!r}] of a float32 ThreeLayerConvNet", grads[key], np.float32)


def convnet_inputs_unchanged(worker: Worker, rng: np.random.Generator) -> None:
    _inputs_unchanged(_convnet(worker, rng, float(rng.uniform(0.1, 1.0))), worker)
