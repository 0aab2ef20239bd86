"""Public tests of exercise ``max_pool``: naive max pooling, forward and backward.

Every input here is tie-free, so the maximum of each window is unambiguous.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpkit.assignments.student import diagnose
from bpkit.gradcheck import eval_numerical_gradient_array, rel_error

pytestmark = pytest.mark.max_pool

# Module-level values are never handed to your code: each test passes fresh copies, so a
# function that writes into its inputs cannot change what a later test expects.
X16 = np.array(
    [[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 8.0, 7.0], [9.0, 6.0, 10.0, 11.0], [12.0, 13.0, 15.0, 14.0]]
).reshape(1, 1, 4, 4)
# Stride 1 with 2x2 windows: they overlap, and 9 is the maximum of two of them.
X9 = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 9.0], [6.0, 7.0, 8.0]]).reshape(1, 1, 3, 3)
POOL_2_2 = {"pool_height": 2, "pool_width": 2, "stride": 2}
POOL_2_1 = {"pool_height": 2, "pool_width": 2, "stride": 1}


@pytest.mark.parametrize(
    ("x", "param", "expected"),
    [
        (X16, POOL_2_2, [[5.0, 8.0], [13.0, 15.0]]),
        (X9, POOL_2_1, [[5.0, 9.0], [7.0, 9.0]]),
        (X16, {"pool_height": 3, "pool_width": 2, "stride": 1}, [[9, 10, 11], [13, 15, 15]]),
    ],
    ids=["2x2-stride2", "2x2-stride1-overlap", "3x2-stride1"],
)
def test_forward_hand_examples(layers, x, param, expected):
    out, _ = layers.max_pool_forward_naive(x.copy(), param)
    expected = np.asarray(expected, dtype=np.float64)[None, None]
    assert np.shape(out) == expected.shape, diagnose.wrong_shape(
        f"max_pool_forward_naive({param}): out",
        out,
        expected.shape,
        "H' = 1 + (H - pool_height) / stride, W' = 1 + (W - pool_width) / stride; "
        f"if W' is off: {diagnose.POOL_WIDTH_FROM_HEIGHT}",
    )
    assert rel_error(out, expected) < 1e-12, diagnose.mismatch(
        f"max_pool_forward_naive({param}): out", out, expected
    )


def test_backward_overlapping_windows_accumulate(layers):
    _, cache = layers.max_pool_forward_naive(X9.copy(), POOL_2_1)
    dx = layers.max_pool_backward_naive(np.array([[1.0, 2.0], [3.0, 4.0]])[None, None], cache)
    # Window maxima: 5 at (1, 1), 9 at (1, 2) twice, 7 at (2, 1); 9 gets 2 + 4.
    expected = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 6.0], [0.0, 3.0, 0.0]])[None, None]
    assigned = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 4.0], [0.0, 3.0, 0.0]])[None, None]
    spread = np.array([[1, 1, 2], [4, 10, 6], [3, 7, 4]], dtype=np.float64)[None, None]
    assert rel_error(dx, expected) < 1e-12, diagnose.mismatch(
        "max_pool_backward_naive (2x2 windows, stride 1): dx",
        dx,
        expected,
        [
            (
                "overlapping windows that share a maximum must add their gradients (+=), "
                "not overwrite each other (=)",
                assigned,
            ),
            ("every entry of a window gets its gradient; only the maximum should", spread),
        ],
    )


@pytest.mark.parametrize(
    ("x_shape", "param"),
    [
        ((2, 3, 4, 4), POOL_2_2),
        ((2, 2, 5, 5), POOL_2_1),
        ((1, 2, 7, 7), {"pool_height": 3, "pool_width": 3, "stride": 2}),
        ((2, 1, 4, 6), {"pool_height": 2, "pool_width": 3, "stride": 1}),
        ((2, 1, 5, 6), {"pool_height": 3, "pool_width": 2, "stride": 2}),
    ],
    ids=str,
)
def test_backward_matches_numerical_gradient(layers, rng, x_shape, param):
    # Distinct values at least 0.1 apart: no ties, and no step h = 1e-5 changes a maximum.
    x = rng.permutation(np.arange(np.prod(x_shape), dtype=np.float64)).reshape(x_shape) / 10
    out, cache = layers.max_pool_forward_naive(x, param)
    dout = rng.standard_normal(np.shape(out))
    dx = layers.max_pool_backward_naive(dout, cache)
    assert np.shape(dx) == x.shape, diagnose.wrong_shape("max_pool_backward_naive: dx", dx, x.shape)
    num_dx = eval_numerical_gradient_array(
        lambda v: layers.max_pool_forward_naive(v, param)[0], x, dout
    )
    assert rel_error(dx, num_dx) < 1e-7, diagnose.gradient_mismatch(
        f"max_pool_backward_naive ({param})", "x", dx, num_dx
    )


@settings(deadline=None, max_examples=25)
@given(
    shape=st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(2, 6), st.integers(2, 6)),
    seed=st.integers(0, 2**16),
)
def test_gradient_is_conserved(layers, shape, seed):
    # Each output sends all of its gradient to one input, so dx and dout have the same sum.
    rng = np.random.default_rng(seed)
    x = rng.permutation(np.arange(np.prod(shape), dtype=np.float64)).reshape(shape)
    param = {"pool_height": 2, "pool_width": 2, "stride": 1}
    out, cache = layers.max_pool_forward_naive(x, param)
    dout = rng.uniform(0.5, 1.5, np.shape(out))
    dx = layers.max_pool_backward_naive(dout, cache)
    assert abs(np.sum(dx) - np.sum(dout)) < 1e-9, (
        f"max_pool_backward_naive: sum(dx) = {np.sum(dx)} but sum(dout) = {np.sum(dout)} for x "
        f"of shape {shape} with overlapping windows; every window must pass its whole gradient "
        "to its maximum, adding where windows share it"
    )
    assert np.count_nonzero(dx) <= np.size(dout), "max_pool_backward_naive: too many nonzeros"


def test_inputs_are_not_modified(layers, rng):
    x = rng.permutation(np.arange(32.0)).reshape(2, 1, 4, 4)
    dout = rng.standard_normal((2, 1, 3, 3))
    x_before, dout_before = x.copy(), dout.copy()
    _, cache = layers.max_pool_forward_naive(x, POOL_2_1)
    assert np.array_equal(x, x_before), diagnose.modified_in_place("max_pool_forward_naive", "x")
    layers.max_pool_backward_naive(dout, cache)
    assert np.array_equal(x, x_before), diagnose.modified_in_place(
        "max_pool_backward_naive", "x (the cache)"
    )
    assert np.array_equal(dout, dout_before), diagnose.modified_in_place(
        "max_pool_backward_naive", "dout"
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_dtype_is_preserved(layers, dtype):
    out, cache = layers.max_pool_forward_naive(X16.astype(dtype), POOL_2_2)
    dx = layers.max_pool_backward_naive(np.ones((1, 1, 2, 2), dtype=dtype), cache)
    assert out.dtype == dtype, diagnose.wrong_dtype("max_pool_forward_naive: out", out, dtype)
    assert dx.dtype == dtype, diagnose.wrong_dtype("max_pool_backward_naive: dx", dx, dtype)
    # The maxima 5, 8, 13 and 15 each get one unit of gradient.
    expected_dx = np.isin(X16, [5.0, 8.0, 13.0, 15.0]).astype(np.float64)
    expected_out = np.array([[5.0, 8.0], [13.0, 15.0]])[None, None]
    for name, got, expected in (("out", out, expected_out), ("dx", dx, expected_dx)):
        assert rel_error(got.astype(np.float64), expected) < 1e-6, diagnose.mismatch(
            f"max_pool: {name} for {np.dtype(dtype).name} inputs", got, expected
        )
