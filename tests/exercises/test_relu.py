"""Public tests of exercise ``relu``: ``relu_forward`` and ``relu_backward``."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bpkit.assignments.student import diagnose
from bpkit.gradcheck import eval_numerical_gradient_array, rel_error

pytestmark = pytest.mark.relu

# Module-level values are never handed to your code: each test passes fresh copies, so a
# function that writes into its inputs cannot change what a later test expects.
X = np.array([[-1.0, 0.0, 2.0], [3.0, -0.5, 0.25]])
DOUT = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])


def test_forward_hand_example(layers):
    with np.errstate(all="ignore"):  # a division by x at x == 0: report it by value
        out, _ = layers.relu_forward(X.copy())
    expected = np.array([[0.0, 0.0, 2.0], [3.0, 0.0, 0.25]])
    assert np.all(np.isfinite(out)), (
        f"relu_forward: out is {out.tolist()} for x = {X.tolist()}, expected "
        f"{expected.tolist()}\n  likely cause: {diagnose.RELU_DIVIDES_BY_X}"
    )
    assert rel_error(out, expected) < 1e-12, diagnose.mismatch(
        "relu_forward: out",
        out,
        expected,
        [("negative inputs kept their sign: np.abs?", np.abs(X))],
    )


def test_backward_hand_example(layers):
    _, cache = layers.relu_forward(X.copy())
    with np.errstate(all="ignore"):
        dx = layers.relu_backward(DOUT.copy(), cache)
    assert np.all(np.isfinite(dx)), (
        f"relu_backward: dx is {np.asarray(dx).tolist()}, expected finite values\n  likely "
        f"cause: {diagnose.RELU_DIVIDES_BY_X}"
    )
    # dout passes where x > 0 (entries 2, 3 and 5 in row-major order) and is 0 elsewhere.
    expected = np.array([[0.0, 0.0, 3.0], [4.0, 0.0, 6.0]])
    hints = [
        (diagnose.RELU_MASK_AT_ZERO, [[0, 2, 3], [4, 0, 6]]),
        ("dout is passed through unchanged; multiply it by the mask x > 0", DOUT),
        ("the mask alone is returned; multiply it by dout", [[0, 0, 1], [1, 0, 1]]),
        ("dout is multiplied by the ReLU output instead of the mask", [[0, 0, 6], [12, 0, 1.5]]),
    ]
    assert rel_error(dx, expected) < 1e-12, diagnose.mismatch(
        "relu_backward: dx", dx, expected, hints
    )


@settings(deadline=None, max_examples=30)
@given(
    x=hnp.arrays(
        np.float64, hnp.array_shapes(max_dims=4, max_side=4), elements=st.floats(-1e6, 1e6)
    )
)
def test_forward_keeps_positives_and_zeroes_the_rest(layers, x):
    out, _ = layers.relu_forward(x)
    assert np.shape(out) == x.shape, diagnose.wrong_shape("relu_forward: out", out, x.shape)
    assert np.array_equal(out[x > 0], x[x > 0]), "relu_forward changed a positive input"
    assert np.all(out[x <= 0] == 0), "relu_forward: expected 0 wherever x <= 0"


@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 4), (2, 1, 3, 3)], ids=str)
def test_backward_matches_numerical_gradient(layers, rng, shape):
    # Keep every input at least 0.1 away from the kink at 0, far beyond the step h = 1e-5.
    x = rng.uniform(0.1, 1.0, shape) * rng.choice([-1.0, 1.0], shape)
    dout = rng.standard_normal(shape)
    _, cache = layers.relu_forward(x)
    dx = layers.relu_backward(dout, cache)
    assert np.shape(dx) == x.shape, diagnose.wrong_shape("relu_backward: dx", dx, x.shape)
    num_dx = eval_numerical_gradient_array(lambda v: layers.relu_forward(v)[0], x, dout)
    assert rel_error(dx, num_dx) < 1e-7, diagnose.gradient_mismatch(
        "relu_backward", "x", dx, num_dx, [("dout is passed through unchanged", dout)]
    )


def test_inputs_are_not_modified(layers):
    x, dout = X.copy(), DOUT.copy()
    _, cache = layers.relu_forward(x)
    assert np.array_equal(x, X), diagnose.modified_in_place("relu_forward", "x")
    layers.relu_backward(dout, cache)
    assert np.array_equal(x, X), diagnose.modified_in_place("relu_backward", "x (the cache)")
    assert np.array_equal(dout, DOUT), diagnose.modified_in_place("relu_backward", "dout")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_dtype_is_preserved(layers, dtype):
    out, cache = layers.relu_forward(X.astype(dtype))
    dx = layers.relu_backward(DOUT.astype(dtype), cache)
    assert out.dtype == dtype, diagnose.wrong_dtype("relu_forward: out", out, dtype)
    assert dx.dtype == dtype, diagnose.wrong_dtype("relu_backward: dx", dx, dtype)
    expected = np.array([[0.0, 0.0, 3.0], [4.0, 0.0, 6.0]])
    assert rel_error(dx.astype(np.float64), expected) < 1e-6, diagnose.mismatch(
        f"relu_backward: dx for {np.dtype(dtype).name} inputs", dx, expected
    )
