"""The gradient-check functions, on functions whose derivatives are known in closed form.

Every comparison with a centered difference allows exactly the error of the centered
difference itself (``tests/numerical_error.py``): truncation ``h^2 * T / 6``, with ``T`` a
bound on the third derivative, plus round-off ``n * eps * S / h``, with ``S`` the sum of the
absolute values of the terms f adds up; both are stated next to each function.
"""

import numpy as np
import pytest
from numerical_error import EPS, assert_gradient_close, centered_difference_bound

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


# name: (f, its gradient, a bound on |d^3 f / dx_i^3|, the sum of |terms| f adds up)
SMOOTH = {
    "cube": (lambda x: np.sum(x**3), lambda x: 3 * x**2, 6.0, lambda x: np.sum(np.abs(x) ** 3)),
    "sin": (lambda x: np.sum(np.sin(x)), np.cos, 1.0, lambda x: x.size),
    # log-sum-exp: d^3/dx_i^3 = p_i (1 - p_i)(1 - 2 p_i), at most 1 / (6 sqrt 3) < 0.1; the
    # sum of exponentials is rounded relatively, so the log is off by about n eps + eps |f|.
    "logsumexp": (
        lambda x: np.log(np.sum(np.exp(x))),
        lambda x: np.exp(x) / np.exp(x).sum(),
        0.1,
        lambda x: 1.0 + abs(np.log(np.sum(np.exp(x)))),
    ),
}


@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_scalar_gradient_matches_closed_form(name):
    f, df, third, magnitude = SMOOTH[name]
    x = np.random.default_rng(0).standard_normal((3, 4))
    num = eval_numerical_gradient(f, x)
    exact = df(x)
    bound = centered_difference_bound(
        exact, terms=x.size, scale=magnitude(x), x_max=np.max(np.abs(x)), third=third
    )
    assert_gradient_close(num, exact, bound, name)
    # The bound is tight enough to see a real mistake: half of one entry's gradient missing.
    wrong = exact.copy()
    wrong[1, 2] *= 0.5
    with pytest.raises(AssertionError, match="exceeds the bound"):
        assert_gradient_close(num, wrong, bound, name)


def test_array_gradient_contracts_with_upstream():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 3))
    x = rng.standard_normal((5, 4))
    dout = rng.standard_normal((5, 3))
    # d/dx of sum(dout * (x @ a)) is dout @ a.T; linear in x, so round-off only: 4 terms
    # per output, S = sum |dout| * (|x| @ |a|).
    num = eval_numerical_gradient_array(lambda v: v @ a, x, dout)
    exact = dout @ a.T
    scale = float(np.sum(np.abs(dout) * (np.abs(x) @ np.abs(a))))
    bound = centered_difference_bound(exact, terms=4, scale=scale, x_max=np.max(np.abs(x)))
    assert_gradient_close(num, exact, bound, "x @ a")


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
    # Centered differences are O(h^2): at h = 1e-4 the error on exp at 0.5 is at most
    # h^2 e^0.5 / 6 = 2.7e-9 (truncation) + eps e^0.5 / h = 4e-12 (round-off), while a
    # one-sided difference is off by about h e^0.5 / 2 = 8e-5.
    x = np.array([0.5])
    h = 1e-4
    num = eval_numerical_gradient(lambda v: float(np.exp(v).sum()), x, h=h)
    bound = h**2 * np.exp(0.5) / 6 + 2 * EPS * np.exp(0.5) / h
    assert abs(num[0] - np.exp(0.5)) <= bound
    one_sided = (np.exp(0.5 + h) - np.exp(0.5)) / h
    assert abs(one_sided - np.exp(0.5)) > 1000 * bound


def test_sparse_check_reports_each_entry_and_is_repeatable():
    x = np.random.default_rng(2).standard_normal((6, 5))
    f = lambda v: float(np.sum(v**2))  # noqa: E731
    good = grad_check_sparse(f, x, 2 * x, num_checks=7, seed=3)
    assert len(good) == 7
    # sum(v^2) is quadratic (no truncation error): round-off of its 30 terms only.
    numerical = np.array([num for _, num, _, _ in good])
    analytic = np.array([ana for _, _, ana, _ in good])
    bound = centered_difference_bound(
        analytic, terms=x.size, scale=float(np.sum(x**2)), x_max=np.max(np.abs(x))
    )
    assert_gradient_close(numerical, analytic, bound, "sum(v^2)")
    assert good == grad_check_sparse(f, x, 2 * x, num_checks=7, seed=3)
    bad = grad_check_sparse(f, x, 3 * x, num_checks=7, seed=3)
    assert min(err for *_, err in bad) > 0.1


def test_perturbing_a_non_float_array_is_refused():
    with pytest.raises(TypeError, match="floating-point"):
        eval_numerical_gradient(lambda v: 0.0, np.arange(3))
