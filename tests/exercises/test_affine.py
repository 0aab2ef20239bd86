"""Public tests of exercise ``affine``: ``affine_forward`` and ``affine_backward``."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpkit.assignments.student import diagnose
from bpkit.gradcheck import eval_numerical_gradient_array, rel_error

pytestmark = pytest.mark.affine

# Module-level values are never handed to your code: each test passes fresh copies, so a
# function that writes into its inputs cannot change what a later test expects.
X = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
B = np.array([0.5, -1.0])
SHAPE_HINTS = {
    "dx": "dx must have x's original shape: reshape it back with x.shape",
    "dw": "dw has w's shape (D, M)",
    "db": diagnose.AFFINE_DB_KEEPDIMS,
}
# Row n is x[n, 0] + x[n, 2] + 0.5 and x[n, 1] + x[n, 2] - 1, worked out by hand.
OUT = np.array([[4.5, 4.0], [10.5, 10.0]])


@pytest.mark.parametrize("shape", [(2, 3), (2, 1, 3), (2, 3, 1)], ids=str)
def test_forward_hand_example(layers, shape):
    out, _ = layers.affine_forward(X.copy().reshape(shape), W.copy(), B.copy())
    assert np.shape(out) == (2, 2), diagnose.wrong_shape(
        f"affine_forward(x of shape {shape})",
        out,
        (2, 2),
        "each example must be flattened to D = 3 features: x.reshape(N, -1)",
    )
    assert rel_error(out, OUT) < 1e-12, diagnose.mismatch(
        "affine_forward: out",
        out,
        OUT,
        [("the bias b is not added", OUT - B), ("the bias b is added twice", OUT + B)],
    )


@settings(deadline=None, max_examples=30)
@given(
    n=st.integers(1, 4),
    dims=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    m=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_forward_flattens_each_example(layers, n, dims, m, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *dims))
    w = rng.standard_normal((int(np.prod(dims)), m))
    b = rng.standard_normal(m)
    out, _ = layers.affine_forward(x, w, b)
    flat, _ = layers.affine_forward(x.reshape(n, -1), w, b)
    assert np.shape(out) == (n, m), diagnose.wrong_shape("affine_forward: out", out, (n, m))
    assert rel_error(out, flat) < 1e-12, diagnose.mismatch(
        f"affine_forward on x of shape {x.shape} vs on x flattened to {(n, x[0].size)}", out, flat
    )


def test_backward_hand_example(layers):
    _, cache = layers.affine_forward(X.copy(), W.copy(), B.copy())
    dx, dw, db = layers.affine_backward(np.ones((2, 2)), cache)
    # With dout all ones: dx[n] = row sums of w, dw[d] = column sums of x, db = N.
    expected = {
        "dx": np.array([[1.0, 1.0, 2.0], [1.0, 1.0, 2.0]]),
        "dw": np.array([[5.0, 5.0], [7.0, 7.0], [9.0, 9.0]]),
        "db": np.array([2.0, 2.0]),
    }
    hints = {"db": [("db is the mean of dout over the batch; expected the sum", [1.0, 1.0])]}
    for name, got in (("dx", dx), ("dw", dw), ("db", db)):
        assert np.shape(got) == expected[name].shape, diagnose.wrong_shape(
            f"affine_backward: {name}", got, expected[name].shape, SHAPE_HINTS[name]
        )
        assert rel_error(got, expected[name]) < 1e-12, diagnose.mismatch(
            f"affine_backward: {name}", got, expected[name], hints.get(name, ())
        )


@pytest.mark.parametrize(
    ("x_shape", "m"), [((3, 4), 5), ((2, 3, 2), 4), ((4, 2, 2, 1), 3)], ids=str
)
def test_backward_matches_numerical_gradient(layers, rng, x_shape, m):
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal((int(np.prod(x_shape[1:])), m))
    b = rng.standard_normal(m)
    dout = rng.standard_normal((x_shape[0], m))
    _, cache = layers.affine_forward(x, w, b)
    dx, dw, db = layers.affine_backward(dout, cache)
    for name, got, want in (("x", dx, x.shape), ("w", dw, w.shape), ("b", db, b.shape)):
        assert np.shape(got) == want, diagnose.wrong_shape(
            f"affine_backward: d{name}",
            got,
            want,
            SHAPE_HINTS[f"d{name}"],
        )
    num_dx = eval_numerical_gradient_array(lambda v: layers.affine_forward(v, w, b)[0], x, dout)
    num_dw = eval_numerical_gradient_array(lambda v: layers.affine_forward(x, v, b)[0], w, dout)
    num_db = eval_numerical_gradient_array(lambda v: layers.affine_forward(x, w, v)[0], b, dout)
    assert rel_error(dx, num_dx) < 1e-7, diagnose.gradient_mismatch(
        "affine_backward", "x", dx, num_dx
    )
    assert rel_error(dw, num_dw) < 1e-7, diagnose.gradient_mismatch(
        "affine_backward", "w", dw, num_dw
    )
    assert rel_error(db, num_db) < 1e-7, diagnose.gradient_mismatch(
        "affine_backward",
        "b",
        db,
        num_db,
        [("db is the mean over N; expected the sum", num_db / len(x))],
    )


def test_inputs_are_not_modified(layers, rng):
    x, w, b = rng.standard_normal((3, 2, 2)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    dout = rng.standard_normal((3, 5))
    before = [a.copy() for a in (x, w, b, dout)]
    _, cache = layers.affine_forward(x, w, b)
    for name, now, then in zip(("x", "w", "b"), (x, w, b), before[:3], strict=True):
        assert np.array_equal(now, then), diagnose.modified_in_place("affine_forward", name)
    layers.affine_backward(dout, cache)
    for name, now, then in zip(("x", "w", "b", "dout"), (x, w, b, dout), before, strict=True):
        assert np.array_equal(now, then), diagnose.modified_in_place("affine_backward", name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_dtype_is_preserved(layers, rng, dtype):
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in ((2, 3), (3, 4), (4,)))
    out, cache = layers.affine_forward(x, w, b)
    grads = layers.affine_backward(np.ones((2, 4), dtype=dtype), cache)
    for name, got in zip(("out", "dx", "dw", "db"), (out, *grads), strict=True):
        fn = "affine_forward" if name == "out" else "affine_backward"
        assert got.dtype == dtype, diagnose.wrong_dtype(f"{fn}: {name}", got, dtype)
