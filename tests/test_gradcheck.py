"""The gradient-check functions, on functions whose derivatives are known in closed form."""

import numpy as np
import pytest

from bpkit.gradcheck import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    rel_error,
)


def test_rel_error_definition():
    x = np.array([1.0, 2.0, 0.0])
    y = np.array([1.0, 2.5, 0.0])
    # max over entries of |x - y| / max(1e-8, |x| + |y|): 0.5 / 4.5 at the middle entry.
    assert rel_error(x, y) == pytest.approx(0.5 / 4.5, rel=1e-12)
    assert rel_error(x, x) == 0.0


def test_rel_error_floor_keeps_tiny_values_from_blowing_up():
    assert rel_error(np.array([1e-12]), np.array([0.0])) == pytest.approx(1e-4, rel=1e-9)


def test_rel_error_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(2,\) and \(3,\)"):
        rel_error(np.zeros(2), np.zeros(3))


@pytest.mark.parametrize(
    ("f", "df"),
    [
        (lambda x: np.sum(x**3), lambda x: 3 * x**2),
        (lambda x: np.sum(np.sin(x)), np.cos),
        (lambda x: np.log(np.sum(np.exp(x))), lambda x: np.exp(x) / np.exp(x).sum()),
    ],
    ids=["cube", "sin", "logsumexp"],
)
def test_scalar_gradient_matches_closed_form(f, df):
    x = np.random.default_rng(0).standard_normal((3, 4))
    num = eval_numerical_gradient(f, x)
    assert rel_error(num, df(x)) < 1e-7


def test_array_gradient_contracts_with_upstream():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 3))
    x = rng.standard_normal((5, 4))
    dout = rng.standard_normal((5, 3))
    # d/dx of sum(dout * (x @ a)) is dout @ a.T
    num = eval_numerical_gradient_array(lambda v: v @ a, x, dout)
    assert rel_error(num, dout @ a.T) < 1e-9


def test_helpers_restore_x_even_when_f_raises():
    x = np.arange(6.0).reshape(2, 3)
    before = x.copy()
    eval_numerical_gradient(lambda v: float(np.sum(v**2)), x)
    eval_numerical_gradient_array(lambda v: v * 2, x, np.ones_like(x))
    np.testing.assert_array_equal(x, before)

    def boom(v):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        eval_numerical_gradient(boom, x)
    np.testing.assert_array_equal(x, before)


def test_centered_difference_beats_one_sided():
    # Centered differences are O(h^2): at h = 1e-4 the error on exp is far below h.
    x = np.array([0.5])
    num = eval_numerical_gradient(lambda v: float(np.exp(v).sum()), x, h=1e-4)
    assert abs(num[0] - np.exp(0.5)) < 1e-8


def test_sparse_check_reports_each_entry_and_is_repeatable():
    x = np.random.default_rng(2).standard_normal((6, 5))
    f = lambda v: float(np.sum(v**2))  # noqa: E731
    good = grad_check_sparse(f, x, 2 * x, num_checks=7, seed=3)
    assert len(good) == 7
    assert max(err for *_, err in good) < 1e-8
    assert good == grad_check_sparse(f, x, 2 * x, num_checks=7, seed=3)
    bad = grad_check_sparse(f, x, 3 * x, num_checks=7, seed=3)
    assert min(err for *_, err in bad) > 0.1


def test_perturbing_a_non_float_array_is_refused():
    with pytest.raises(TypeError, match="floating-point"):
        eval_numerical_gradient(lambda v: 0.0, np.arange(3))
