"""Model-level checks: configuration, overfitting a small set, accuracy on the digits.

The gradients, the L2 term and the initial loss of both models are exercise tests, in
tests/exercises/test_two_layer_net.py and tests/exercises/test_convnet.py.
"""

import numpy as np
import pytest

from bpkit.data import load_digits
from bpkit.models import ThreeLayerConvNet, TwoLayerNet
from bpkit.solver import Solver


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_convnet_parameter_shapes_and_dtype():
    model = ThreeLayerConvNet(
        input_dim=(1, 8, 8),
        num_filters=5,
        filter_size=3,
        hidden_dim=11,
        num_classes=10,
        dtype=np.float32,
        seed=0,
    )
    assert model.params["W1"].shape == (5, 1, 3, 3)
    assert model.params["W2"].shape == (5 * 4 * 4, 11)
    assert model.params["W3"].shape == (11, 10)
    assert all(p.dtype == np.float32 for p in model.params.values())
    with pytest.raises(
        ValueError, match=r"X: expected images of shape \(N, 1, 8, 8\).*got \(4, 1, 6, 6\)"
    ):
        model.loss(np.zeros((4, 1, 6, 6)))


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"filter_size": 4}, "filter_size: expected an odd number, got 4"),
        ({"input_dim": (1, 7, 8)}, "expected even H and W for the 2x2 pool, got 7x8"),
        ({"input_dim": (8, 8)}, r"input_dim: expected \(C, H, W\)"),
        ({"dtype": np.int32}, "dtype: expected a floating-point dtype, got int32"),
        ({"num_filters": 0}, "num_filters: expected an integer >= 1, got 0"),
        ({"reg": -1.0}, "reg: expected a number >= 0"),
    ],
)
def test_convnet_rejects_bad_configuration(kwargs, pattern):
    with pytest.raises((ValueError, TypeError), match=pattern):
        ThreeLayerConvNet(**{"input_dim": (1, 8, 8), **kwargs})


def test_two_layer_net_rejects_bad_sizes():
    with pytest.raises(ValueError, match="hidden_dim: expected an integer >= 1, got -3"):
        TwoLayerNet(64, -3, 10)
    with pytest.raises(ValueError, match="weight_scale: expected a positive number"):
        TwoLayerNet(64, 10, 10, weight_scale=0.0)


def small_set(digits, n=50):
    # Validation on the training samples too: the Solver restores the best-validation
    # parameters, which must then be the ones that fit the training set.
    X, y = digits["X_train"][:n], digits["y_train"][:n]
    return {"X_train": X, "y_train": y, "X_val": X, "y_val": y}


@pytest.mark.parametrize("kind", ["two_layer", "convnet"])
def test_overfits_fifty_samples(digits, kind):
    if kind == "two_layer":
        model = TwoLayerNet(64, 50, 10, weight_scale=1e-2, seed=0)
    else:
        model = ThreeLayerConvNet(
            input_dim=(1, 8, 8),
            num_filters=8,
            filter_size=3,
            hidden_dim=50,
            weight_scale=1e-1,
            seed=0,
        )
    data = small_set(digits)
    if kind == "two_layer":
        data = {k: v.reshape(len(v), -1) if k.startswith("X") else v for k, v in data.items()}
    solver = Solver(
        model,
        data,
        update_rule="adam",
        optim_config={"learning_rate": 1e-2},
        batch_size=25,
        num_epochs=30,
        verbose=False,
        seed=0,
    )
    solver.train()
    acc = solver.check_accuracy(data["X_train"], data["y_train"])
    assert acc == 1.0, f"{kind} reached only {acc:.2%} train accuracy on 50 samples"


def test_two_layer_net_on_digits_reaches_95_percent(digits):
    flat = load_digits(flat=True)
    model = TwoLayerNet(64, 100, 10, weight_scale=1e-2, reg=1e-3, seed=0)
    solver = Solver(
        model,
        flat,
        update_rule="adam",
        optim_config={"learning_rate": 5e-3},
        batch_size=50,
        num_epochs=20,
        lr_decay=0.95,
        verbose=False,
        seed=0,
    )
    solver.train()
    acc = solver.check_accuracy(flat["X_test"], flat["y_test"])
    assert acc >= 0.95, f"test accuracy {acc:.3f} < 0.95"
