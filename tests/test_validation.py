"""Bad input gets a clear error naming the argument, what was expected and what came."""

import numpy as np
import pytest

from bpkit import layers, optim

rng = np.random.default_rng(0)
X4 = rng.standard_normal((2, 3, 6, 6))
W4 = rng.standard_normal((4, 3, 3, 3))
B4 = np.zeros(4)
CONV = {"stride": 1, "pad": 1}
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        # wrong ranks and mismatched dimensions
        (
            lambda: layers.affine_forward(np.zeros((2, 5)), np.zeros((4, 3)), np.zeros(3)),
            ValueError,
            r"D\) vs w.shape\[0\]: expected 4, got 5",
        ),
        (
            lambda: layers.affine_forward(np.zeros((2, 4)), np.zeros((4, 3)), np.zeros(2)),
            ValueError,
            r"b.shape\[0\] vs w.shape\[1\] \(M\): expected 3, got 2",
        ),
        (
            lambda: layers.affine_forward(np.zeros((2, 4)), np.zeros(4), np.zeros(3)),
            ValueError,
            r"w: expected a 2-d array, got shape \(4,\)",
        ),
        (
            lambda: layers.conv_forward_naive(X4[0], W4, B4, CONV),
            ValueError,
            r"x: expected a 4-d array, got shape \(3, 6, 6\)",
        ),
        (
            lambda: layers.conv_forward_naive(X4, W4[:, :2], B4, CONV),
            ValueError,
            r"input channels C.*expected 3, got 2",
        ),
        (
            lambda: layers.conv_forward_naive(X4, W4, np.zeros(3), CONV),
            ValueError,
            r"number of filters F: expected 4, got 3",
        ),
        (
            lambda: layers.max_pool_forward_naive(X4[0], POOL),
            ValueError,
            r"x: expected a 4-d array",
        ),
        # a conv or pool whose windows do not tile the (padded) input
        (
            lambda: layers.conv_forward_naive(X4, W4, B4, {"stride": 2, "pad": 1}),
            ValueError,
            r"conv height.*= 5 is not divisible by stride 2",
        ),
        (
            lambda: layers.max_pool_forward_naive(X4[:, :, :5], POOL),
            ValueError,
            r"pool height.*= 3 is not divisible by stride 2",
        ),
        (
            lambda: layers.conv_forward_naive(X4, rng.standard_normal((4, 3, 9, 9)), B4, CONV),
            ValueError,
            r"window \(9\) is larger than the padded input",
        ),
        # missing or bad parameter keys
        (
            lambda: layers.conv_forward_naive(X4, W4, B4, {"stride": 1}),
            ValueError,
            r"conv_param: missing key\(s\) \['pad'\]",
        ),
        (
            lambda: layers.max_pool_forward_naive(X4, {"pool_height": 2, "stride": 2}),
            ValueError,
            r"pool_param: missing key\(s\) \['pool_width'\]",
        ),
        (
            lambda: layers.conv_forward_naive(X4, W4, B4, {"stride": 0, "pad": 1}),
            ValueError,
            r"conv_param\['stride'\]: expected an integer >= 1, got 0",
        ),
        (
            lambda: layers.conv_forward_naive(X4, W4, B4, {"stride": 1, "pad": 1.5}),
            ValueError,
            r"conv_param\['pad'\]: expected an integer >= 0, got 1.5",
        ),
        # labels out of range, non-integer, wrong length
        (
            lambda: layers.softmax_loss(np.zeros((3, 4)), np.array([0, 4, 1])),
            ValueError,
            r"y: expected labels in \[0, 4\).*got values from 0 to 4",
        ),
        (
            lambda: layers.softmax_loss(np.zeros((3, 4)), np.array([0, -1, 1])),
            ValueError,
            r"y: expected labels in \[0, 4\)",
        ),
        (
            lambda: layers.softmax_loss(np.zeros((3, 4)), np.array([0.0, 1.0, 2.0])),
            TypeError,
            r"y: expected integer class labels, got dtype float64",
        ),
        (
            lambda: layers.softmax_loss(np.zeros((3, 4)), np.array([0, 1])),
            ValueError,
            r"y: expected shape \(3,\).*got \(2,\)",
        ),
        # NaN / inf in the scores
        (
            lambda: layers.softmax_loss(np.array([[0.0, np.nan], [1.0, 2.0]]), np.array([0, 1])),
            ValueError,
            r"x: expected finite values, got 1 NaN/inf entries \(first at index \(0, 1\)",
        ),
        (
            lambda: layers.svm_loss(np.array([[np.inf, 0.0]]), np.array([0])),
            ValueError,
            r"x: expected finite values",
        ),
        # non-float dtypes
        (
            lambda: layers.relu_forward(np.arange(4)),
            TypeError,
            r"x: expected a floating-point array .* got dtype int64",
        ),
        (
            lambda: layers.affine_forward(np.zeros((2, 4)), np.zeros((4, 3), int), np.zeros(3)),
            TypeError,
            r"w: expected a floating-point array",
        ),
        (
            lambda: layers.conv_forward_naive([[1.0]], W4, B4, CONV),
            TypeError,
            r"x: expected a numpy array, got list",
        ),
        # an upstream gradient that does not match the forward output
        (
            lambda: layers.affine_backward(
                np.zeros((2, 4)), (np.zeros((2, 3)), np.zeros((3, 5)), np.zeros(5))
            ),
            ValueError,
            r"dout: expected the shape of the forward output, \(2, 5\), got \(2, 4\)",
        ),
        (
            lambda: layers.relu_backward(np.ones(4), np.zeros((3, 4))),
            ValueError,
            r"dout: expected the shape of the forward output, \(3, 4\), got \(4,\)",
        ),
        (
            lambda: layers.conv_backward_naive(np.zeros((2, 4, 5, 6)), (X4, W4, B4, CONV)),
            ValueError,
            r"dout: expected the shape of the forward output, \(2, 4, 6, 6\), got \(2, 4, 5, 6\)",
        ),
        (
            lambda: layers.max_pool_backward_naive(np.zeros((2, 3, 2, 3)), (X4, POOL)),
            ValueError,
            r"dout: expected the shape of the forward output, \(2, 3, 3, 3\), got \(2, 3, 2, 3\)",
        ),
        (
            lambda: layers.relu_backward(np.ones((3, 4), int), np.zeros((3, 4))),
            TypeError,
            r"dout: expected a floating-point array",
        ),
        # an empty batch
        (
            lambda: layers.affine_forward(np.zeros((0, 4)), np.zeros((4, 3)), np.zeros(3)),
            ValueError,
            r"x: expected at least one example \(N >= 1\), got shape \(0, 4\)",
        ),
        (
            lambda: layers.softmax_loss(np.zeros((0, 4)), np.zeros(0, int)),
            ValueError,
            r"x: expected at least one example",
        ),
        (
            lambda: optim.sgd(np.zeros(3), np.zeros(4)),
            ValueError,
            r"dw: expected the shape of w, \(3,\), got \(4,\)",
        ),
        (
            lambda: optim.adam(np.zeros(3), np.zeros(3), config=[]),
            TypeError,
            r"config: expected a dict or None, got list",
        ),
    ],
)
def test_bad_input_is_named(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
