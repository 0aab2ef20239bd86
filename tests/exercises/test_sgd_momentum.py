"""Public tests of exercise ``sgd_momentum``: SGD with a velocity kept in ``config``."""

import numpy as np
import pytest

from bpkit.assignments.student import diagnose
from bpkit.gradcheck import rel_error

pytestmark = pytest.mark.sgd_momentum


def test_two_steps_by_hand(optim):
    config = {"learning_rate": 0.1, "momentum": 0.9}
    w1, config = optim.sgd_momentum(np.array([1.0]), np.array([0.5]), config)
    # Step 1 from v = 0: v = -0.1 * 0.5 = -0.05, w = 1 - 0.05.
    assert rel_error(w1, [0.95]) < 1e-12, diagnose.mismatch(
        "sgd_momentum, step 1: next_w",
        w1,
        [0.95],
        [("the step goes uphill: v = momentum * v - lr * dw, then w + v", [1.05])],
    )
    assert rel_error(config["velocity"], [-0.05]) < 1e-12, diagnose.mismatch(
        "sgd_momentum, step 1: config['velocity']",
        config["velocity"],
        [-0.05],
        [
            ("the velocity is not stored back into config", [0.0]),
            ("the velocity has the opposite sign of v = momentum * v - lr * dw", [0.05]),
        ],
    )
    # Step 2 with the same gradient: v = 0.9 * -0.05 - 0.05 = -0.095, w = 0.95 - 0.095.
    w2, config = optim.sgd_momentum(w1.copy(), np.array([0.5]), config)
    assert rel_error(w2, [0.855]) < 1e-12, diagnose.mismatch(
        "sgd_momentum, step 2: next_w",
        w2,
        [0.855],
        [("the velocity of step 1 was lost: keep it in config['velocity']", [0.9])],
    )
    assert rel_error(config["velocity"], [-0.095]) < 1e-12, diagnose.mismatch(
        "sgd_momentum, step 2: config['velocity']", config["velocity"], [-0.095]
    )


def test_defaults(optim):
    w = np.array([1.0, -1.0])
    next_w, config = optim.sgd_momentum(w.copy(), np.array([1.0, 1.0]))
    assert config["learning_rate"] == 1e-2 and config["momentum"] == 0.9, (
        f"sgd_momentum: expected defaults learning_rate 1e-2, momentum 0.9; got {config}"
    )
    assert rel_error(next_w, [0.99, -1.01]) < 1e-12, diagnose.mismatch(
        "sgd_momentum with default settings, first step: next_w", next_w, [0.99, -1.01]
    )


def test_dw_is_not_modified(optim):
    dw = np.array([0.5, -1.0])
    optim.sgd_momentum(np.array([1.0, 2.0]), dw)
    assert np.array_equal(dw, [0.5, -1.0]), diagnose.modified_in_place("sgd_momentum", "dw")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_dtype_is_preserved(optim, dtype):
    next_w, config = optim.sgd_momentum(np.ones(3, dtype=dtype), np.ones(3, dtype=dtype))
    assert next_w.dtype == dtype, diagnose.wrong_dtype("sgd_momentum: next_w", next_w, dtype)
