"""Hidden checks of the naive convolution and max-pooling exercises.

Sizes are drawn so that every configuration fits exactly (``window_fits``), padding is
always non-zero where it is tested, strides go up to 3 and filters and images need not be
square. Pooling inputs are tie-free (:func:`compare.distinct`), so every tie convention
is graded alike; the overlapping-window check only uses inputs where some input is the
maximum of two windows or more, so a backward that assigns instead of accumulating fails.

Which cache a backward is fed, and the one "pair" check per exercise that needs forward and
backward to work together, follow :mod:`bpkit.assignments.grading.checks.backward`: the backward
checks of ``conv_backward`` score even when ``conv_forward_naive`` is still a stub.
While these exercises are graded the worker's ``bpkit.fast_layers`` raises on every call
(see :data:`bpkit.assignments.grading.checks.FAST_LAYERS_STAND_IN`), so the naive layers cannot
lean on the fast ones.
"""

from __future__ import annotations

import numpy as np

from bpkit import layers as ref
from bpkit.assignments.grading.checks import backward as bw
from bpkit.assignments.grading.checks import compare as cmp
from bpkit.assignments.grading.worker_client import Worker

LAYERS = "bpkit.layers"
CONV_F, POOL_F = "conv_forward_naive", "max_pool_forward_naive"


def _conv_inputs(rng: np.random.Generator, strided: bool, dtype=np.float64):
    n, c, f = (int(v) for v in rng.integers(2, 4, size=3))
    if strided:
        stride = int(rng.integers(2, 4))
        hh, ww = int(rng.integers(2, 4)), int(rng.integers(2, 4))
        pad = int(rng.integers(1, min(hh, ww)))
        h_out, w_out = (int(v) for v in rng.integers(3, 5, size=2))
        h, w = (h_out - 1) * stride + hh - 2 * pad, (w_out - 1) * stride + ww - 2 * pad
    else:
        stride, pad, hh, ww = 1, 1, 3, 3
        h, w = int(rng.integers(4, 8)), int(rng.integers(4, 8))
    x = cmp.normal(rng, n, c, h, w).astype(dtype)
    wt = cmp.normal(rng, f, c, hh, ww).astype(dtype)
    b = cmp.normal(rng, f).astype(dtype)
    return x, wt, b, {"stride": stride, "pad": pad}


def _describe(x: np.ndarray, w: np.ndarray, param: dict) -> str:
    return f" (x {x.shape}, w {w.shape}, stride {param['stride']}, pad {param['pad']})"


def _conv_forward(worker: Worker, rng: np.random.Generator, strided: bool) -> None:
    x, w, b, param = _conv_inputs(rng, strided)
    out = worker.function(f"{LAYERS}.conv_forward_naive")(x, w, b, param)[0].get()
    expected, _ = ref.conv_forward_naive(x, w, b, param)
    cmp.close("out of conv_forward_naive" + _describe(x, w, param), out, expected)


def conv_forward_basic(worker: Worker, rng: np.random.Generator) -> None:
    _conv_forward(worker, rng, strided=False)


def conv_forward_strided(worker: Worker, rng: np.random.Generator) -> None:
    _conv_forward(worker, rng, strided=True)


def conv_forward_float32(worker: Worker, rng: np.random.Generator) -> None:
    x, w, b, param = _conv_inputs(rng, True, np.float32)
    inputs = {"x": worker.put(x, "x"), "w": worker.put(w, "w"), "b": worker.put(b, "b")}
    res = worker.function(f"{LAYERS}.conv_forward_naive")(*inputs.values(), param)
    for name, original in zip(inputs, (x, w, b), strict=True):
        cmp.unchanged(name, inputs[name].get(), original, "conv_forward_naive")
    out = res[0].get()
    cmp.dtype_is("out of conv_forward_naive for float32 inputs", out, np.float32)
    expected, _ = ref.conv_forward_naive(*(a.astype(np.float64) for a in (x, w, b)), param)
    cmp.close("out of conv_forward_naive (float32)", out, expected, cmp.RTOL32)


def _conv_backward(
    worker: Worker,
    rng: np.random.Generator,
    strided: bool,
    dtype=np.float64,
    fallback: bool = True,
) -> None:
    """Grade conv_backward_naive on the cache of conv_forward_naive for the same inputs.

    With ``fallback``, when that forward raises, on ``(x, w, b, conv_param)`` built in the
    worker instead (the rule of :mod:`bpkit.assignments.grading.checks.backward`). dout and the
    cache must come back unchanged.
    """
    x, w, b, param = _conv_inputs(rng, strided, dtype)
    if fallback:
        cache, content = bw.cache_for(worker, CONV_F, (x, w, b, param), (x, w, b, param))
    else:
        cache, content = bw.own_cache(worker, CONV_F, (x, w, b, param))
    wide = [a.astype(np.float64) for a in (x, w, b)]
    out, ref_cache = ref.conv_forward_naive(*wide, param)
    dout = cmp.normal(rng, *out.shape)
    grads = bw.run(worker, "conv_backward_naive", dout.astype(dtype), cache, content)
    expected = ref.conv_backward_naive(dout, ref_cache)
    rtol = cmp.RTOL if dtype == np.float64 else cmp.RTOL32
    for i, name in enumerate(("dx", "dw", "db")):
        got = grads[i].get()
        if dtype != np.float64:
            cmp.dtype_is(f"{name} of conv_backward_naive for float32 inputs", got, dtype)
        label = f"{name} of conv_backward_naive" + _describe(x, w, param)
        cmp.close(label, got, expected[i], rtol)


def conv_backward_basic(worker: Worker, rng: np.random.Generator) -> None:
    _conv_backward(worker, rng, strided=False)


def conv_backward_strided(worker: Worker, rng: np.random.Generator) -> None:
    _conv_backward(worker, rng, strided=True)


def conv_backward_float32(worker: Worker, rng: np.random.Generator) -> None:
    _conv_backward(worker, rng, strided=True, dtype=np.float32)


def conv_pair(worker: Worker, rng: np.random.Generator) -> None:
    """conv_forward_naive then conv_backward_naive on that forward's own cache, no fallback."""
    _conv_backward(worker, rng, strided=True, fallback=False)


def _pool_inputs(rng: np.random.Generator, overlap: bool, dtype=np.float64):
    if overlap:
        ph = pw = int(rng.integers(2, 4))
        stride = int(rng.integers(1, ph))
    else:
        ph = pw = stride = 2
    h_out, w_out = (int(v) for v in rng.integers(2, 5, size=2))
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4)))
    shape += ((h_out - 1) * stride + ph, (w_out - 1) * stride + pw)
    param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    return cmp.distinct(rng, shape).astype(dtype), param


def _shared_maximum(x: np.ndarray, param: dict) -> bool:
    out, cache = ref.max_pool_forward_naive(x, param)
    return bool(ref.max_pool_backward_naive(np.ones_like(out), cache).max() >= 2)


def pool_forward(worker: Worker, rng: np.random.Generator) -> None:
    for overlap in (False, True):
        x, param = _pool_inputs(rng, overlap)
        out = worker.function(f"{LAYERS}.max_pool_forward_naive")(x, param)[0].get()
        expected, _ = ref.max_pool_forward_naive(x, param)
        cmp.close(f"out of max_pool_forward_naive ({param}, x {x.shape})", out, expected)


def _pool_backward(
    worker: Worker, x: np.ndarray, param: dict, rng: np.random.Generator, fallback: bool = True
) -> None:
    """Grade max_pool_backward_naive on the cache of its forward for the same inputs.

    With ``fallback``, when that forward raises, on ``(x, pool_param)`` built in the worker
    instead (the rule of :mod:`bpkit.assignments.grading.checks.backward`). dout and the cache must
    come back unchanged.
    """
    if fallback:
        cache, content = bw.cache_for(worker, POOL_F, (x, param), (x, param))
    else:
        cache, content = bw.own_cache(worker, POOL_F, (x, param))
    out, ref_cache = ref.max_pool_forward_naive(x, param)
    dout = cmp.normal(rng, *out.shape)
    dx = bw.run(worker, "max_pool_backward_naive", dout, cache, content).get()
    expected = ref.max_pool_backward_naive(dout, ref_cache)
    wrong = _assigning_backward(x, param, dout)
    hint = [("assigning (=) instead of accumulating (+=) where windows overlap", wrong)]
    label = f"dx of max_pool_backward_naive ({param}, x {x.shape})"
    cmp.close(label, dx, expected, hints=hint if not np.allclose(wrong, expected) else ())


def _assigning_backward(x: np.ndarray, param: dict, dout: np.ndarray) -> np.ndarray:
    """The classic mistake: the last window writes over an earlier one's gradient."""
    ph, pw, s = param["pool_height"], param["pool_width"], param["stride"]
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(*dout.shape):
        window = x[n, c, i * s : i * s + ph, j * s : j * s + pw]
        row, col = np.unravel_index(np.argmax(window), window.shape)
        dx[n, c, i * s + row, j * s + col] = dout[n, c, i, j]
    return dx


def pool_backward(worker: Worker, rng: np.random.Generator) -> None:
    x, param = _pool_inputs(rng, overlap=False)
    _pool_backward(worker, x, param, rng)


def _shared_maximum_input(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    for _ in range(100):
        x, param = _pool_inputs(rng, overlap=True)
        if _shared_maximum(x, param):
            return x, param
    # Vanishingly unlikely with random tie-free inputs; a fault of the check, not the student.
    raise RuntimeError("could not draw a pooling input with a shared maximum")


def pool_backward_overlap(worker: Worker, rng: np.random.Generator) -> None:
    x, param = _shared_maximum_input(rng)
    _pool_backward(worker, x, param, rng)


def pool_pair(worker: Worker, rng: np.random.Generator) -> None:
    """max_pool_forward_naive then its backward on the forward's own cache, no fallback."""
    x, param = _shared_maximum_input(rng)
    _pool_backward(worker, x, param, rng, fallback=False)


def pool_float32(worker: Worker, rng: np.random.Generator) -> None:
    x, param = _pool_inputs(rng, overlap=True, dtype=np.float32)
    xr = worker.put(x, "x")
    res = worker.function(f"{LAYERS}.max_pool_forward_naive")(xr, param)
    cmp.unchanged("x", xr.get(), x, "max_pool_forward_naive")
    out = res[0].get()
    cmp.dtype_is("out of max_pool_forward_naive for float32 x", out, np.float32)
    dout = cmp.normal(rng, *out.shape).astype(np.float32)
    cache, content = bw.cache_for(worker, POOL_F, (x, param), (x, param))
    dx = bw.run(worker, "max_pool_backward_naive", dout, cache, content).get()
    cmp.dtype_is("dx of max_pool_backward_naive for float32 inputs", dx, np.float32)
