"""Public tests of exercise ``rmsprop``: steps scaled by a running RMS kept in ``config``."""

import numpy as np
import pytest

from bpkit.assignments.student import diagnose
from bpkit.gradcheck import rel_error

pytestmark = pytest.mark.rmsprop


def test_two_steps_by_hand(optim):
    config = {"learning_rate": 0.01}
    w1, config = optim.rmsprop(np.array([1.0]), np.array([2.0]), config)
    # cache = 0.01 * 2**2 = 0.04, so the step is 0.01 * 2 / (0.2 + 1e-8).
    assert rel_error(w1, [0.900000005]) < 1e-12, diagnose.mismatch(
        "rmsprop, step 1: next_w",
        w1,
        [0.900000005],
        [
            ("the step divides by cache, not by sqrt(cache) + epsilon", [0.5]),
            (
                "the decay is swapped: cache = decay * cache + (1 - decay) * dw**2",
                [0.9899496218979129],
            ),
        ],
    )
    assert rel_error(config["cache"], [0.04]) < 1e-12, diagnose.mismatch(
        "rmsprop, step 1: config['cache']",
        config["cache"],
        [0.04],
        [("the cache is not stored back into config", [0.0])],
    )
    # cache = 0.99 * 0.04 + 0.01 * 4 = 0.0796; step 0.02 / (sqrt(0.0796) + 1e-8).
    w2, config = optim.rmsprop(w1.copy(), np.array([2.0]), config)
    assert rel_error(w2, [0.8291118870117289]) < 1e-12, diagnose.mismatch(
        "rmsprop, step 2: next_w",
        w2,
        [0.8291118870117289],
        [("the cache of step 1 was lost: keep it in config['cache']", [0.80000001])],
    )
    assert rel_error(config["cache"], [0.0796]) < 1e-12, diagnose.mismatch(
        "rmsprop, step 2: config['cache']", config["cache"], [0.0796]
    )


def test_tiny_gradient_shows_where_epsilon_goes(optim):
    # dw = 1e-6: cache = 0.01 * 1e-12 = 1e-14, sqrt(cache) = 1e-7, so the step is
    # 0.01 * 1e-6 / (1e-7 + 1e-8) = 1 / 11. Inside the root, epsilon would dwarf the cache.
    next_w, _ = optim.rmsprop(np.array([1.0]), np.array([1e-6]))
    expected = [1 - 1 / 11]
    assert rel_error(next_w, expected) < 1e-10, diagnose.mismatch(
        "rmsprop with a tiny gradient (1e-6): next_w",
        next_w,
        expected,
        [
            (
                diagnose.EPS_IN_SQRT,
                [1 - 0.01 * 1e-6 / np.sqrt(1e-14 + 1e-8)],
            )
        ],
    )


def test_defaults(optim):
    _, config = optim.rmsprop(np.ones(2), np.ones(2))
    expected = {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8}
    for key, value in expected.items():
        assert config[key] == value, f"rmsprop: expected default {key} = {value}, got {config[key]}"


def test_dw_is_not_modified(optim):
    dw = np.array([0.5, -1.0])
    optim.rmsprop(np.array([1.0, 2.0]), dw)
    assert np.array_equal(dw, [0.5, -1.0]), diagnose.modified_in_place("rmsprop", "dw")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_dtype_is_preserved(optim, dtype):
    next_w, _ = optim.rmsprop(np.ones(3, dtype=dtype), np.ones(3, dtype=dtype))
    assert next_w.dtype == dtype, diagnose.wrong_dtype("rmsprop: next_w", next_w, dtype)
