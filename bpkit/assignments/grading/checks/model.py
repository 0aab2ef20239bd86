"""Hidden checks of the model exercises: ``TwoLayerNet.loss`` and ``ThreeLayerConvNet.loss``.

A model exercise is graded on its own code: while it runs, every layer the model reaches
through ``bpkit.layers`` or ``bpkit.layer_utils`` is the reference one, served by the
grading process (:mod:`bpkit.assignments.grading.layer_service`), so the submission's own
layers -- finished or not, right or wrong -- cannot change the model's points.

Every check uses a fixed geometry (non-square images, inputs of several dimensions, no two
sizes alike, so a transposed or mis-keyed gradient shows in its shape); only the values are
drawn from the check's generator. Biases are non-zero, so a forgotten bias shows. The
model stays in the worker: the checks set ``params`` and ``reg`` on it, call ``loss`` and
fetch only the scores, the loss and the gradients. A check of a side property (inputs left
unchanged, float32 kept) passes only when the values it produced are right too.

When a value matches what a known mistake gives, the message names that mistake; otherwise
it names the geometry, so that the case can be reproduced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bpkit import models as ref
from bpkit.assignments.grading.checks import compare as cmp
from bpkit.assignments.grading.worker_client import Remote, Worker
from bpkit.assignments.student import diagnose as dg

# Added to the last bias in the "large scores" case: exp(1000) overflows float64, so a
# softmax without the max shift gives NaN or inf, while the shifted one stays exact.
LARGE_OFFSET = 1000.0
MAX_SHIFT_HINT = dg.SOFTMAX_NO_SHIFT


@dataclass(frozen=True)
class _Net:
    """One model exercise: the class graded, its parameter keys and its weight keys."""

    name: str
    keys: tuple[str, ...]
    weights: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return f"bpkit.models.{self.name}"

    @property
    def biases(self) -> tuple[str, ...]:
        return tuple(k for k in self.keys if k not in self.weights)


TWO_LAYER = _Net("TwoLayerNet", ("W1", "b1", "W2", "b2"), ("W1", "W2"))
CONVNET = _Net("ThreeLayerConvNet", ("W1", "b1", "W2", "b2", "W3", "b3"), ("W1", "W2", "W3"))

# Geometries: (N, input shape per example, hidden units H, classes C) for the two-layer
# net; (N, (C, H, W), filters, filter size, hidden, classes) for the ConvNet.
TWO_LAYER_SHAPES = {
    "scores": (5, (2, 3), 7, 4),
    "loss": (6, (5,), 8, 3),
    "reg": (4, (3, 3), 5, 6),
    "unchanged": (3, (2, 2), 6, 5),
}
CONVNET_SHAPES = {
    "scores": (3, (2, 6, 4), 3, 3, 5, 4),
    "loss": (4, (1, 4, 6), 2, 5, 6, 3),
    "reg": (2, (3, 4, 2), 4, 3, 7, 5),
    "float32": (3, (2, 2, 4), 3, 3, 6, 4),
    "unchanged": (2, (2, 4, 6), 2, 3, 4, 3),
}


@dataclass
class _Case:
    """A model in the worker, its reference twin here, and the inputs drawn for both."""

    net: _Net
    model: Remote
    reference: object
    X: np.ndarray
    y: np.ndarray
    params: dict
    reg: float
    where: str
    dtype: type = np.float64

    @property
    def rtol(self) -> float:
        return cmp.RTOL32 if self.dtype == np.float32 else cmp.RTOL


def _weights(rng: np.random.Generator, *shape: int, fan_in: int) -> np.ndarray:
    return cmp.normal(rng, *shape, scale=1.0 / np.sqrt(fan_in))


def _install(case: _Case, params: dict) -> None:
    """Give both models ``params``: the submission's in ``case.dtype``, the reference's in
    float64 with exactly the values the submission got."""
    case.params = {k: v.astype(case.dtype) for k, v in params.items()}
    case.model.set("params", case.params)
    case.model.set("reg", case.reg)
    case.reference.params = {k: v.astype(np.float64) for k, v in case.params.items()}
    case.reference.reg = case.reg


def _two_layer(worker: Worker, rng: np.random.Generator, check: str, reg: float, dtype=np.float64):
    n, shape, h, c = TWO_LAYER_SHAPES[check]
    d = int(np.prod(shape))
    params = {
        "W1": _weights(rng, d, h, fan_in=d),
        "b1": cmp.normal(rng, h, scale=0.5),
        "W2": _weights(rng, h, c, fan_in=h),
        "b2": cmp.normal(rng, c, scale=0.5),
    }
    model = worker.function(TWO_LAYER.dotted)(d, h, c, reg=reg)
    reference = ref.TwoLayerNet(d, h, c, reg=reg)
    X = cmp.normal(rng, n, *shape).astype(dtype)
    where = f"X of shape {X.shape}, H = {h}, C = {c}, reg = {reg:.3g}, {np.dtype(dtype).name}"
    y = rng.integers(0, c, n)
    case = _Case(TWO_LAYER, model, reference, X, y, {}, reg, where, dtype)
    _install(case, params)
    return case


def _convnet(worker: Worker, rng: np.random.Generator, check: str, reg: float, dtype=np.float64):
    n, (c, h, w), f, size, hidden, classes = CONVNET_SHAPES[check]
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
    # The given code casts X to the model's dtype; the reference gets the same values.
    X = cmp.normal(rng, n, c, h, w).astype(dtype)
    where = (
        f"images of shape {X.shape}, {f} filters {size}x{size}, hidden {hidden}, "
        f"{classes} classes, reg = {reg:.3g}, {np.dtype(dtype).name}"
    )
    y = rng.integers(0, classes, n)
    case = _Case(CONVNET, model, reference, X, y, {}, reg, where, dtype)
    _install(case, params)
    return case


def _expected_scores(case: _Case) -> np.ndarray:
    return case.reference.loss(case.X.astype(np.float64))


def _check_scores(case: _Case, got: object) -> None:
    expected = _expected_scores(case)
    shifted = np.exp(expected - expected.max(axis=1, keepdims=True))
    hints = [
        (
            "returning softmax probabilities instead of the raw scores "
            "(loss(X) without y returns the scores)",
            shifted / shifted.sum(axis=1, keepdims=True),
        )
    ]
    label = f"scores of {case.net.name}.loss(X) ({case.where})"
    cmp.close(label, got, expected, case.rtol, hints)


def _scores(case: _Case, X: object = None) -> np.ndarray:
    got = case.model.attr("loss")(case.X if X is None else X).get()
    _check_scores(case, got)
    return got


def _mistakes(case: _Case, loss: float, grads: dict) -> tuple[list, dict]:
    """What known mistakes give: hints for the loss, and for each gradient."""
    p, reg, n = case.reference.params, case.reg, len(case.y)
    squares = sum(float(np.sum(p[k] ** 2)) for k in case.net.weights)
    bias_squares = sum(float(np.sum(p[k] ** 2)) for k in case.net.biases)
    penalty = 0.5 * reg * squares
    data = loss - penalty
    loss_hints = [
        (
            "summing the data loss over the batch instead of averaging (divide by N)",
            n * data + penalty,
        )
    ]
    if reg:
        loss_hints += [
            ("leaving out the L2 term", data),
            (dg.L2_WITHOUT_HALF, data + 2 * penalty),
            (
                "regularizing the biases too (the L2 term covers the weights only)",
                loss + 0.5 * reg * bias_squares,
            ),
        ]
    grad_hints: dict = {}
    for key in case.net.keys:
        own = reg * p[key] if key in case.net.weights else 0.0
        hints = [
            ("forgetting to divide the gradient of the scores by N", n * (grads[key] - own) + own)
        ]
        if reg and key in case.net.weights:
            hints += [
                ("leaving out the regularization gradient reg * W", grads[key] - own),
                ("a regularization gradient of 2 * reg * W (it is reg * W)", grads[key] + own),
            ]
        if reg and key in case.net.biases:
            hints.append(
                (
                    "regularizing the biases too (the L2 term covers the weights only)",
                    grads[key] + reg * p[key],
                )
            )
        grad_hints[key] = hints
    return loss_hints, grad_hints


def _check_loss_and_grads(case: _Case, loss_got: object, grads_got: object) -> dict:
    loss, grads = case.reference.loss(case.X.astype(np.float64), case.y)
    name, label = case.net.name, f" ({case.where})"
    loss_hints, grad_hints = _mistakes(case, float(loss), grads)
    cmp.close(f"loss of {name}.loss(X, y){label}", loss_got, float(loss), case.rtol, loss_hints)
    got = _grads_dict(case, grads_got, grads)
    for key in case.net.keys:
        what = f"grads[{key!r}] of {name}.loss{label}"
        cmp.close(what, got[key], grads[key], case.rtol, grad_hints[key])
    return got


def _loss_and_grads(case: _Case, X: object = None, y: object = None) -> dict:
    res = case.model.attr("loss")(case.X if X is None else X, case.y if y is None else y)
    return _check_loss_and_grads(case, res[0].get(), res[1].get())


def _grads_dict(case: _Case, got: object, expected: dict) -> dict:
    net = case.net
    if type(got) is not dict:
        raise cmp.CheckFailed(
            f"grads of {net.name}.loss: expected a dict, got {type(got).__name__}"
        )
    if set(got) != set(net.keys):
        keys = ", ".join(sorted(map(repr, got)))
        raise cmp.CheckFailed(
            f"grads of {net.name}.loss: expected keys {list(net.keys)}, got [{keys}]; "
            "grads must be keyed like self.params, one gradient per parameter"
        )
    for key in net.keys:
        value = got[key]
        if np.shape(value) == np.shape(expected[key]):
            continue
        for other in net.keys:
            if other != key and np.shape(value) == np.shape(expected[other]):
                raise cmp.CheckFailed(
                    f"grads[{key!r}] of {net.name}.loss has the shape of params[{other!r}], "
                    f"{np.shape(value)}; grads must be keyed like self.params "
                    f"(is the gradient of {other} stored under {key!r}?)"
                )
    return got


def _large_scores(case: _Case) -> None:
    """The same model with a large offset on the last bias: scores of magnitude 1e3."""
    last = case.net.biases[-1]
    params = {k: v.astype(np.float64) for k, v in case.params.items()}
    params[last] = params[last] + LARGE_OFFSET
    _install(case, params)
    res = case.model.attr("loss")(case.X, case.y)
    loss_got = res[0].get()
    value = cmp.scalar(f"loss of {case.net.name}.loss(X, y)", loss_got)
    if not np.isfinite(value):
        raise cmp.CheckFailed(
            f"loss of {case.net.name}.loss(X, y) is {value} when the scores are about "
            f"{LARGE_OFFSET:g} ({case.where}); {MAX_SHIFT_HINT}"
        )
    case.where += f", scores about {LARGE_OFFSET:g}"
    grads_got = res[1].get()
    if type(grads_got) is dict:
        for key, grad in grads_got.items():
            if type(grad) is np.ndarray and grad.dtype.kind == "f" and not np.isfinite(grad).all():
                raise cmp.CheckFailed(
                    f"grads[{key!r}] of {case.net.name}.loss has NaN or infinite entries "
                    f"({case.where}); {MAX_SHIFT_HINT}"
                )
    _check_loss_and_grads(case, loss_got, grads_got)


def _inputs_unchanged(case: _Case, worker: Worker) -> None:
    """X, y and params left as they were by loss(X, y) and loss(X), whose values are right."""
    xr, yr = worker.put(case.X, "X"), worker.put(case.y, "y")
    res = case.model.attr("loss")(xr, yr)
    loss, grads = res[0].get(), res[1].get()
    _unchanged(case, xr, yr)
    _check_loss_and_grads(case, loss, grads)
    scores = case.model.attr("loss")(xr).get()
    _unchanged(case, xr, yr)
    _check_scores(case, scores)


def _unchanged(case: _Case, xr: Remote, yr: Remote) -> None:
    func = f"{case.net.name}.loss"
    cmp.unchanged("X", xr.get(), case.X, func)
    cmp.unchanged("y", yr.get(), case.y, func)
    after = case.model.attr("params").get()
    if type(after) is not dict:
        raise cmp.CheckFailed(f"{func} replaced self.params with a non-dict")
    for key in case.net.keys:
        cmp.unchanged(f"self.params[{key!r}]", after.get(key), case.params[key], func)


def _float32(case: _Case) -> None:
    """float32 parameters and inputs: the values right, and float32 kept throughout."""
    name = case.net.name
    cmp.dtype_is(f"scores of a float32 {name}", _scores(case), np.float32)
    grads = _loss_and_grads(case)
    for key in case.net.keys:
        cmp.dtype_is(f"grads[{key!r}] of a float32 {name}", grads[key], np.float32)


def _reg(rng: np.random.Generator) -> float:
    return float(rng.uniform(0.3, 1.0))


# ------------------------------------------------------------------ TwoLayerNet


def scores(worker: Worker, rng: np.random.Generator) -> None:
    """float64 scores, then float32 parameters and inputs giving float32 scores."""
    _scores(_two_layer(worker, rng, "scores", 0.0))
    case = _two_layer(worker, rng, "scores", 0.0, np.float32)
    cmp.dtype_is(
        f"scores of a TwoLayerNet with float32 params ({case.where})", _scores(case), np.float32
    )


def loss_no_reg(worker: Worker, rng: np.random.Generator) -> None:
    case = _two_layer(worker, rng, "loss", 0.0)
    _loss_and_grads(case)
    _large_scores(case)


def loss_with_reg(worker: Worker, rng: np.random.Generator) -> None:
    _loss_and_grads(_two_layer(worker, rng, "reg", _reg(rng)))


def inputs_unchanged(worker: Worker, rng: np.random.Generator) -> None:
    # reg 0: a mistake in the L2 term costs the "reg" check alone.
    _inputs_unchanged(_two_layer(worker, rng, "unchanged", 0.0), worker)


# ------------------------------------------------------------------ ThreeLayerConvNet


def convnet_scores(worker: Worker, rng: np.random.Generator) -> None:
    _scores(_convnet(worker, rng, "scores", 0.0))


def convnet_loss_no_reg(worker: Worker, rng: np.random.Generator) -> None:
    case = _convnet(worker, rng, "loss", 0.0)
    _loss_and_grads(case)
    _large_scores(case)


def convnet_loss_with_reg(worker: Worker, rng: np.random.Generator) -> None:
    _loss_and_grads(_convnet(worker, rng, "reg", _reg(rng)))


def convnet_float32(worker: Worker, rng: np.random.Generator) -> None:
    _float32(_convnet(worker, rng, "float32", _reg(rng), np.float32))


def convnet_inputs_unchanged(worker: Worker, rng: np.random.Generator) -> None:
    _inputs_unchanged(_convnet(worker, rng, "unchanged", 0.0), worker)
