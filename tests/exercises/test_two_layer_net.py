"""Public tests of exercise ``two_layer_net``: ``TwoLayerNet.loss``.

The net is affine - relu - affine - softmax, so these tests also run your ``affine``,
``relu`` and ``softmax_loss`` exercises.
"""

import numpy as np
import pytest

from bpkit.assignments.student import diagnose
from bpkit.gradcheck import eval_numerical_gradient, rel_error

pytestmark = pytest.mark.two_layer_net

# Module-level values are never handed to your code: each test passes fresh copies, so a
# function that writes into its inputs cannot change what a later test expects.
LOG3 = 1.0986122886681098  # ln 3: the loss when all 3 classes get the same score
X2 = np.array([[1.0, 2.0], [-1.0, 1.0]])
Y2 = np.array([0, 1])


def net(models, reg=0.0, **params):
    """A 2-2-3 net with the given parameters (all float64 arrays)."""
    model = models.TwoLayerNet(input_dim=2, hidden_dim=2, num_classes=3, reg=reg)
    model.params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    return model


def test_scores_by_hand(models):
    model = net(
        models,
        W1=[[1.0, 0.0], [0.0, 1.0]],
        b1=[0.0, -1.0],
        W2=[[1.0, -1.0, 0.0], [2.0, 0.0, 1.0]],
        b2=[0.5, 0.0, 0.0],
    )
    scores = model.loss(X2.copy())
    # Hidden layer: relu([1, 1]) = [1, 1] and relu([-1, 0]) = [0, 0]; row 1 is just b2.
    expected = np.array([[3.5, -1.0, 1.0], [0.5, 0.0, 0.0]])
    assert np.shape(scores) == (2, 3), diagnose.wrong_shape(
        "TwoLayerNet.loss(X) with y None: scores", scores, (2, 3), "expected (N, C) scores"
    )
    assert rel_error(scores, expected) < 1e-12, diagnose.mismatch(
        "TwoLayerNet.loss(X): scores",
        scores,
        expected,
        [
            ("the ReLU between the two affine layers is missing", [[3.5, -1, 1], [-0.5, 1, 0]]),
            (
                "loss(X) without y must return the raw scores, not softmax probabilities",
                np.exp(expected) / np.exp(expected).sum(axis=1, keepdims=True),
            ),
        ],
    )


def test_l2_term_on_first_layer_by_hand(models):
    # W2 = 0 makes every score 0, so the data loss is ln 3 and no gradient reaches W1
    # through the data: dW1 is exactly reg * W1. sum(W1**2) = 9, so L2 = 0.5 * 0.3 * 9.
    w1 = np.array([[1.0, -2.0], [0.0, 2.0]])
    model = net(models, reg=0.3, W1=w1, b1=[0.5, -1.0], W2=np.zeros((2, 3)), b2=np.zeros(3))
    loss, grads = model.loss(X2.copy(), Y2.copy())
    expected = LOG3 + 1.35
    assert abs(loss - expected) < 1e-12, diagnose.mismatch(
        "TwoLayerNet.loss with reg 0.3: loss",
        loss,
        expected,
        [
            ("the L2 term is missing: add 0.5 * reg * (sum(W1**2) + sum(W2**2))", LOG3),
            (diagnose.L2_WITHOUT_HALF, LOG3 + 2.7),
            ("the biases are regularized too; only W1 and W2 should be", expected + 0.1875),
            ("the data loss is not divided by N", 2 * LOG3 + 1.35),
        ],
    )
    assert rel_error(grads["W1"], 0.3 * w1) < 1e-12, diagnose.mismatch(
        "TwoLayerNet.loss with reg 0.3: grads['W1'] (here exactly reg * W1)",
        grads["W1"],
        0.3 * w1,
        [
            ("the gradient of the L2 term, reg * W1, is missing", np.zeros((2, 2))),
            ("the L2 gradient is 2 * reg * W1; expected reg * W1", 0.6 * w1),
        ],
    )
    assert rel_error(grads["b1"], [0.0, 0.0]) < 1e-12, diagnose.mismatch(
        "TwoLayerNet.loss with reg 0.3: grads['b1']",
        grads["b1"],
        [0.0, 0.0],
        [("the biases are regularized too; only W1 and W2 should be", [0.15, -0.3])],
    )


def test_l2_term_on_second_layer_by_hand(models):
    # W1 = 0 and b1 = 0 make the hidden layer 0, so dW2 is exactly reg * W2 and the
    # scores are 0: the data loss is ln 3 and db2 = mean over N of (1/3 - [c == y]).
    w2 = np.array([[1.0, 1.0, 1.0], [2.0, 0.0, -2.0]])
    model = net(models, reg=0.2, W1=np.zeros((2, 2)), b1=np.zeros(2), W2=w2, b2=np.zeros(3))
    loss, grads = model.loss(X2.copy(), Y2.copy())
    assert abs(loss - (LOG3 + 1.1)) < 1e-12, diagnose.mismatch(
        "TwoLayerNet.loss with reg 0.2: loss (ln 3 + 0.5 * 0.2 * 11)",
        loss,
        LOG3 + 1.1,
        [("the L2 term is missing", LOG3), (diagnose.L2_WITHOUT_HALF, LOG3 + 2.2)],
    )
    assert rel_error(grads["W2"], 0.2 * w2) < 1e-12, diagnose.mismatch(
        "TwoLayerNet.loss with reg 0.2: grads['W2'] (here exactly reg * W2)",
        grads["W2"],
        0.2 * w2,
        [
            ("the gradient of the L2 term, reg * W2, is missing", np.zeros((2, 3))),
            ("the L2 gradient is 2 * reg * W2; expected reg * W2", 0.4 * w2),
        ],
    )
    expected_db2 = np.array([-1 / 6, -1 / 6, 1 / 3])
    assert rel_error(grads["b2"], expected_db2) < 1e-12, diagnose.mismatch(
        "TwoLayerNet.loss: grads['b2']",
        grads["b2"],
        expected_db2,
        [("db2 is not divided by N", 2 * expected_db2)],
    )


def test_initial_loss_is_log_of_the_number_of_classes(models, rng):
    # Tiny weights give almost equal scores, so the loss starts near ln C.
    model = models.TwoLayerNet(
        input_dim=20, hidden_dim=10, num_classes=7, weight_scale=1e-3, seed=0
    )
    X, y = rng.standard_normal((8, 20)), rng.integers(7, size=8)
    loss, _ = model.loss(X, y)
    assert abs(loss - np.log(7)) < 1e-3, diagnose.mismatch(
        "TwoLayerNet.loss with weight_scale 1e-3: initial loss (expected about ln 7)",
        loss,
        np.log(7),
        [("the data loss is not divided by N", 8 * np.log(7))],
    )


@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_gradients_match_numerical_gradients(models, rng, reg):
    model = models.TwoLayerNet(
        input_dim=5, hidden_dim=6, num_classes=4, weight_scale=0.5, reg=reg, seed=3
    )
    model.params["b1"] = rng.standard_normal(6)
    model.params["b2"] = rng.standard_normal(4)
    X, y = rng.standard_normal((3, 5)), np.array([0, 3, 1])
    _, grads = model.loss(X, y)
    assert sorted(grads) == sorted(model.params), (
        f"TwoLayerNet.loss: grads has keys {sorted(grads)}, expected {sorted(model.params)}; "
        "grads must be keyed like self.params, one gradient per parameter"
    )
    for name, param in model.params.items():
        assert np.shape(grads[name]) == param.shape, diagnose.wrong_shape(
            f"TwoLayerNet.loss: grads['{name}']", grads[name], param.shape
        )
        num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], param)
        own = reg * param if name.startswith("W") else 0.0
        hints = [("the gradient of the scores is not divided by N", len(X) * (num - own) + own)]
        if name.startswith("W") and reg:
            hints += [
                (f"the L2 gradient reg * {name} is missing", num - reg * param),
                (f"reg * {name} is added twice", num + reg * param),
            ]
        assert rel_error(grads[name], num) < 1e-7, diagnose.gradient_mismatch(
            f"TwoLayerNet.loss (reg {reg})", name, grads[name], num, hints
        )


def test_large_scores_give_a_finite_loss(models, rng):
    # Adding 1000 to every class's bias leaves the softmax, and so the loss and the
    # gradients, unchanged; exp(1000) overflows, so only a shifted softmax survives it.
    model = models.TwoLayerNet(input_dim=4, hidden_dim=5, num_classes=3, weight_scale=0.5, seed=2)
    X, y = rng.standard_normal((4, 4)), np.array([0, 2, 1, 2])
    loss, grads = model.loss(X.copy(), y.copy())
    model.params["b2"] = model.params["b2"] + 1000.0
    with np.errstate(all="ignore"):  # report an overflow through the values
        big_loss, big_grads = model.loss(X.copy(), y.copy())
    assert np.isfinite(big_loss) and abs(big_loss - loss) < 1e-9, (
        f"TwoLayerNet.loss: the loss is {big_loss} when every score is about 1000, expected "
        f"{loss} (a constant added to every score does not change the softmax)\n  likely cause: "
        f"{diagnose.SOFTMAX_NO_SHIFT}"
    )
    for name in grads:
        assert rel_error(big_grads[name], grads[name]) < 1e-7, diagnose.mismatch(
            f"TwoLayerNet.loss: grads['{name}'] for scores about 1000", big_grads[name], grads[name]
        )


def test_inputs_and_params_are_not_modified(models, rng):
    model = models.TwoLayerNet(
        input_dim=4, hidden_dim=3, num_classes=2, weight_scale=0.1, reg=0.5, seed=1
    )
    X, y = rng.standard_normal((5, 2, 2)), rng.integers(2, size=5)
    before = {k: v.copy() for k, v in model.params.items()}
    x_before = X.copy()
    model.loss(X)
    model.loss(X, y)
    assert np.array_equal(X, x_before), diagnose.modified_in_place("TwoLayerNet.loss", "X")
    for name, value in before.items():
        assert np.array_equal(model.params[name], value), (
            diagnose.modified_in_place("TwoLayerNet.loss", f"self.params['{name}']")
            + " (loss only computes; the solver updates the parameters)"
        )


def test_scores_keep_the_dtype_of_the_params(models):
    model = net(models, W1=np.eye(2), b1=np.zeros(2), W2=np.ones((2, 3)), b2=np.zeros(3))
    model.params = {k: v.astype(np.float32) for k, v in model.params.items()}
    scores = model.loss(X2.astype(np.float32))
    assert scores.dtype == np.float32, diagnose.wrong_dtype(
        "TwoLayerNet.loss: scores", scores, np.float32
    )
    # W1 = I, b1 = 0 and W2 all ones: each score is the sum of relu(X2) over the row.
    expected = np.array([[3.0, 3.0, 3.0], [1.0, 1.0, 1.0]])
    assert rel_error(scores.astype(np.float64), expected) < 1e-6, diagnose.mismatch(
        "TwoLayerNet.loss: float32 scores", scores, expected
    )
