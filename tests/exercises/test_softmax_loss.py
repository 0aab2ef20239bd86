"""Public tests of exercise ``softmax_loss``: mean cross-entropy of a softmax and its gradient."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpkit.assignments.student import diagnose
from bpkit.gradcheck import eval_numerical_gradient, rel_error

pytestmark = pytest.mark.softmax_loss

# Module-level values are never handed to your code: each test passes fresh copies, so a
# function that writes into its inputs cannot change what a later test expects.
LOG3 = 1.0986122886681098  # ln 3: the loss of 3 equally likely classes
Y4 = np.array([0, 1, 2, 0])
# Equal scores give p = 1/3 everywhere, so dx = (1/3 - [c == y]) / N with N = 4.
DX_ZEROS = np.array(
    [
        [-1 / 6, 1 / 12, 1 / 12],
        [1 / 12, -1 / 6, 1 / 12],
        [1 / 12, 1 / 12, -1 / 6],
        [-1 / 6, 1 / 12, 1 / 12],
    ]
)


def test_equal_scores_hand_example(layers):
    loss, dx = layers.softmax_loss(np.zeros((4, 3)), Y4.copy())
    assert np.ndim(loss) == 0, f"softmax_loss: expected a scalar loss, got shape {np.shape(loss)}"
    assert abs(loss - LOG3) < 1e-12, diagnose.mismatch(
        "softmax_loss: loss",
        loss,
        LOG3,
        [
            ("the loss is summed over the batch; divide it by N", 4 * LOG3),
            ("the sign is flipped: the loss is -log p of the right class", -LOG3),
        ],
    )
    assert rel_error(dx, DX_ZEROS) < 1e-12, diagnose.mismatch(
        "softmax_loss: dx",
        dx,
        DX_ZEROS,
        [
            ("dx is not divided by N", 4 * DX_ZEROS),
            ("dx has the wrong sign: it is p - onehot(y), divided by N", -DX_ZEROS),
        ],
    )


def test_two_class_hand_example(layers):
    # Scores 0 and ln 3 give p = (1/4, 3/4); the label is class 1.
    loss, dx = layers.softmax_loss(np.array([[0.0, np.log(3.0)]]), np.array([1]))
    assert abs(loss - 0.2876820724517809) < 1e-12, diagnose.mismatch(
        "softmax_loss: loss (expected -ln 3/4)", loss, 0.2876820724517809
    )
    assert rel_error(dx, [[0.25, -0.25]]) < 1e-12, diagnose.mismatch(
        "softmax_loss: dx", dx, [[0.25, -0.25]]
    )


@pytest.mark.parametrize("offset", [1e4, -1e4, 3e5], ids=lambda v: f"{v:g}")
def test_stable_for_large_scores(layers, offset):
    # Row 0 is the two-class example shifted by `offset`; row 1 has two equal scores (ln 2).
    x = offset + np.array([[0.0, np.log(3.0)], [0.0, 0.0]])
    with np.errstate(all="ignore"):  # report overflow through the values, not a warning
        loss, dx = layers.softmax_loss(x, np.array([1, 0]))
    expected_loss = (0.2876820724517809 + 0.6931471805599453) / 2
    expected_dx = np.array([[0.125, -0.125], [-0.25, 0.25]])
    what = f"softmax_loss with scores near {offset:g}"
    assert np.isfinite(loss) and np.all(np.isfinite(dx)), (
        f"{what}: got loss {loss} and {np.sum(~np.isfinite(dx))} NaN/inf entries in dx, "
        f"expected loss {expected_loss}\n  likely cause: exp overflowed; subtract each row's "
        "maximum score before taking exp (the softmax does not change)"
    )
    assert abs(loss - expected_loss) < 1e-9, diagnose.mismatch(f"{what}: loss", loss, expected_loss)
    assert rel_error(dx, expected_dx) < 1e-9, diagnose.mismatch(f"{what}: dx", dx, expected_dx)


@pytest.mark.parametrize(("n", "c"), [(1, 2), (5, 4), (3, 10)], ids=str)
def test_gradient_matches_numerical_gradient(layers, rng, n, c):
    x = rng.standard_normal((n, c))
    y = rng.integers(c, size=n)
    loss, dx = layers.softmax_loss(x, y)
    assert np.shape(dx) == x.shape, diagnose.wrong_shape("softmax_loss: dx", dx, x.shape)
    num_dx = eval_numerical_gradient(lambda v: layers.softmax_loss(v, y)[0], x)
    assert rel_error(dx, num_dx) < 1e-7, diagnose.gradient_mismatch(
        "softmax_loss",
        "x",
        dx,
        num_dx,
        [("dx is not divided by N", n * num_dx), ("dx has the wrong sign", -num_dx)],
    )


@settings(deadline=None, max_examples=30)
@given(
    n=st.integers(1, 5),
    c=st.integers(2, 6),
    shift=st.floats(-1e3, 1e3),
    seed=st.integers(0, 2**16),
)
def test_loss_ignores_a_shift_per_row_and_dx_rows_sum_to_zero(layers, n, c, shift, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c))
    y = rng.integers(c, size=n)
    loss, dx = layers.softmax_loss(x, y)
    shifted_loss, _ = layers.softmax_loss(x + shift, y)
    assert loss > 0, f"softmax_loss: expected a positive loss, got {loss}"
    assert abs(shifted_loss - loss) < 1e-9, (
        f"softmax_loss changed by {shifted_loss - loss:.3e} when every score moved by {shift}; "
        "expected the same loss (the softmax ignores a constant added to a row)"
    )
    sums = np.sum(dx, axis=1)
    assert np.max(np.abs(sums)) < 1e-12, f"softmax_loss: each row of dx must sum to 0, got {sums}"


def test_inputs_are_not_modified(layers, rng):
    x, y = rng.standard_normal((4, 3)), np.array([2, 0, 1, 1])
    x_before, y_before = x.copy(), y.copy()
    layers.softmax_loss(x, y)
    assert np.array_equal(x, x_before), diagnose.modified_in_place("softmax_loss", "x")
    assert np.array_equal(y, y_before), diagnose.modified_in_place("softmax_loss", "y")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_dx_dtype_is_preserved(layers, dtype):
    _, dx = layers.softmax_loss(np.zeros((4, 3), dtype=dtype), Y4.copy())
    assert dx.dtype == dtype, diagnose.wrong_dtype("softmax_loss: dx", dx, dtype)
    assert rel_error(dx.astype(np.float64), DX_ZEROS) < 1e-6, diagnose.mismatch(
        f"softmax_loss: dx for {np.dtype(dtype).name} scores", dx, DX_ZEROS
    )
