"""The sandwich layers against numerical gradients of their forward pass."""

import numpy as np
import pytest

from bpkit import layer_utils
from bpkit.gradcheck import eval_numerical_gradient_array, rel_error

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


@pytest.mark.parametrize("name", sorted(CASES))
def test_sandwich_backward_matches_numerical_gradient(name):
    forward, backward, args, params = CASES[name]
    out, cache = forward(*args, **params)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    grads = backward(dout, cache)
    for i, (arg, grad) in enumerate(zip(args, grads, strict=True)):

        def f(v, i=i):
            return forward(*args[:i], v, *args[i + 1 :], **params)[0]

        num = eval_numerical_gradient_array(f, arg, dout)
        assert rel_error(grad, num) < 1e-7, f"{name}: gradient of argument {i} off"
