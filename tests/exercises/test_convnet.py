"""Public tests of exercise ``convnet``: ``ThreeLayerConvNet.loss``.

The net is conv - relu - 2x2 max pool - affine - relu - affine - softmax, built from the
sandwich layers, so these tests also run your ``affine``, ``relu`` and ``softmax_loss``
exercises.
"""

import numpy as np
import pytest

from bpkit.assignments.student import diagnose
from bpkit.gradcheck import eval_numerical_gradient, rel_error

pytestmark = pytest.mark.convnet

WEIGHTS = ("W1", "W2", "W3")


def tiny(models, reg=0.0, dtype=np.float64):
    """A 2-channel 6x6 net with 3 filters, 7 hidden units and 4 classes."""
    return models.ThreeLayerConvNet(
        input_dim=(2, 6, 6),
        num_filters=3,
        filter_size=3,
        hidden_dim=7,
        num_classes=4,
        weight_scale=1e-1,
        reg=reg,
        dtype=dtype,
        seed=0,
    )


def batch(rng, n=3):
    return rng.standard_normal((n, 2, 6, 6)), rng.integers(4, size=n)


def test_scores_have_one_row_per_image(models, rng):
    X, _ = batch(rng, n=5)
    scores = tiny(models).loss(X)
    assert np.shape(scores) == (5, 4), diagnose.wrong_shape(
        "ThreeLayerConvNet.loss(X) with y None: scores", scores, (5, 4), "expected (N, classes)"
    )


def test_initial_loss_is_log_of_the_number_of_classes(models, rng):
    # Tiny weights give almost equal scores, so the loss starts near ln C = ln 4.
    model = tiny(models)
    for name in WEIGHTS:
        model.params[name] *= 1e-3
    X, y = batch(rng, n=6)
    loss, _ = model.loss(X, y)
    assert abs(loss - np.log(4)) < 1e-3, diagnose.mismatch(
        "ThreeLayerConvNet.loss with tiny weights: initial loss (expected about ln 4)",
        loss,
        np.log(4),
        [("the data loss is not divided by N", 6 * np.log(4))],
    )


def test_l2_term_is_half_reg_times_the_sum_of_squared_weights(models, rng):
    model = tiny(models)
    X, y = batch(rng)
    loss0, grads0 = model.loss(X, y)
    model.reg = 2.0
    loss2, grads2 = model.loss(X, y)
    squares = sum(float(np.sum(model.params[w] ** 2)) for w in WEIGHTS)
    biases = sum(float(np.sum(model.params[f"b{i}"] ** 2)) for i in (1, 2, 3))
    assert abs((loss2 - loss0) - squares) < 1e-10, diagnose.mismatch(
        "ThreeLayerConvNet.loss: loss(reg 2) - loss(reg 0), which should be sum of W**2",
        loss2 - loss0,
        squares,
        [
            ("the L2 term is missing", 0.0),
            (diagnose.L2_WITHOUT_HALF, 2 * squares),
            ("the biases are regularized too; only W1, W2 and W3 should be", squares + biases),
        ],
    )
    for name in WEIGHTS:
        extra = grads2[name] - grads0[name]
        expected = 2.0 * model.params[name]
        assert rel_error(extra, expected) < 1e-8, diagnose.mismatch(
            f"ThreeLayerConvNet.loss: grads['{name}'] at reg 2 minus at reg 0 (reg * {name})",
            extra,
            expected,
            [(f"the gradient of the L2 term, reg * {name}, is missing", np.zeros_like(extra))],
        )


@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_gradients_match_numerical_gradients(models, rng, reg):
    model = tiny(models, reg=reg)
    for i in (1, 2, 3):
        model.params[f"b{i}"] = 0.1 * rng.standard_normal(model.params[f"b{i}"].shape)
    X, y = batch(rng)
    _, grads = model.loss(X, y)
    assert sorted(grads) == sorted(model.params), (
        f"ThreeLayerConvNet.loss: grads has keys {sorted(grads)}, expected {sorted(model.params)}"
    )
    for name, param in model.params.items():
        assert np.shape(grads[name]) == param.shape, diagnose.wrong_shape(
            f"ThreeLayerConvNet.loss: grads['{name}']", grads[name], param.shape
        )
        num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], param)
        hints = []
        if name.startswith("W") and reg:
            hints = [(f"the L2 gradient reg * {name} is missing", num - reg * param)]
        assert rel_error(grads[name], num) < 1e-6, diagnose.gradient_mismatch(
            f"ThreeLayerConvNet.loss (reg {reg})", name, grads[name], num, hints
        )


def test_float32_nets_stay_float32(models, rng):
    model = tiny(models, dtype=np.float32)
    X, y = batch(rng)
    scores = model.loss(X)
    _, grads = model.loss(X, y)
    assert scores.dtype == np.float32, f"scores have dtype {scores.dtype}, expected float32"
    for name, grad in grads.items():
        assert grad.dtype == np.float32, f"grads['{name}'] has dtype {grad.dtype}, expected float32"


def test_inputs_and_params_are_not_modified(models, rng):
    model = tiny(models, reg=0.5)
    X, y = batch(rng)
    before = {k: v.copy() for k, v in model.params.items()}
    x_before = X.copy()
    model.loss(X)
    model.loss(X, y)
    assert np.array_equal(X, x_before), diagnose.modified_in_place("ThreeLayerConvNet.loss", "X")
    for name, value in before.items():
        assert np.array_equal(model.params[name], value), (
            diagnose.modified_in_place("ThreeLayerConvNet.loss", f"self.params['{name}']")
            + " (loss only computes; the solver updates the parameters)"
        )
