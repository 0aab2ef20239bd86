"""Public tests of exercise ``conv_forward``: ``conv_forward_naive``."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpkit.assignments.student import diagnose
from bpkit.gradcheck import rel_error

pytestmark = pytest.mark.conv_forward

# Module-level values are never handed to your code: each test passes fresh copies, so a
# function that writes into its inputs cannot change what a later test expects.
# One 3x3 image holding 1..9 row by row.
X9 = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)


def test_hand_example_stride_1(layers):
    w = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    out, _ = layers.conv_forward_naive(X9.copy(), w, np.array([0.5]), {"stride": 1, "pad": 0})
    # Top-left: 1*1 + 2*2 + 3*4 + 4*5 + 0.5; each step right adds 10, each step down 30.
    expected = np.array([[37.5, 47.5], [67.5, 77.5]]).reshape(1, 1, 2, 2)
    hints = [
        (
            "the filter is flipped (true convolution); expected cross-correlation",
            [[23.5, 33.5], [53.5, 63.5]],
        ),
        ("the bias is not added", expected - 0.5),
    ]
    assert np.shape(out) == (1, 1, 2, 2), diagnose.wrong_shape(
        "conv_forward_naive: out", out, (1, 1, 2, 2), "H' = 1 + (H + 2 pad - HH) / stride"
    )
    assert rel_error(out, expected) < 1e-12, diagnose.mismatch(
        "conv_forward_naive: out",
        out,
        expected,
        [(c, np.reshape(v, (1, 1, 2, 2))) for c, v in hints],
    )


def test_hand_example_padding_and_stride_2(layers):
    # A 3x3 filter of ones over the zero-padded image, stride 2: sums of 2x2 corners.
    out, _ = layers.conv_forward_naive(
        X9.copy(), np.ones((1, 1, 3, 3)), np.zeros(1), {"stride": 2, "pad": 1}
    )
    expected = np.array([[12.0, 16.0], [24.0, 28.0]]).reshape(1, 1, 2, 2)
    assert np.shape(out) == (1, 1, 2, 2), diagnose.wrong_shape(
        "conv_forward_naive with pad 1, stride 2: out",
        out,
        (1, 1, 2, 2),
        "H' = 1 + (H + 2 pad - HH) / stride = 1 + (3 + 2 - 3) / 2 = 2",
    )
    assert rel_error(out, expected) < 1e-12, diagnose.mismatch(
        "conv_forward_naive with pad 1, stride 2: out", out, expected
    )


def test_hand_example_non_square_image_and_filter(layers):
    # A 3x4 image holding 1..12 row by row and a 2x3 filter with two taps: out[i, j] is
    # x[i, j] + 2 x[i + 1, j + 2], so H' = 3 - 2 + 1 = 2 and W' = 4 - 3 + 1 = 2.
    x = np.arange(1.0, 13.0).reshape(1, 1, 3, 4)
    w = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 2.0]]).reshape(1, 1, 2, 3)
    out, _ = layers.conv_forward_naive(x, w, np.zeros(1), {"stride": 1, "pad": 0})
    expected = np.array([[15.0, 18.0], [27.0, 30.0]]).reshape(1, 1, 2, 2)
    assert np.shape(out) == (1, 1, 2, 2), diagnose.wrong_shape(
        "conv_forward_naive (3x4 image, 2x3 filter): out",
        out,
        (1, 1, 2, 2),
        diagnose.CONV_HW_SWAPPED,
    )
    assert rel_error(out, expected) < 1e-12, diagnose.mismatch(
        "conv_forward_naive (3x4 image, 2x3 filter; are H and W mixed up?): out", out, expected
    )


def test_hand_example_channels_filters_and_batch(layers):
    # Example 0: channel 0 all 1, channel 1 all 2; example 1 is its negative.
    one = np.stack([np.ones((2, 2)), 2 * np.ones((2, 2))])
    x = np.stack([one, -one])
    # Filter 0 adds both channels; filter 1 subtracts channel 1 from channel 0.
    w = np.stack([np.ones((2, 2, 2)), np.stack([np.ones((2, 2)), -np.ones((2, 2))])])
    out, _ = layers.conv_forward_naive(x, w, np.array([0.0, 1.0]), {"stride": 1, "pad": 0})
    # Example 0: 4*1 + 4*2 = 12 and 4 - 8 + 1 = -3; example 1: -12 and -4 + 8 + 1 = 5.
    expected = np.array([12.0, -3.0, -12.0, 5.0]).reshape(2, 2, 1, 1)
    assert np.shape(out) == (2, 2, 1, 1), diagnose.wrong_shape(
        "conv_forward_naive: out", out, (2, 2, 1, 1), "expected (N, F, H', W')"
    )
    assert rel_error(out, expected) < 1e-12, diagnose.mismatch(
        "conv_forward_naive: out",
        out,
        expected,
        [
            (
                "only channel 0 is used; sum over every channel C",
                [[[[4.0]], [[5.0]]], [[[-4.0]], [[-3.0]]]],
            )
        ],
    )


@st.composite
def geometries(draw):
    """(x shape, w shape, conv_param) that tile: a whole number of windows."""
    n, c, f = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    hh, ww, stride = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    pad = draw(st.integers(0, 1))
    h_out, w_out = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h = (h_out - 1) * stride + hh - 2 * pad
    w = (w_out - 1) * stride + ww - 2 * pad
    if min(h, w) < 1:
        pad, h, w = 0, h + 2 * pad, w + 2 * pad
    return (n, c, h, w), (f, c, hh, ww), {"stride": stride, "pad": pad}


@settings(deadline=None, max_examples=25)
@given(geometry=geometries(), seed=st.integers(0, 2**16))
def test_shape_bias_and_linearity(layers, geometry, seed):
    x_shape, w_shape, param = geometry
    rng = np.random.default_rng(seed)
    x1, x2 = rng.standard_normal(x_shape), rng.standard_normal(x_shape)
    w = rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    n, _, h, wd = x_shape
    f, _, hh, ww = w_shape
    s, p = param["stride"], param["pad"]
    shape = (n, f, 1 + (h + 2 * p - hh) // s, 1 + (wd + 2 * p - ww) // s)
    out1, _ = layers.conv_forward_naive(x1, w, b, param)
    assert np.shape(out1) == shape, diagnose.wrong_shape(
        f"conv_forward_naive(x {x_shape}, w {w_shape}, {param})", out1, shape
    )
    out2, _ = layers.conv_forward_naive(x2, w, b, param)
    both, _ = layers.conv_forward_naive(x1 + x2, w, b, param)
    zero_b, _ = layers.conv_forward_naive(x1, w, np.zeros_like(b), param)
    # Without its bias a convolution is linear in x, and the bias adds b[f] to channel f.
    bias = np.broadcast_to(b[:, None, None], shape)
    assert rel_error(both - bias, (out1 - bias) + (out2 - bias)) < 1e-9, (
        f"conv_forward_naive is not linear in x for {param}, x {x_shape}, w {w_shape}"
    )
    assert rel_error(out1 - zero_b, bias) < 1e-9, (
        f"conv_forward_naive: the bias must add b[f] to every output of filter f ({param})"
    )


def test_x_is_not_modified(layers, rng):
    x, w, b = rng.standard_normal((2, 3, 4, 4)), rng.standard_normal((2, 3, 3, 3)), np.ones(2)
    before = [a.copy() for a in (x, w, b)]
    layers.conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})
    for name, now, then in zip(("x", "w", "b"), (x, w, b), before, strict=True):
        assert np.array_equal(now, then), diagnose.modified_in_place("conv_forward_naive", name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_dtype_is_preserved(layers, dtype):
    w = np.ones((1, 1, 2, 2), dtype=dtype)
    out, _ = layers.conv_forward_naive(
        X9.astype(dtype), w, np.zeros(1, dtype=dtype), {"stride": 1, "pad": 0}
    )
    assert out.dtype == dtype, diagnose.wrong_dtype("conv_forward_naive: out", out, dtype)
    expected = np.array([[12.0, 16.0], [24.0, 28.0]]).reshape(1, 1, 2, 2)
    assert rel_error(out.astype(np.float64), expected) < 1e-6, diagnose.mismatch(
        f"conv_forward_naive: out for {np.dtype(dtype).name} inputs", out, expected
    )
