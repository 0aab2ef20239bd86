"""Hidden checks of the affine, ReLU and softmax-loss exercises.

Every check runs a fixed battery of inputs (:data:`AFFINE_CASES`, :data:`RELU_SHAPES`,
:data:`SOFTMAX_CASES`): the shapes, where the exact zeros of a ReLU input sit and how large
the softmax scores are never change; only the values come from ``rng``. A check raises
:class:`~bpkit.assignments.grading.checks.compare.CheckFailed` naming the case that failed and,
when the answer is what a known mistake gives, the mistake. Which cache a backward is fed,
and the one "pair" check per exercise that needs forward and backward to work together
(it checks both the forward's output and the backward's gradients), follow
:mod:`bpkit.assignments.grading.checks.backward`. A side property (float32 kept, inputs left
alone) scores only when the values that come with it are right too.
"""

from __future__ import annotations

import numpy as np

from bpkit import layers as ref
from bpkit.assignments.grading.checks import backward as bw
from bpkit.assignments.grading.checks import compare as cmp
from bpkit.assignments.grading.worker_client import Worker
from bpkit.assignments.student import diagnose as dg

LAYERS = "bpkit.layers"

# (N, trailing shape of x, M): x of 2, 3 and 4 dimensions; N != M != D so that an axis
# mixed up changes a shape.
AFFINE_CASES = ((2, (3, 4), 5), (4, (7,), 3), (3, (2, 3, 2), 1))


def _affine_inputs(rng: np.random.Generator, case: tuple, dtype=np.float64):
    n, trailing, m = case
    x = cmp.normal(rng, n, *trailing).astype(dtype)
    w = cmp.normal(rng, int(np.prod(trailing)), m).astype(dtype)
    b = cmp.away(rng, (m,)).astype(dtype)
    return x, w, b


def _affine_label(x: np.ndarray, w: np.ndarray) -> str:
    return f" (x of shape {x.shape}, w of shape {w.shape})"


def _check_affine_out(got: object, x, w, b, rtol: float = cmp.RTOL) -> None:
    wide = [a.astype(np.float64) for a in (x, w, b)]
    expected, _ = ref.affine_forward(*wide)
    flat = wide[0].reshape(len(x), -1)
    cmp.close(
        "out of affine_forward" + _affine_label(x, w),
        got,
        expected,
        rtol,
        hints=[(dg.AFFINE_NO_BIAS, flat @ wide[1])],
    )


def _check_affine_grads(grads, dout: np.ndarray, x, w, b, rtol: float = cmp.RTOL) -> list:
    wide = [a.astype(np.float64) for a in (x, w, b)]
    _, cache = ref.affine_forward(*wide)
    dx, dw, db = ref.affine_backward(dout.astype(np.float64), cache)
    n, m = len(x), w.shape[1]
    flat = wide[0].reshape(n, -1)
    label = " of affine_backward" + _affine_label(x, w)
    got = [grads[i].get() for i in range(3)]
    cmp.close(
        "dx" + label, got[0], dx, rtol, hints=[(dg.DIVIDED_BY_N, dx / n)],
        shape_hints=[((n, flat.shape[1]), dg.AFFINE_DX_FLAT)] if x.ndim > 2 else (),
    )  # fmt: skip
    cmp.close(
        "dw" + label, got[1], dw, rtol,
        hints=[(dg.DIVIDED_BY_N, dw / n)],
        shape_hints=[((m, flat.shape[1]), dg.AFFINE_DW_TRANSPOSED)],
    )  # fmt: skip
    cmp.close(
        "db" + label, got[2], db, rtol,
        hints=[(dg.DIVIDED_BY_N, db / n)],
        shape_hints=[((1, m), dg.AFFINE_DB_KEEPDIMS), ((n,), dg.AFFINE_DB_AXIS)],
    )  # fmt: skip
    return got


def affine_forward(worker: Worker, rng: np.random.Generator) -> None:
    for case in AFFINE_CASES:
        x, w, b = _affine_inputs(rng, case)
        res = worker.function(f"{LAYERS}.affine_forward")(x, w, b)
        _check_affine_out(res[0].get(), x, w, b)


def _affine_backward(worker: Worker, rng: np.random.Generator, fallback: bool) -> None:
    for case in AFFINE_CASES:
        x, w, b = _affine_inputs(rng, case)
        if fallback:
            cache, content = bw.cache_for(worker, "affine_forward", (x, w, b), (x, w, b))
        else:
            res = worker.function(f"{LAYERS}.affine_forward")(x, w, b)
            _check_affine_out(res[0].get(), x, w, b)
            cache, content = res[1], res[1].get()
        dout = cmp.normal(rng, len(x), w.shape[1])
        grads = bw.run(worker, "affine_backward", dout, cache, content)
        _check_affine_grads(grads, dout, x, w, b)


def affine_backward(worker: Worker, rng: np.random.Generator) -> None:
    """affine_backward on its forward's cache, or the given layout if the forward raises."""
    _affine_backward(worker, rng, fallback=True)


def affine_pair(worker: Worker, rng: np.random.Generator) -> None:
    """affine_forward's output, then affine_backward on that forward's own cache."""
    _affine_backward(worker, rng, fallback=False)


def affine_float32(worker: Worker, rng: np.random.Generator) -> None:
    """float32 in, float32 out, right values, x, w and b left alone."""
    x, w, b = _affine_inputs(rng, AFFINE_CASES[0], np.float32)
    inputs = {"x": worker.put(x, "x"), "w": worker.put(w, "w"), "b": worker.put(b, "b")}
    res = worker.function(f"{LAYERS}.affine_forward")(*inputs.values())
    for name, original in zip(inputs, (x, w, b), strict=True):
        cmp.unchanged(name, inputs[name].get(), original, "affine_forward")
    out = res[0].get()
    _check_affine_out(out, x, w, b, cmp.RTOL32)
    cmp.dtype_is("out of affine_forward for float32 inputs", out, np.float32)
    dout = cmp.normal(rng, *out.shape).astype(np.float32)
    cache, content = bw.cache_for(worker, "affine_forward", (x, w, b), (x, w, b))
    grads = bw.run(worker, "affine_backward", dout, cache, content)
    got = _check_affine_grads(grads, dout, x, w, b, cmp.RTOL32)
    for name, value in zip(("dx", "dw", "db"), got, strict=True):
        cmp.dtype_is(f"{name} of affine_backward for float32 inputs", value, np.float32)


# ReLU inputs: mixed signs, every value distinct, and exact zeros at fixed places (the
# gradient there is 0), in 2-d and 4-d.
RELU_SHAPES = ((3, 5), (2, 3, 2, 4))


def _relu_input(rng: np.random.Generator, shape: tuple, dtype=np.float64) -> np.ndarray:
    x = cmp.distinct(rng, shape)
    flat = x.reshape(-1)
    flat[:: max(3, flat.size // 5)] = 0.0  # several exact zeros, always in the same places
    return x.astype(dtype)


def _relu_label(x: np.ndarray) -> str:
    return f" (x of shape {x.shape} with {int(np.sum(x == 0))} entries exactly 0)"


def _check_relu_out(got: object, x: np.ndarray) -> None:
    expected = np.maximum(x.astype(np.float64), 0.0)
    cmp.close("out of relu_forward" + _relu_label(x), got, expected)


def _check_relu_dx(got: object, dout: np.ndarray, x: np.ndarray) -> None:
    x64, d64 = x.astype(np.float64), dout.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        nan_at_zero = d64 * np.maximum(x64, 0) / x64
    cmp.close(
        "dx of relu_backward" + _relu_label(x),
        got,
        ref.relu_backward(d64, ref.relu_forward(x64)[1]),
        hints=[
            (dg.RELU_MASK_AT_ZERO, d64 * (x64 >= 0)),
            (dg.RELU_DIVIDES_BY_X, nan_at_zero),
            (dg.RELU_TIMES_X, d64 * x64),
        ],
        nan_hint=dg.RELU_DIVIDES_BY_X,
    )


def relu_forward(worker: Worker, rng: np.random.Generator) -> None:
    for shape in RELU_SHAPES:
        x = _relu_input(rng, shape)
        res = worker.function(f"{LAYERS}.relu_forward")(x)
        _check_relu_out(res[0].get(), x)


def _relu_backward(worker: Worker, rng: np.random.Generator, fallback: bool) -> None:
    for shape in RELU_SHAPES:
        x = _relu_input(rng, shape)
        if fallback:
            cache, content = bw.cache_for(worker, "relu_forward", (x,), x)
        else:
            res = worker.function(f"{LAYERS}.relu_forward")(x)
            _check_relu_out(res[0].get(), x)
            cache, content = res[1], res[1].get()
        dout = cmp.away(rng, x.shape)
        dx = bw.run(worker, "relu_backward", dout, cache, content).get()
        _check_relu_dx(dx, dout, x)


def relu_backward(worker: Worker, rng: np.random.Generator) -> None:
    """relu_backward on its forward's cache, or the given layout if the forward raises."""
    _relu_backward(worker, rng, fallback=True)


def relu_pair(worker: Worker, rng: np.random.Generator) -> None:
    """relu_forward's output, then relu_backward on that forward's own cache."""
    _relu_backward(worker, rng, fallback=False)


def relu_float32(worker: Worker, rng: np.random.Generator) -> None:
    """float32 in, float32 out, right values, x left alone."""
    x = _relu_input(rng, RELU_SHAPES[0], np.float32)
    xr = worker.put(x, "x")
    res = worker.function(f"{LAYERS}.relu_forward")(xr)
    cmp.unchanged("x", xr.get(), x, "relu_forward")
    out = res[0].get()
    _check_relu_out(out, x)
    cmp.dtype_is("out of relu_forward for float32 x", out, np.float32)
    dout = cmp.away(rng, x.shape).astype(np.float32)
    cache, content = bw.cache_for(worker, "relu_forward", (x,), x)
    dx = bw.run(worker, "relu_backward", dout, cache, content).get()
    _check_relu_dx(dx, dout, x)
    cmp.dtype_is("dx of relu_backward for float32 inputs", dx, np.float32)


# (N, C): N != C, one sample alone, many classes.
SOFTMAX_CASES = ((5, 3), (3, 8), (1, 4))


def _labels(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    return rng.permutation(np.arange(max(n, c)) % c)[:n]


def _softmax_check(
    worker: Worker, x: np.ndarray, y: np.ndarray, label: str, nan_hint: str = ""
) -> tuple:
    xr, yr = worker.put(x, "x"), worker.put(y, "y")
    res = worker.function(f"{LAYERS}.softmax_loss")(xr, yr)
    x64 = x.astype(np.float64)
    loss, dx = ref.softmax_loss(x64, y)
    n = len(y)
    rtol = cmp.RTOL if x.dtype == np.float64 else cmp.RTOL32
    where = f" ({x.shape[0]} x {x.shape[1]} scores{label})"
    got_loss, got_dx = res[0].get(), res[1].get()
    cmp.close(
        "loss of softmax_loss" + where,
        got_loss,
        float(loss),
        rtol,
        hints=[(dg.SOFTMAX_LOSS_NOT_AVERAGED, loss * n), (dg.SOFTMAX_LOSS_SIGN, -loss)],
        nan_hint=nan_hint,
    )
    onehot = np.zeros_like(dx)
    onehot[np.arange(n), y] = 1
    cmp.close(
        "dx of softmax_loss" + where,
        got_dx,
        dx,
        rtol,
        hints=[
            (dg.SOFTMAX_DX_NOT_AVERAGED, dx * n),
            (dg.SOFTMAX_DX_NO_ONEHOT, dx + onehot / n),
        ],
        nan_hint=nan_hint,
    )
    return xr, yr, got_dx


def softmax_values(worker: Worker, rng: np.random.Generator) -> None:
    for n, c in SOFTMAX_CASES:
        _softmax_check(worker, cmp.normal(rng, n, c, scale=3.0), _labels(rng, n, c), "")


def softmax_large_scores(worker: Worker, rng: np.random.Generator) -> None:
    """Scores of magnitude 1e4 that differ by a few units within a row.

    exp() of 1e4 overflows float64 and exp(-1e4) underflows to 0: the first case, every
    row near +1e4, gives NaN without the max shift; the second, rows near +1e4 and -1e4,
    also when the shift is by the largest score overall rather than each row's own. With
    each row's shift the scores are a few units apart, so every correct variant --
    log-sum-exp, or normalized probabilities and then log p -- is exact.
    """
    n, c = 4, 5
    x = 1e4 + cmp.normal(rng, n, c, scale=3.0)
    _softmax_check(worker, x, _labels(rng, n, c), ", all near +1e4", dg.SOFTMAX_NO_SHIFT)
    offsets = np.array([[1e4], [-1e4], [1e4], [-1e4]])
    x = offsets + cmp.normal(rng, n, c, scale=3.0)
    label = ", rows near +1e4 and -1e4"
    _softmax_check(worker, x, _labels(rng, n, c), label, dg.SOFTMAX_GLOBAL_SHIFT)


def softmax_float32(worker: Worker, rng: np.random.Generator) -> None:
    """float32 dx with the right values; x and y left alone."""
    n, c = SOFTMAX_CASES[0]
    x, y = cmp.normal(rng, n, c, scale=3.0).astype(np.float32), _labels(rng, n, c)
    xr, yr, dx = _softmax_check(worker, x, y, ", float32")
    cmp.unchanged("x", xr.get(), x, "softmax_loss")
    cmp.unchanged("y", yr.get(), y, "softmax_loss")
    cmp.dtype_is("dx of softmax_loss for float32 scores", dx, np.float32)
