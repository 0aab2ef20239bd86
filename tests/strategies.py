"""Hypothesis strategies shared by the layer tests: conv and pool problems that tile.

Each strategy draws the output size first and derives the input size that gives it
exactly, so every draw is a valid geometry (a whole number of windows). The size limits
are arguments: a numerical-gradient test wants small problems, a fast-vs-naive test can
afford larger ones.
"""

import numpy as np
from hypothesis import strategies as st


@st.composite
def conv_cases(
    draw,
    max_batch=3,
    max_channels=3,
    max_filters=4,
    max_kernel=4,
    max_stride=3,
    max_pad=3,
    max_out=5,
):
    """``(x, w, b, conv_param, dout)`` in float64."""
    n, c = draw(st.integers(1, max_batch)), draw(st.integers(1, max_channels))
    f = draw(st.integers(1, max_filters))
    hh, ww = draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel))
    stride, pad = draw(st.integers(1, max_stride)), draw(st.integers(0, max_pad))
    h_out, w_out = draw(st.integers(1, max_out)), draw(st.integers(1, max_out))
    h = (h_out - 1) * stride + hh - 2 * pad
    w = (w_out - 1) * stride + ww - 2 * pad
    if min(h, w) < 1:  # more padding than such a small input allows: drop it
        pad = 0
        h, w = (h_out - 1) * stride + hh, (w_out - 1) * stride + ww
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((n, c, h, w))
    wt = rng.standard_normal((f, c, hh, ww))
    b = rng.standard_normal(f)
    dout = rng.standard_normal((n, f, h_out, w_out))
    return x, wt, b, {"stride": stride, "pad": pad}, dout


@st.composite
def pool_cases(
    draw, ties=False, max_batch=3, max_channels=3, max_window=3, max_stride=4, max_out=5
):
    """``(x, pool_param, dout)``; stride < window gives overlapping windows.

    Without ``ties`` x is a permutation of 0, 1, 2, ...: every window has one maximum,
    at least 1 above the rest, so a numerical gradient's step never changes which entry
    wins. With ``ties`` values repeat a lot, to test the first-maximum rule.
    """
    n, c = draw(st.integers(1, max_batch)), draw(st.integers(1, max_channels))
    ph, pw = draw(st.integers(1, max_window)), draw(st.integers(1, max_window))
    stride = draw(st.integers(1, max_stride))
    h_out, w_out = draw(st.integers(1, max_out)), draw(st.integers(1, max_out))
    h, w = (h_out - 1) * stride + ph, (w_out - 1) * stride + pw
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if ties:
        x = rng.integers(0, 3, size=(n, c, h, w)).astype(np.float64)
    else:
        x = rng.permutation(n * c * h * w).reshape(n, c, h, w).astype(np.float64)
    param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    return x, param, rng.standard_normal((n, c, h_out, w_out))
