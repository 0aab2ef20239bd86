"""Public tests of exercise ``sgd``: the vanilla update rule."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpkit.assignments.student import diagnose
from bpkit.gradcheck import rel_error

pytestmark = pytest.mark.sgd


def test_hand_example(optim):
    w, dw = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    next_w, config = optim.sgd(w, dw, {"learning_rate": 0.1})
    # w - 0.1 dw, entry by entry: 1 - 0.05 and 2 + 0.1.
    expected = np.array([0.95, 2.1])
    assert rel_error(next_w, expected) < 1e-12, diagnose.mismatch(
        "sgd: next_w",
        next_w,
        expected,
        [
            ("the step uses w where it should use dw: w - lr * dw", [0.9, 1.8]),
            ("the step goes uphill: subtract lr * dw, do not add it", [1.05, 1.9]),
            ("the learning rate is not used: w - lr * dw", [0.5, 3.0]),
        ],
    )
    assert config["learning_rate"] == 0.1, "sgd: config['learning_rate'] must stay as given"


def test_default_learning_rate(optim):
    next_w, config = optim.sgd(np.array([1.0]), np.array([1.0]))
    assert config["learning_rate"] == 1e-2, f"sgd: expected default 1e-2, got {config}"
    assert abs(next_w[0] - 0.99) < 1e-12, diagnose.mismatch(
        "sgd with the default learning rate 1e-2: next_w", next_w, [0.99]
    )


@settings(deadline=None, max_examples=30)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    lr=st.floats(1e-4, 1.0),
    seed=st.integers(0, 2**16),
)
def test_step_is_linear_in_dw(optim, shape, lr, seed):
    rng = np.random.default_rng(seed)
    w, dw = rng.standard_normal(shape), rng.standard_normal(shape)
    one, _ = optim.sgd(w.copy(), dw, {"learning_rate": lr})
    two, _ = optim.sgd(w.copy(), 2 * dw, {"learning_rate": lr})
    same, _ = optim.sgd(w.copy(), np.zeros(shape), {"learning_rate": lr})
    assert np.shape(one) == tuple(shape), diagnose.wrong_shape("sgd: next_w", one, tuple(shape))
    assert rel_error(same, w) < 1e-12, "sgd: a zero gradient must leave w where it is"
    assert rel_error(two - w, 2 * (one - w)) < 1e-9, (
        f"sgd: doubling dw must double the step (lr {lr}, shape {shape})"
    )


def test_dw_is_not_modified(optim):
    dw = np.array([0.5, -1.0])
    optim.sgd(np.array([1.0, 2.0]), dw, {"learning_rate": 0.1})
    assert np.array_equal(dw, [0.5, -1.0]), diagnose.modified_in_place("sgd", "dw")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_dtype_is_preserved(optim, dtype):
    next_w, _ = optim.sgd(np.ones(3, dtype=dtype), np.ones(3, dtype=dtype))
    assert next_w.dtype == dtype, diagnose.wrong_dtype("sgd: next_w", next_w, dtype)
