"""Hidden checks of the affine, ReLU and softmax-loss exercises.

Each check draws fresh inputs from ``rng``, runs the submission in the worker and the
reference here, and raises :class:`~bpkit.assignments.grading.checks.compare.CheckFailed` with the
difference in words. Which cache a backward is fed, and the one "pair" check per exercise
that needs forward and backward to work together, follow the rule written down in
:mod:`bpkit.assignments.grading.checks.backward`.
"""

from __future__ import annotations

import numpy as np

from bpkit import layers as ref
from bpkit.assignments.grading.checks import backward as bw
from bpkit.assignments.grading.checks import compare as cmp
from bpkit.assignments.grading.worker_client import Worker

LAYERS = "bpkit.layers"


def _affine_inputs(rng: np.random.Generator, dtype=np.float64):
    n, d1, d2, m = rng.integers(2, 6), rng.integers(2, 5), rng.integers(2, 5), rng.integers(3, 7)
    x = cmp.normal(rng, n, d1, d2).astype(dtype)
    w = cmp.normal(rng, d1 * d2, m).astype(dtype)
    b = cmp.normal(rng, m).astype(dtype)
    return x, w, b


def affine_forward(worker: Worker, rng: np.random.Generator) -> None:
    x, w, b = _affine_inputs(rng)
    res = worker.function(f"{LAYERS}.affine_forward")(x, w, b)
    expected, _ = ref.affine_forward(x, w, b)
    cmp.close("out of affine_forward", res[0].get(), expected)


def _affine_backward(worker: Worker, rng: np.random.Generator, fallback: bool) -> None:
    x, w, b = _affine_inputs(rng)
    if fallback:
        cache, content = bw.cache_for(worker, "affine_forward", (x, w, b), (x, w, b))
    else:
        cache, content = bw.own_cache(worker, "affine_forward", (x, w, b))
    out, ref_cache = ref.affine_forward(x, w, b)
    dout = cmp.normal(rng, *out.shape)
    grads = bw.run(worker, "affine_backward", dout, cache, content)
    expected = ref.affine_backward(dout, ref_cache)
    for i, name in enumerate(("dx", "dw", "db")):
        cmp.close(f"{name} of affine_backward", grads[i].get(), expected[i])


def affine_backward(worker: Worker, rng: np.random.Generator) -> None:
    """affine_backward on its forward's cache, or the given layout if the forward raises."""
    _affine_backward(worker, rng, fallback=True)


def affine_pair(worker: Worker, rng: np.random.Generator) -> None:
    """affine_forward then affine_backward on that forward's own cache, no fallback."""
    _affine_backward(worker, rng, fallback=False)


def affine_float32(worker: Worker, rng: np.random.Generator) -> None:
    x, w, b = _affine_inputs(rng, np.float32)
    inputs = {"x": worker.put(x, "x"), "w": worker.put(w, "w"), "b": worker.put(b, "b")}
    res = worker.function(f"{LAYERS}.affine_forward")(*inputs.values())
    for name, original in zip(inputs, (x, w, b), strict=True):
        cmp.unchanged(name, inputs[name].get(), original, "affine_forward")
    out = res[0].get()
    cmp.dtype_is("out of affine_forward for float32 inputs", out, np.float32)
    x64, w64, b64 = (a.astype(np.float64) for a in (x, w, b))
    expected, _ = ref.affine_forward(x64, w64, b64)
    cmp.close("out of affine_forward (float32)", out, expected, cmp.RTOL32)
    dout = cmp.normal(rng, *out.shape).astype(np.float32)
    cache, content = bw.cache_for(worker, "affine_forward", (x, w, b), (x, w, b))
    grads = bw.run(worker, "affine_backward", dout, cache, content)
    for i, name in enumerate(("dx", "dw", "db")):
        cmp.dtype_is(f"{name} of affine_backward for float32 inputs", grads[i].get(), np.float32)


def relu_forward(worker: Worker, rng: np.random.Generator) -> None:
    x = cmp.distinct(rng, (int(rng.integers(2, 5)), int(rng.integers(3, 7)), 3))
    res = worker.function(f"{LAYERS}.relu_forward")(x)
    cmp.close("out of relu_forward", res[0].get(), ref.relu_forward(x)[0])


def _relu_backward(worker: Worker, rng: np.random.Generator, fallback: bool) -> None:
    x = cmp.distinct(rng, (int(rng.integers(2, 5)), int(rng.integers(3, 7))))
    if fallback:
        cache, content = bw.cache_for(worker, "relu_forward", (x,), x)
    else:
        cache, content = bw.own_cache(worker, "relu_forward", (x,))
    dout = cmp.normal(rng, *x.shape)
    dx = bw.run(worker, "relu_backward", dout, cache, content).get()
    _, ref_cache = ref.relu_forward(x)
    cmp.close("dx of relu_backward", dx, ref.relu_backward(dout, ref_cache))


def relu_backward(worker: Worker, rng: np.random.Generator) -> None:
    """relu_backward on its forward's cache, or the given layout if the forward raises."""
    _relu_backward(worker, rng, fallback=True)


def relu_pair(worker: Worker, rng: np.random.Generator) -> None:
    """relu_forward then relu_backward on that forward's own cache, no fallback."""
    _relu_backward(worker, rng, fallback=False)


def relu_float32(worker: Worker, rng: np.random.Generator) -> None:
    x = cmp.distinct(rng, (3, 5)).astype(np.float32)
    xr = worker.put(x, "x")
    res = worker.function(f"{LAYERS}.relu_forward")(xr)
    cmp.unchanged("x", xr.get(), x, "relu_forward")
    cmp.dtype_is("out of relu_forward for float32 x", res[0].get(), np.float32)
    dout = cmp.normal(rng, *x.shape).astype(np.float32)
    cache, content = bw.cache_for(worker, "relu_forward", (x,), x)
    dx = bw.run(worker, "relu_backward", dout, cache, content).get()
    cmp.dtype_is("dx of relu_backward for float32 inputs", dx, np.float32)


def _softmax_check(worker: Worker, x: np.ndarray, y: np.ndarray, label: str) -> None:
    res = worker.function(f"{LAYERS}.softmax_loss")(x, y)
    loss, dx = ref.softmax_loss(x, y)
    n = len(y)
    cmp.close(
        f"loss of softmax_loss{label}",
        res[0].get(),
        float(loss),
        hints=[("summing over the batch instead of averaging (no / N)", loss * n)],
    )
    cmp.close(
        f"dx of softmax_loss{label}",
        res[1].get(),
        dx,
        hints=[("forgetting to divide the gradient by N", dx * n)],
    )


def softmax_values(worker: Worker, rng: np.random.Generator) -> None:
    n, c = int(rng.integers(4, 9)), int(rng.integers(3, 11))
    _softmax_check(worker, cmp.normal(rng, n, c, scale=3.0), rng.integers(0, c, n), "")


def softmax_large_scores(worker: Worker, rng: np.random.Generator) -> None:
    """Scores of magnitude 1e4 that differ by a few units within a row.

    exp() of 1e4 overflows float64 and exp(-1e4) underflows to 0, so a softmax without the
    max shift gives NaN; with the shift every row's scores are a few units apart, so every
    correct variant -- log-sum-exp, or normalized probabilities and then log p -- is exact.
    """
    n, c = int(rng.integers(4, 9)), int(rng.integers(3, 8))
    offsets = rng.choice([-1.0, 1.0], size=(n, 1)) * 1e4
    x = offsets + cmp.normal(rng, n, c, scale=3.0)
    _softmax_check(worker, x, rng.integers(0, c, n), " for scores of magnitude 1e4")


def softmax_float32(worker: Worker, rng: np.random.Generator) -> None:
    n, c = int(rng.integers(4, 9)), int(rng.integers(3, 8))
    x, y = cmp.normal(rng, n, c, scale=3.0).astype(np.float32), rng.integers(0, c, n)
    xr, yr = worker.put(x, "x"), worker.put(y, "y")
    res = worker.function(f"{LAYERS}.softmax_loss")(xr, yr)
    cmp.unchanged("x", xr.get(), x, "softmax_loss")
    cmp.unchanged("y", yr.get(), y, "softmax_loss")
    dx = res[1].get()
    cmp.dtype_is("dx of softmax_loss for float32 scores", dx, np.float32)
    loss, expected = ref.softmax_loss(x.astype(np.float64), y)
    cmp.close("loss of softmax_loss (float32)", res[0].get(), float(loss), cmp.RTOL32)
    cmp.close("dx of softmax_loss (float32)", dx, expected, cmp.RTOL32)
