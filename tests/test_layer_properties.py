"""Property-based gradient checks of the naive conv and pool layers over shapes, strides, pads.

Hypothesis draws a geometry that tiles (the windows fit the padded input a whole number of
times) and each backward is compared with centered differences in float64.
"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from strategies import conv_cases, pool_cases

from bpkit.gradcheck import eval_numerical_gradient_array, rel_error
from bpkit.layers import (
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
)


@given(conv_cases(max_batch=2, max_filters=3, max_kernel=3, max_pad=2, max_out=3))
def test_conv_backward_matches_numerical_gradient(case):
    x, w, b, param, dout = case
    x_before = x.copy()
    out, cache = conv_forward_naive(x, w, b, param)
    dx, dw, db = conv_backward_naive(dout, cache)
    np.testing.assert_array_equal(x, x_before, err_msg="conv_forward_naive modified x")
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape
    num_dx = eval_numerical_gradient_array(lambda v: conv_forward_naive(v, w, b, param)[0], x, dout)
    num_dw = eval_numerical_gradient_array(lambda v: conv_forward_naive(x, v, b, param)[0], w, dout)
    num_db = eval_numerical_gradient_array(lambda v: conv_forward_naive(x, w, v, param)[0], b, dout)
    assert rel_error(dx, num_dx) < 1e-7, f"dx off for {param}, x {x.shape}, w {w.shape}"
    assert rel_error(dw, num_dw) < 1e-7, f"dw off for {param}, x {x.shape}, w {w.shape}"
    assert rel_error(db, num_db) < 1e-7, f"db off for {param}, x {x.shape}, w {w.shape}"


@given(pool_cases(max_batch=2, max_stride=3, max_out=4))
def test_max_pool_backward_matches_numerical_gradient(case):
    x, param, dout = case
    _, cache = max_pool_forward_naive(x, param)
    dx = max_pool_backward_naive(dout, cache)
    num_dx = eval_numerical_gradient_array(lambda v: max_pool_forward_naive(v, param)[0], x, dout)
    assert rel_error(dx, num_dx) < 1e-8, f"dx off for {param} on x {x.shape}"


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
