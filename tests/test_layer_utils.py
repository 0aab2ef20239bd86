"""The sandwich layers against numerical gradients of their forward pass.

Each gradient is compared entry by entry with the error bound of the centered difference
(``tests/numerical_error.py``). The affine and conv parts are linear in each argument; ReLU
and max pooling are linear as long as no pre-activation sits within reach of 0 and no
pooling window has a near-tie, which the test asserts for its fixed inputs (a margin of
1e-3 against steps of h * |w| <= 1e-4). So the bound is round-off only: ``n * eps * S / h``
with ``n`` the terms of one affine or conv output and ``S`` the sum of ``|dout|`` times the
sum of ``|terms|`` behind each output (ReLU and max pooling add no rounding).
"""

import numpy as np
import pytest
from numerical_error import assert_gradient_close, centered_difference_bound

from bpkit import layer_utils
from bpkit.fast_layers import conv_forward_fast, max_pool_forward_fast
from bpkit.gradcheck import eval_numerical_gradient_array
from bpkit.layers import affine_forward

rng = np.random.default_rng(0)
CONV = {"stride": 1, "pad": 1}
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}
CASES = {
    "affine_relu": (
        layer_utils.affine_relu_forward,
        layer_utils.affine_relu_backward,
        (rng.standard_normal((3, 2, 4)), rng.standard_normal((8, 5)), rng.standard_normal(5)),
        {},
    ),
    "conv_relu": (
        layer_utils.conv_relu_forward,
        layer_utils.conv_relu_backward,
        (
            rng.standard_normal((2, 3, 5, 5)),
            rng.standard_normal((4, 3, 3, 3)),
            rng.standard_normal(4),
        ),
        {"conv_param": CONV},
    ),
    "conv_relu_pool": (
        layer_utils.conv_relu_pool_forward,
        layer_utils.conv_relu_pool_backward,
        (
            rng.standard_normal((2, 3, 6, 6)),
            rng.standard_normal((4, 3, 3, 3)),
            rng.standard_normal(4),
        ),
        {"conv_param": CONV, "pool_param": POOL},
    ),
}


def _pre_activation_and_magnitude(name, args, params):
    """The linear part's output, and the sum of |terms| behind every output of the sandwich."""
    x, w, b = args
    if name == "affine_relu":
        return affine_forward(x, w, b)[0], affine_forward(np.abs(x), np.abs(w), np.abs(b))[0]
    conv_param = params["conv_param"]
    pre = conv_forward_fast(x, w, b, conv_param)[0]
    magnitude = conv_forward_fast(np.abs(x), np.abs(w), np.abs(b), conv_param)[0]
    if name == "conv_relu_pool":  # the largest magnitude in a window bounds the winner's
        magnitude = max_pool_forward_fast(magnitude, params["pool_param"])[0]
    return pre, magnitude


def _assert_no_kink_within_reach(name, pre, params, margin=1e-3):
    assert np.min(np.abs(pre)) > margin, f"{name}: a pre-activation is within {margin} of 0"
    if name == "conv_relu_pool":
        relu = np.maximum(pre, 0.0)
        n, c, h, w = relu.shape
        blocks = relu.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5)
        top2 = np.sort(blocks.reshape(n, c, h // 2, w // 2, 4), axis=-1)[..., -2:]
        gap = top2[..., 1] - top2[..., 0]
        near_tie = (gap < margin) & (top2[..., 1] > 0)
        assert not near_tie.any(), f"{name}: a pooling window has a near-tie"


@pytest.mark.parametrize("name", sorted(CASES))
def test_sandwich_backward_matches_numerical_gradient(name):
    forward, backward, args, params = CASES[name]
    out, cache = forward(*args, **params)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    grads = backward(dout, cache)
    pre, magnitude = _pre_activation_and_magnitude(name, args, params)
    _assert_no_kink_within_reach(name, pre, params)
    scale = float(np.sum(np.abs(dout) * magnitude))
    terms = args[1][0].size + 1 if name != "affine_relu" else args[1].shape[0] + 1
    for i, (arg, grad) in enumerate(zip(args, grads, strict=True)):

        def f(v, i=i):
            return forward(*args[:i], v, *args[i + 1 :], **params)[0]

        num = eval_numerical_gradient_array(f, arg, dout)
        bound = centered_difference_bound(
            grad, terms=terms, scale=scale, x_max=float(np.max(np.abs(arg)))
        )
        assert_gradient_close(grad, num, bound, f"{name}: gradient of argument {i}")
