"""Property-based gradient checks of the naive conv and pool layers over shapes, strides, pads.

Hypothesis draws a geometry that tiles (the windows fit the padded input a whole number of
times) and each backward is compared with centered differences in float64, entry by entry,
against the error bound of the centered difference itself (``tests/numerical_error.py``):
convolution is linear in each argument and max pooling is linear around inputs without ties,
so only round-off and the rounded step remain, ``n * eps * S / h`` with ``n`` the terms of
one output and ``S = sum |dout| * (sum of |terms| of each output)``.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numerical_error import assert_gradient_close, centered_difference_bound
from strategies import conv_cases, pool_cases

from bpkit.gradcheck import eval_numerical_gradient_array
from bpkit.layers import (
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
)


def _conv_bounds(x, w, b, param, dout, grads):
    """The centered-difference error bound of each of dx, dw, db for a correct conv backward."""
    # |x| * |w| + |b| through the same layer: the sum of |terms| of every output.
    magnitude = conv_forward_naive(np.abs(x), np.abs(w), np.abs(b), param)[0]
    scale = float(np.sum(np.abs(dout) * magnitude))
    terms = w[0].size + 1
    return [
        centered_difference_bound(g, terms=terms, scale=scale, x_max=float(np.max(np.abs(a))))
        for g, a in zip(grads, (x, w, b), strict=True)
    ]


def _conv_numerical(x, w, b, param, dout):
    return (
        eval_numerical_gradient_array(lambda v: conv_forward_naive(v, w, b, param)[0], x, dout),
        eval_numerical_gradient_array(lambda v: conv_forward_naive(x, v, b, param)[0], w, dout),
        eval_numerical_gradient_array(lambda v: conv_forward_naive(x, w, v, param)[0], b, dout),
    )


@given(conv_cases(max_batch=2, max_filters=3, max_kernel=3, max_pad=2, max_out=3))
def test_conv_backward_matches_numerical_gradient(case):
    x, w, b, param, dout = case
    x_before = x.copy()
    out, cache = conv_forward_naive(x, w, b, param)
    grads = conv_backward_naive(dout, cache)
    np.testing.assert_array_equal(x, x_before, err_msg="conv_forward_naive modified x")
    assert [g.shape for g in grads] == [x.shape, w.shape, b.shape]
    numerical = _conv_numerical(x, w, b, param, dout)
    bounds = _conv_bounds(x, w, b, param, dout, grads)
    for name, g, num, bound in zip(("dx", "dw", "db"), grads, numerical, bounds, strict=True):
        assert_gradient_close(g, num, bound, f"{name} for {param}, x {x.shape}, w {w.shape}")


def test_the_conv_bound_rejects_a_gradient_missing_one_output():
    # The bound must be tight enough to catch a real bug: a backward pass that skips the last
    # output position (an off-by-one in its loop) is off by one term of dout * w in dx.
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((3, 3, 3, 3)), np.zeros(3)
    param = {"stride": 2, "pad": 1}
    out, cache = conv_forward_naive(x, w, b, param)
    dout = rng.standard_normal(out.shape)
    skipped = dout.copy()
    skipped[:, :, -1, -1] = 0.0
    buggy = conv_backward_naive(skipped, cache)
    numerical = _conv_numerical(x, w, b, param, dout)
    bounds = _conv_bounds(x, w, b, param, dout, buggy)
    for name, g, num, bound in zip(("dx", "dw", "db"), buggy, numerical, bounds, strict=True):
        with pytest.raises(AssertionError, match="exceeds the bound"):
            assert_gradient_close(g, num, bound, name)


@given(pool_cases(max_batch=2, max_stride=3, max_out=4))
def test_max_pool_backward_matches_numerical_gradient(case):
    x, param, dout = case
    _, cache = max_pool_forward_naive(x, param)
    dx = max_pool_backward_naive(dout, cache)
    num_dx = eval_numerical_gradient_array(lambda v: max_pool_forward_naive(v, param)[0], x, dout)
    # Each output is one input (n = 1 term, no sum); the inputs are a permutation, so every
    # window's maximum leads by at least 1 >> h and the winner never changes (no truncation).
    out_magnitude = max_pool_forward_naive(np.abs(x), param)[0]
    scale = float(np.sum(np.abs(dout) * out_magnitude))
    bound = centered_difference_bound(dx, terms=1, scale=scale, x_max=float(np.max(np.abs(x))))
    assert_gradient_close(dx, num_dx, bound, f"dx for {param} on x {x.shape}")


def test_overlapping_windows_accumulate_on_a_shared_maximum():
    # A single 3x3 max sits in all four overlapping 2x2 windows (stride 1): it gets all four.
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0
    param = {"pool_height": 2, "pool_width": 2, "stride": 1}
    _, cache = max_pool_forward_naive(x, param)
    dout = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    dx = max_pool_backward_naive(dout, cache)
    assert dx[0, 0, 1, 1] == 10.0
    assert np.count_nonzero(dx) == 1


@given(st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_ties_send_the_gradient_to_the_first_maximum_in_row_major_order(size, seed):
    # A constant window is all ties: its gradient goes to its top-left entry only.
    x = np.full((1, 2, 2 * size, 2 * size), 0.5)
    param = {"pool_height": size, "pool_width": size, "stride": size}
    out, cache = max_pool_forward_naive(x, param)
    dout = np.random.default_rng(seed).standard_normal(out.shape)
    dx = max_pool_backward_naive(dout, cache)
    np.testing.assert_array_equal(dx[:, :, ::size, ::size], dout)
    assert np.count_nonzero(dx) == np.count_nonzero(dout)
