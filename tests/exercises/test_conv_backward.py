"""Public tests of exercise ``conv_backward``: ``conv_backward_naive``.

The cache comes from your ``conv_forward_naive``, so exercise ``conv_forward`` comes first.
"""

import numpy as np
import pytest

from bpkit.assignments.student import diagnose
from bpkit.gradcheck import eval_numerical_gradient_array, rel_error

pytestmark = pytest.mark.conv_backward

# Module-level values are never handed to your code: each test passes fresh copies, so a
# function that writes into its inputs cannot change what a later test expects.
X9 = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
W4 = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)


def test_hand_example(layers):
    _, cache = layers.conv_forward_naive(
        X9.copy(), W4.copy(), np.array([0.5]), {"stride": 1, "pad": 0}
    )
    dx, dw, db = layers.conv_backward_naive(np.ones((1, 1, 2, 2)), cache)
    # With dout all ones: db counts the 4 outputs; dw[k, l] sums the 2x2 block of x at
    # (k, l); dx sums the filter taps that touched each pixel (4 windows overlap at the
    # center, so it gets 1 + 2 + 3 + 4).
    expected_dx = np.array([[1.0, 3.0, 2.0], [4.0, 10.0, 6.0], [3.0, 7.0, 4.0]])
    expected_dw = np.array([[12.0, 16.0], [24.0, 28.0]])
    assert np.shape(dx) == X9.shape, diagnose.wrong_shape(
        "conv_backward_naive (pad 0): dx", dx, X9.shape, dx_shape_hint(dx, 0)
    )
    assert rel_error(dx, expected_dx.reshape(X9.shape)) < 1e-12, diagnose.mismatch(
        "conv_backward_naive: dx",
        dx,
        expected_dx.reshape(X9.shape),
        [
            (
                "windows overlap, so their contributions to dx must add up (+=), "
                "not overwrite each other (=)",
                np.array([[1.0, 1.0, 2.0], [1.0, 1.0, 2.0], [3.0, 3.0, 4.0]]).reshape(X9.shape),
            )
        ],
    )
    assert rel_error(dw, expected_dw.reshape(W4.shape)) < 1e-12, diagnose.mismatch(
        "conv_backward_naive: dw", dw, expected_dw.reshape(W4.shape)
    )
    assert rel_error(db, [4.0]) < 1e-12, diagnose.mismatch(
        "conv_backward_naive: db (the sum of dout over N, H' and W')", db, [4.0]
    )


def dx_shape_hint(dx: object, pad: int) -> str:
    """What a dx of the wrong shape most likely means."""
    if pad == 0 and 0 in np.shape(dx):
        return diagnose.CONV_PAD_SLICE
    return "cut the padding off dx: it has x's shape (N, C, H, W)"


GEOMETRIES = [
    # (x shape, w shape, conv_param)
    ((2, 3, 5, 5), (2, 3, 3, 3), {"stride": 1, "pad": 1}),
    ((1, 2, 7, 5), (3, 2, 3, 1), {"stride": 2, "pad": 0}),
    ((2, 1, 4, 4), (2, 1, 2, 2), {"stride": 2, "pad": 1}),
    ((1, 2, 6, 6), (2, 2, 4, 4), {"stride": 2, "pad": 2}),
    ((1, 1, 7, 8), (2, 1, 1, 2), {"stride": 3, "pad": 0}),
    ((2, 2, 7, 6), (1, 2, 3, 2), {"stride": 3, "pad": 1}),
]


@pytest.mark.parametrize(("x_shape", "w_shape", "param"), GEOMETRIES, ids=str)
def test_matches_numerical_gradient(layers, rng, x_shape, w_shape, param):
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    out, cache = layers.conv_forward_naive(x, w, b, param)
    dout = rng.standard_normal(np.shape(out))
    dx, dw, db = layers.conv_backward_naive(dout, cache)
    for name, got, want in (("dx", dx, x.shape), ("dw", dw, w.shape), ("db", db, b.shape)):
        assert np.shape(got) == want, diagnose.wrong_shape(
            f"conv_backward_naive ({param}): {name}",
            got,
            want,
            dx_shape_hint(got, param["pad"]) if name == "dx" else None,
        )

    def forward(**kw):
        args = {"x": x, "w": w, "b": b, **kw}
        return layers.conv_forward_naive(args["x"], args["w"], args["b"], param)[0]

    num_dx = eval_numerical_gradient_array(lambda v: forward(x=v), x, dout)
    num_dw = eval_numerical_gradient_array(lambda v: forward(w=v), w, dout)
    num_db = eval_numerical_gradient_array(lambda v: forward(b=v), b, dout)
    what = f"conv_backward_naive ({param})"
    assert rel_error(dx, num_dx) < 1e-7, diagnose.gradient_mismatch(what, "x", dx, num_dx)
    assert rel_error(dw, num_dw) < 1e-7, diagnose.gradient_mismatch(what, "w", dw, num_dw)
    assert rel_error(db, num_db) < 1e-7, diagnose.gradient_mismatch(what, "b", db, num_db)


def test_inputs_are_not_modified(layers, rng):
    x, w, b = rng.standard_normal((2, 2, 4, 4)), rng.standard_normal((3, 2, 3, 3)), np.ones(3)
    param = {"stride": 1, "pad": 1}
    out, cache = layers.conv_forward_naive(x, w, b, param)
    dout = rng.standard_normal(np.shape(out))
    before = [a.copy() for a in (x, w, b, dout)]
    layers.conv_backward_naive(dout, cache)
    for name, now, then in zip(("x", "w", "b", "dout"), (x, w, b, dout), before, strict=True):
        assert np.array_equal(now, then), diagnose.modified_in_place("conv_backward_naive", name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_dtype_is_preserved(layers, dtype):
    _, cache = layers.conv_forward_naive(
        X9.astype(dtype), W4.astype(dtype), np.zeros(1, dtype=dtype), {"stride": 1, "pad": 0}
    )
    grads = layers.conv_backward_naive(np.ones((1, 1, 2, 2), dtype=dtype), cache)
    expected = {
        "dx": np.array([[1.0, 3.0, 2.0], [4.0, 10.0, 6.0], [3.0, 7.0, 4.0]]).reshape(X9.shape),
        "dw": np.array([[12.0, 16.0], [24.0, 28.0]]).reshape(W4.shape),
        "db": np.array([4.0]),
    }
    for name, got in zip(("dx", "dw", "db"), grads, strict=True):
        assert np.shape(got) == expected[name].shape, diagnose.wrong_shape(
            f"conv_backward_naive (pad 0, {np.dtype(dtype).name}): {name}",
            got,
            expected[name].shape,
            dx_shape_hint(got, 0) if name == "dx" else None,
        )
        assert got.dtype == dtype, diagnose.wrong_dtype(f"conv_backward_naive: {name}", got, dtype)
        assert rel_error(got.astype(np.float64), expected[name]) < 1e-6, diagnose.mismatch(
            f"conv_backward_naive: {name} for {np.dtype(dtype).name} inputs", got, expected[name]
        )
