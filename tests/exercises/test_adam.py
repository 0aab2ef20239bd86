"""Public tests of exercise ``adam``: bias-corrected moments kept in ``config``.

The step count ``t`` is incremented before it is used, so the first step has t = 1.
"""

import numpy as np
import pytest

from bpkit.assignments.student import diagnose
from bpkit.gradcheck import rel_error

pytestmark = pytest.mark.adam


def test_first_step_by_hand(optim):
    with np.errstate(all="ignore"):  # a t = 0 mistake divides by zero: report it by value
        next_w, config = optim.adam(np.array([1.0]), np.array([0.5]))
    # m = 0.1 * 0.5 and v = 0.001 * 0.25; corrected by 1 - 0.9 and 1 - 0.999 they are
    # 0.5 and 0.25, so the step is 1e-3 * 0.5 / (0.5 + 1e-8).
    expected = [0.99900000002]
    assert np.all(np.isfinite(next_w)), (
        f"adam, step 1: next_w is {next_w}, expected {expected}\n  likely cause: t is used "
        "before it is incremented, so the bias correction divides by 1 - beta**0 = 0"
    )
    assert rel_error(next_w, expected) < 1e-12, diagnose.mismatch(
        "adam, step 1: next_w",
        next_w,
        expected,
        [
            (
                "no bias correction: divide m by 1 - beta1**t, v by 1 - beta2**t",
                [0.9968377243398303],
            ),
            ("the step goes uphill: subtract it from w", [1.00099999998]),
        ],
    )
    assert config["t"] == 1, (
        f"adam: expected config['t'] == 1 after the first step, got {config['t']}"
    )
    assert rel_error(config["m"], [0.05]) < 1e-12, diagnose.mismatch(
        "adam, step 1: config['m'] (stored without bias correction)", config["m"], [0.05]
    )
    assert rel_error(config["v"], [0.00025]) < 1e-12, diagnose.mismatch(
        "adam, step 1: config['v'] (stored without bias correction)",
        config["v"],
        [0.00025],
        [("v must average dw**2, not dw", [0.0005])],
    )


def test_step_from_carried_state(optim):
    # Five steps already taken: the rule must use t = 6 for this one.
    config = {"t": 5, "m": np.array([0.2]), "v": np.array([0.01])}
    next_w, config = optim.adam(np.array([1.0]), np.array([0.1]), config)
    expected = [0.9996862945123273]
    assert rel_error(next_w, expected) < 1e-12, diagnose.mismatch(
        "adam, step 6: next_w",
        next_w,
        expected,
        [
            (
                "t is incremented after it is used: increment first, then correct",
                [0.9996722521931966],
            ),
            ("no bias correction: divide m by 1 - beta1**t, v by 1 - beta2**t", [0.99810000019]),
        ],
    )
    assert config["t"] == 6, f"adam: expected config['t'] == 6, got {config['t']}"
    assert rel_error(config["m"], [0.19]) < 1e-12, diagnose.mismatch(
        "adam, step 6: config['m']", config["m"], [0.19]
    )
    assert rel_error(config["v"], [0.01]) < 1e-12, diagnose.mismatch(
        "adam, step 6: config['v']", config["v"], [0.01]
    )


def test_state_is_carried_from_step_to_step(optim):
    w, config = np.array([1.0, -1.0]), None
    for _ in range(3):
        w, config = optim.adam(w.copy(), np.array([0.5, 0.5]), config)
    # With a constant gradient every bias-corrected step is lr * 0.5 / (0.5 + 1e-8).
    expected = np.array([1.0, -1.0]) - 3 * 1e-3 * 0.5 / (0.5 + 1e-8)
    assert config["t"] == 3, f"adam: expected config['t'] == 3 after three steps, got {config['t']}"
    assert rel_error(w, expected) < 1e-10, diagnose.mismatch(
        "adam after three steps with dw = 0.5: w", w, expected
    )


def test_tiny_gradient_shows_where_epsilon_goes(optim):
    # dw = 1e-6: the corrected moments are m = 1e-6 and v = 1e-12, sqrt(v) = 1e-6, so the
    # step is 1e-3 * 1e-6 / (1e-6 + 1e-8) = 1e-3 / 1.01. Inside the root, epsilon would
    # dwarf v.
    next_w, _ = optim.adam(np.array([1.0]), np.array([1e-6]))
    expected = [1 - 1e-3 / 1.01]
    assert rel_error(next_w, expected) < 1e-10, diagnose.mismatch(
        "adam with a tiny gradient (1e-6): next_w",
        next_w,
        expected,
        [
            (
                diagnose.EPS_IN_SQRT,
                [1 - 1e-3 * 1e-6 / np.sqrt(1e-12 + 1e-8)],
            )
        ],
    )


def test_defaults(optim):
    _, config = optim.adam(np.ones(2), np.ones(2))
    expected = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
    for key, value in expected.items():
        assert config[key] == value, f"adam: expected default {key} = {value}, got {config[key]}"


def test_dw_is_not_modified(optim):
    dw = np.array([0.5, -1.0])
    optim.adam(np.array([1.0, 2.0]), dw)
    assert np.array_equal(dw, [0.5, -1.0]), diagnose.modified_in_place("adam", "dw")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_dtype_is_preserved(optim, dtype):
    next_w, _ = optim.adam(np.ones(3, dtype=dtype), np.ones(3, dtype=dtype))
    assert next_w.dtype == dtype, diagnose.wrong_dtype("adam: next_w", next_w, dtype)
