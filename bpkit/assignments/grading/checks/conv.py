"""Hidden checks of the naive convolution and max-pooling exercises.

Every check runs a fixed battery of geometries (:data:`CONV_CASES`, :data:`POOL_CASES`):
pad 0 and pad > 0; strides 1, 2 and 3; images, kernels and pooling windows whose height
differs from their width; pooling windows that overlap, that tile, and that leave gaps.
Only the values come from ``rng``. Pooling inputs are tie-free (:func:`compare.distinct`),
so every tie convention is graded alike, and in the overlapping cases each plane's maximum
sits where two windows or more share it, so a backward that assigns instead of
accumulating always fails. A failure names the geometry (``pad 0, 3x2 kernel, stride 1``)
and, when the answer is what a known mistake gives, the mistake.

Which cache a backward is fed, and the "pair" check of max pooling that needs forward and
backward to work together (it checks the forward's output too), follow
:mod:`bpkit.assignments.grading.checks.backward`: the checks of ``conv_backward`` score even
when ``conv_forward_naive`` is still a stub, and no check of ``conv_backward`` looks at the
forward's output, which belongs to the ``conv_forward`` exercise. While these exercises are
graded the worker's ``bpkit.fast_layers`` raises on every call (see
:data:`bpkit.assignments.grading.checks.FAST_LAYERS_STAND_IN`), so the naive layers cannot
lean on the fast ones.
"""

from __future__ import annotations

import numpy as np

from bpkit import layers as ref
from bpkit.assignments.grading.checks import backward as bw
from bpkit.assignments.grading.checks import compare as cmp
from bpkit.assignments.grading.worker_client import Worker
from bpkit.assignments.student import diagnose as dg

LAYERS = "bpkit.layers"
CONV_F, CONV_B = "conv_forward_naive", "conv_backward_naive"
POOL_F, POOL_B = "max_pool_forward_naive", "max_pool_backward_naive"

# x shape, w shape, stride, pad. H != W everywhere; every size fits exactly.
CONV_CASES = {
    "pad0": ((2, 3, 5, 7), (4, 3, 3, 2), 1, 0),
    "pad1": ((2, 2, 6, 4), (3, 2, 3, 3), 1, 1),
    "stride2": ((2, 2, 7, 5), (3, 2, 3, 3), 2, 1),
    "stride3": ((1, 3, 8, 7), (2, 3, 3, 5), 3, 2),
    "stride2pad0": ((2, 1, 5, 9), (3, 1, 3, 5), 2, 0),
}


def conv_label(x_shape: tuple, w_shape: tuple, stride: int, pad: int) -> str:
    """The geometry in words: ``pad 0, 3x2 kernel, stride 1, x of shape (2, 3, 5, 7)``."""
    kernel = f"{w_shape[2]}x{w_shape[3]}"
    return f"pad {pad}, {kernel} kernel, stride {stride}, x of shape {tuple(x_shape)}"


def _conv_inputs(rng: np.random.Generator, case: str, dtype=np.float64):
    x_shape, w_shape, stride, pad = CONV_CASES[case]
    x = cmp.normal(rng, *x_shape).astype(dtype)
    w = cmp.normal(rng, *w_shape).astype(dtype)
    b = cmp.away(rng, (w_shape[0],)).astype(dtype)
    return x, w, b, {"stride": stride, "pad": pad}


def _conv_out_shape(x_shape, w_shape, stride, pad) -> tuple:
    h = 1 + (x_shape[2] + 2 * pad - w_shape[2]) // stride
    w = 1 + (x_shape[3] + 2 * pad - w_shape[3]) // stride
    return (x_shape[0], w_shape[0], h, w)


def _check_conv_out(got: object, x, w, b, param: dict, rtol: float = cmp.RTOL) -> None:
    wide = [a.astype(np.float64) for a in (x, w, b)]
    expected, _ = ref.conv_forward_naive(*wide, param)
    flipped, _ = ref.conv_forward_naive(wide[0], wide[1][:, :, ::-1, ::-1].copy(), wide[2], param)
    no_bias, _ = ref.conv_forward_naive(wide[0], wide[1], np.zeros_like(wide[2]), param)
    s, p = param["stride"], param["pad"]
    shapes = [
        (_conv_out_shape(x.shape, w.shape, 1, p), dg.CONV_STRIDE_IGNORED),
        (_conv_out_shape(x.shape, w.shape, s, 0), "the padding is ignored: pad x by pad zeros"),
        (
            _conv_out_shape(x.shape, (*w.shape[:2], w.shape[3], w.shape[2]), s, p),
            dg.CONV_HW_SWAPPED,
        ),
        (
            _conv_out_shape((*x.shape[:2], x.shape[3], x.shape[2]), w.shape, s, p),
            dg.CONV_HW_SWAPPED,
        ),
    ]
    cmp.close(
        f"out of conv_forward_naive ({conv_label(x.shape, w.shape, s, p)})",
        got,
        expected,
        rtol,
        hints=[(dg.CONV_FLIPPED, flipped), (dg.CONV_NO_BIAS, no_bias)],
        shape_hints=[(shape, text) for shape, text in shapes if shape != expected.shape],
    )


def _conv_forward(worker: Worker, rng: np.random.Generator, cases: tuple) -> None:
    for case in cases:
        x, w, b, param = _conv_inputs(rng, case)
        label = conv_label(x.shape, w.shape, param["stride"], param["pad"])
        with bw.on_case(label):
            out = worker.function(f"{LAYERS}.{CONV_F}")(x, w, b, param)[0].get()
        _check_conv_out(out, x, w, b, param)


def conv_forward_basic(worker: Worker, rng: np.random.Generator) -> None:
    _conv_forward(worker, rng, ("pad0", "pad1"))


def conv_forward_strided(worker: Worker, rng: np.random.Generator) -> None:
    _conv_forward(worker, rng, ("stride2", "stride3", "stride2pad0"))


def conv_forward_float32(worker: Worker, rng: np.random.Generator) -> None:
    """float32 in, float32 out, right values, x, w and b left alone."""
    x, w, b, param = _conv_inputs(rng, "stride3", np.float32)
    inputs = {"x": worker.put(x, "x"), "w": worker.put(w, "w"), "b": worker.put(b, "b")}
    with bw.on_case(conv_label(x.shape, w.shape, param["stride"], param["pad"]) + ", float32"):
        res = worker.function(f"{LAYERS}.{CONV_F}")(*inputs.values(), param)
        out = res[0].get()
    for name, original in zip(inputs, (x, w, b), strict=True):
        cmp.unchanged(name, inputs[name].get(), original, CONV_F)
    _check_conv_out(out, x, w, b, param, cmp.RTOL32)
    cmp.dtype_is("out of conv_forward_naive for float32 inputs", out, np.float32)


def _conv_backward(worker: Worker, rng: np.random.Generator, case: str, dtype=np.float64):
    """Grade conv_backward_naive on the cache of conv_forward_naive for the same inputs.

    When that forward raises, or its cache is not exactly ``(x, w, b, conv_param)``, on
    that tuple built in the worker instead (the rule of
    :mod:`bpkit.assignments.grading.checks.backward`, with ``exact``: the forward is
    another exercise). dout and the cache must come
    back unchanged; the gradients must match, and for float32 inputs be float32.
    """
    x, w, b, param = _conv_inputs(rng, case, dtype)
    s, p = param["stride"], param["pad"]
    label = conv_label(x.shape, w.shape, s, p) + ("" if dtype == np.float64 else ", float32")
    with bw.on_case(label):
        cache, content = bw.cache_for(
            worker, CONV_F, (x, w, b, param), (x, w, b, param), exact=True
        )
    wide = [a.astype(np.float64) for a in (x, w, b)]
    out, ref_cache = ref.conv_forward_naive(*wide, param)
    dout = cmp.normal(rng, *out.shape)
    with bw.on_case(label):
        grads = bw.run(worker, CONV_B, dout.astype(dtype), cache, content)
        got = [grads[i].get() for i in range(3)]
    dx, dw, db = ref.conv_backward_naive(dout, ref_cache)
    flipped = ref.conv_backward_naive(dout, (wide[0], wide[1][:, :, ::-1, ::-1], wide[2], param))
    rtol = cmp.RTOL if dtype == np.float64 else cmp.RTOL32
    n = len(x)
    dx_shapes = [((*x.shape[:2], 0, 0), dg.CONV_PAD_SLICE)] if p == 0 else []
    dx_shapes.append(((*x.shape[:2], x.shape[2] + 2 * p, x.shape[3] + 2 * p), dg.CONV_PAD_KEPT))
    where = f" of conv_backward_naive ({label})"
    cmp.close(
        "dx" + where, got[0], dx, rtol, hints=[(dg.CONV_FLIPPED, flipped[0])],
        shape_hints=dx_shapes,
    )  # fmt: skip
    # dw = instead of += in a loop over output positions: only the last position is left.
    hh, ww = w.shape[2:]
    xp = np.pad(wide[0], ((0, 0), (0, 0), (p, p), (p, p)))
    r, q = (dout.shape[2] - 1) * s, (dout.shape[3] - 1) * s
    last = np.einsum("nf,nchw->fchw", dout[:, :, -1, -1], xp[:, :, r : r + hh, q : q + ww])
    dw_hints = [(dg.DIVIDED_BY_N, dw / n), (dg.CONV_DW_ASSIGNED, last)]
    cmp.close("dw" + where, got[1], dw, rtol, hints=dw_hints)
    cmp.close(
        "db" + where, got[2], db, rtol, hints=[(dg.DIVIDED_BY_N, db / n)],
        shape_hints=[((1, len(db)), dg.CONV_DB_SHAPE), ((n,), dg.CONV_DB_SHAPE)],
    )  # fmt: skip
    if dtype != np.float64:
        for name, value in zip(("dx", "dw", "db"), got, strict=True):
            cmp.dtype_is(f"{name} of conv_backward_naive for float32 inputs", value, dtype)


def conv_backward_basic(worker: Worker, rng: np.random.Generator) -> None:
    _conv_backward(worker, rng, "pad1")


def conv_backward_pad0(worker: Worker, rng: np.random.Generator) -> None:
    for case in ("pad0", "stride2pad0"):
        _conv_backward(worker, rng, case)


def conv_backward_strided(worker: Worker, rng: np.random.Generator) -> None:
    for case in ("stride2", "stride3"):
        _conv_backward(worker, rng, case)


def conv_backward_float32(worker: Worker, rng: np.random.Generator) -> None:
    _conv_backward(worker, rng, "stride2", dtype=np.float32)


# x shape, pool_height, pool_width, stride, and the (row, col) where each plane's maximum is
# put: for overlapping windows a place two windows or more share, for a tall window a place
# low in the first window (so unravelling with the wrong window shape always shows).
POOL_CASES = {
    "tiles": ((2, 3, 4, 6), 2, 2, 2, None),
    "gaps": ((2, 1, 5, 8), 2, 2, 3, None),
    "tall": ((1, 3, 6, 5), 3, 2, 3, (2, 1)),
    "overlap_rows": ((2, 2, 7, 6), 3, 2, 2, (2, 1)),
    "overlap_both": ((1, 2, 5, 7), 2, 3, 1, (1, 2)),
}


def pool_label(x_shape: tuple, ph: int, pw: int, stride: int) -> str:
    """The geometry in words: ``3x2 windows (pool_height x pool_width), stride 2, x ...``."""
    return f"{ph}x{pw} windows (pool_height x pool_width), stride {stride}, x of shape {x_shape}"


def _pool_inputs(rng: np.random.Generator, case: str, dtype=np.float64):
    shape, ph, pw, stride, top_at = POOL_CASES[case]
    x = cmp.distinct(rng, shape)
    if top_at is not None:
        for plane in x.reshape(-1, *shape[2:]):
            top = np.unravel_index(np.argmax(plane), plane.shape)
            plane[top], plane[top_at] = plane[top_at], plane[top]
    param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    return x.astype(dtype), param


def _label(x: np.ndarray, param: dict) -> str:
    return pool_label(x.shape, param["pool_height"], param["pool_width"], param["stride"])


def _windows(x: np.ndarray, param: dict):
    """(i, j, rows, cols) for every window of x: its output position and its slices."""
    ph, pw, s = param["pool_height"], param["pool_width"], param["stride"]
    n, c, h, w = x.shape
    for i in range(1 + (h - ph) // s):
        for j in range(1 + (w - pw) // s):
            yield i, j, slice(i * s, i * s + ph), slice(j * s, j * s + pw)


def _check_pool_out(got: object, x: np.ndarray, param: dict) -> None:
    x64 = x.astype(np.float64)
    expected, _ = ref.max_pool_forward_naive(x64, param)
    mean = np.zeros_like(expected)
    for i, j, rows, cols in _windows(x64, param):
        mean[:, :, i, j] = x64[:, :, rows, cols].mean(axis=(2, 3))
    ph, pw, s = param["pool_height"], param["pool_width"], param["stride"]
    width_from_height = (*expected.shape[:3], 1 + (x.shape[3] - ph) // s)
    no_stride = (*expected.shape[:2], 1 + (x.shape[2] - ph) // ph, 1 + (x.shape[3] - pw) // pw)
    shapes = [(width_from_height, dg.POOL_WIDTH_FROM_HEIGHT), (no_stride, dg.POOL_STRIDE)]
    cmp.close(
        f"out of max_pool_forward_naive ({_label(x, param)})",
        got,
        expected,
        hints=[(dg.POOL_AVERAGE, mean)],
        shape_hints=[(shape, text) for shape, text in shapes if shape != expected.shape],
    )


def _pool_mistakes(x: np.ndarray, param: dict, dout: np.ndarray) -> list:
    """What the classic pooling-backward mistakes give on these inputs."""
    ph, pw = param["pool_height"], param["pool_width"]
    assigned, whole, unravel = (np.zeros_like(x) for _ in range(3))
    for i, j, rows, cols in _windows(x, param):
        for n, c in np.ndindex(*x.shape[:2]):
            window = x[n, c, rows, cols]
            k = int(np.argmax(window))
            r, q = divmod(k, pw)
            assigned[n, c, rows.start + r, cols.start + q] = dout[n, c, i, j]
            whole[n, c, rows, cols] += dout[n, c, i, j]
            r, q = divmod(k, ph)  # unravel_index with (pool_height, pool_height)
            if k < ph * ph and rows.start + r < x.shape[2] and cols.start + q < x.shape[3]:
                unravel[n, c, rows.start + r, cols.start + q] += dout[n, c, i, j]
    hints = [(dg.POOL_ALL_OF_WINDOW, whole)]
    if ph != pw:
        hints.append((dg.POOL_UNRAVEL_HEIGHT, unravel))
    hints.append((dg.POOL_ASSIGNS, assigned))
    return hints


def _pool_backward(
    worker: Worker, rng: np.random.Generator, case: str, fallback: bool = True, dtype=np.float64
) -> None:
    """Grade max_pool_backward_naive on the cache of its forward for the same inputs.

    With ``fallback``, when that forward raises, on ``(x, pool_param)`` built in the worker
    instead (the rule of :mod:`bpkit.assignments.grading.checks.backward`); without it (the
    pair check), the forward's output must be right too. dout and the cache must come back
    unchanged.
    """
    x, param = _pool_inputs(rng, case, dtype)
    label = _label(x, param) + ("" if dtype == np.float64 else ", float32")
    xr = worker.put(x, "x")
    with bw.on_case(label):
        if fallback:
            cache, content = bw.cache_for(worker, POOL_F, (x, param), (x, param))
        else:
            res = worker.function(f"{LAYERS}.{POOL_F}")(xr, param)
            out = res[0].get()
    if not fallback:
        cmp.unchanged("x", xr.get(), x, POOL_F)
        _check_pool_out(out, x, param)
        if dtype != np.float64:
            cmp.dtype_is("out of max_pool_forward_naive for float32 x", out, dtype)
        cache, content = res[1], res[1].get()
    x64 = x.astype(np.float64)
    expected_out, ref_cache = ref.max_pool_forward_naive(x64, param)
    dout = cmp.normal(rng, *expected_out.shape)
    with bw.on_case(label):
        dx = bw.run(worker, POOL_B, dout.astype(dtype), cache, content).get()
    expected = ref.max_pool_backward_naive(dout, ref_cache)
    hints = [(t, v) for t, v in _pool_mistakes(x64, param, dout) if not np.allclose(v, expected)]
    rtol = cmp.RTOL if dtype == np.float64 else cmp.RTOL32
    cmp.close(f"dx of max_pool_backward_naive ({label})", dx, expected, rtol, hints=hints)
    if dtype != np.float64:
        cmp.dtype_is("dx of max_pool_backward_naive for float32 inputs", dx, dtype)


def pool_forward(worker: Worker, rng: np.random.Generator) -> None:
    for case in POOL_CASES:
        x, param = _pool_inputs(rng, case)
        with bw.on_case(_label(x, param)):
            out = worker.function(f"{LAYERS}.{POOL_F}")(x, param)[0].get()
        _check_pool_out(out, x, param)


def pool_backward(worker: Worker, rng: np.random.Generator) -> None:
    for case in ("tiles", "gaps", "tall"):
        _pool_backward(worker, rng, case)


def pool_backward_overlap(worker: Worker, rng: np.random.Generator) -> None:
    for case in ("overlap_rows", "overlap_both"):
        _pool_backward(worker, rng, case)


def pool_pair(worker: Worker, rng: np.random.Generator) -> None:
    """max_pool_forward_naive's output, then its backward on the forward's own cache."""
    for case in ("overlap_both", "gaps"):
        _pool_backward(worker, rng, case, fallback=False)


def pool_float32(worker: Worker, rng: np.random.Generator) -> None:
    """float32 in, float32 out, right values, x left alone, forward and backward."""
    _pool_backward(worker, rng, "overlap_rows", fallback=False, dtype=np.float32)
