"""Numerical gradients by centered differences, and the relative error used to compare them.

A centered difference :math:`(f(x + h) - f(x - h)) / 2h` has error :math:`O(h^2)`, against
:math:`O(h)` for a one-sided one, so with ``h = 1e-5`` in float64 a correct analytic
gradient usually agrees to a relative error below 1e-7. Every function here perturbs ``x``
in place, one entry at a time, and restores it afterwards, also when ``f`` raises.

Check in float64. In float32 (machine epsilon about 1e-7) rounding alone puts the error
of a correct gradient near 1e-3 at this ``h``, so a float32 model is checked by casting
its parameters and inputs to float64 first.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bpkit import _validate

# grad_check_sparse checks at most this many entries; beyond it, check them all with
# eval_numerical_gradient instead.
MAX_CHECKS = 100_000


def rel_error(x, y) -> float:
    r"""Largest relative difference between two arrays.

    Parameters
    ----------
    x, y : array_like, same shape

    Returns
    -------
    float
        :math:`\max |x - y| / \max(10^{-8}, |x| + |y|)`, taken elementwise.

    Raises
    ------
    ValueError
        The shapes differ, or one side is None (an answer that was never returned is
        reported like one of the wrong shape, which is how the exercise tests explain it).
    TypeError
        One side holds no real numbers (strings, objects, complex values).
    """
    if x is None or y is None:
        got = ", ".join(_validate.describe(v) for v in (x, y))
        raise ValueError(f"rel_error: expected arrays of one shape, got {got}")
    x = _real_array("x", x)
    y = _real_array("y", y)
    if x.shape != y.shape:
        raise ValueError(f"rel_error: expected arrays of one shape, got {x.shape} and {y.shape}")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def _real_array(name: str, value: object) -> np.ndarray:
    """``value`` as a float64 array, or a TypeError naming it if it holds no real numbers."""
    try:
        array = np.asarray(value)
    except ValueError:  # a ragged nest of lists
        raise TypeError(f"{name}: expected real numbers, got {_validate.describe(value)}") from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name}: expected real numbers, got {_validate.describe(value)}")
    if np.issubdtype(array.dtype, np.complexfloating):
        raise TypeError(f"{name}: expected real numbers, got dtype {array.dtype}")
    return array.astype(np.float64)


def _check_perturbable(f: object, x: object, h: object) -> None:
    if not callable(f):
        raise TypeError(f"f: expected a function of x, got {_validate.describe(f)}")
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(f"x: expected a floating-point numpy array to perturb, got {got}")
    if not x.flags.writeable:
        raise ValueError(
            "x: expected a writeable array (it is perturbed in place), got a read-only one"
        )
    _validate.number("h", h, 0, low_open=True)


def _value(name: str, value: object) -> np.ndarray:
    """What f returned, as a float64 array, or a TypeError naming f."""
    try:
        return _real_array(name, value).copy()
    except (TypeError, ValueError):
        raise TypeError(
            f"{name}: expected f to return numbers, got {_validate.describe(value)}"
        ) from None


def _centered(f: Callable[[np.ndarray], object], x: np.ndarray, ix: tuple, h: float):
    """Return ``(f(x + h e_ix), f(x - h e_ix))`` with ``x[ix]`` restored afterwards."""
    old = x[ix]
    try:
        x[ix] = old + h
        plus = _value("f(x + h)", f(x))
        x[ix] = old - h
        minus = _value("f(x - h)", f(x))
    finally:
        x[ix] = old
    if plus.shape != minus.shape:
        raise ValueError(f"f: returned shapes {plus.shape} and {minus.shape} for two points")
    return plus, minus


def _scalar(plus: np.ndarray) -> None:
    if plus.size != 1:
        raise ValueError(f"f: expected a scalar value, got shape {plus.shape}")


def eval_numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, verbose: bool = False, h: float = 1e-5
) -> np.ndarray:
    r"""Numerical gradient of a scalar function at ``x``.

    Parameters
    ----------
    f : callable
        Takes an array shaped like x and returns a scalar.
    x : ndarray of float, any shape
        The point; perturbed in place entry by entry and restored.
    verbose : bool
        Print every entry's index and gradient as it goes.
    h : float
        Step of the centered difference, > 0. A step too small for x's precision (in
        float32, x + h may round to x) gives a wrong gradient: the course shows how.

    Returns
    -------
    grad : ndarray of float64, same shape as x
        :math:`\partial f / \partial x_i \approx (f(x + h e_i) - f(x - h e_i)) / 2h`.
    """
    _check_perturbable(f, x, h)
    _validate.boolean("verbose", verbose)
    grad = np.zeros(x.shape, dtype=np.float64)
    for ix in np.ndindex(x.shape):
        plus, minus = _centered(f, x, ix, h)
        _scalar(plus)
        grad[ix] = (plus - minus).item() / (2 * h)
        if verbose:
            print(ix, grad[ix])
    return grad


def eval_numerical_gradient_array(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, df: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    r"""Numerical gradient of an array-valued function, contracted with an upstream gradient.

    Parameters
    ----------
    f : callable
        Takes an array shaped like x and returns an array shaped like df.
    x : ndarray of float, any shape
        The point; perturbed in place entry by entry and restored.
    df : ndarray
        Upstream gradient :math:`\partial L / \partial f(x)`, the shape of f's output.
    h : float
        Step of the centered difference.

    Returns
    -------
    grad : ndarray of float64, same shape as x
        :math:`\partial L / \partial x_i \approx \sum_k df_k (f(x + h e_i) - f(x - h e_i))_k / 2h`,
        the numerical counterpart of a layer's backward pass.
    """
    _check_perturbable(f, x, h)
    df = _real_array("df", df)
    grad = np.zeros(x.shape, dtype=np.float64)
    for ix in np.ndindex(x.shape):
        plus, minus = _centered(f, x, ix, h)
        if plus.shape != np.shape(df):
            raise ValueError(f"df: expected the shape of f(x), {plus.shape}, got {np.shape(df)}")
        grad[ix] = np.sum((plus - minus) * df) / (2 * h)
    return grad


def grad_check_sparse(
    f: Callable[[np.ndarray], float],
    x: np.ndarray,
    analytic_grad: np.ndarray,
    num_checks: int = 10,
    h: float = 1e-5,
    seed: int | None = None,
) -> list[tuple[tuple[int, ...], float, float, float]]:
    r"""Compare an analytic gradient with centered differences at a few random entries.

    Useful when x is too large to check every entry.

    Parameters
    ----------
    f : callable
        Scalar function of x.
    x : ndarray of float, any shape
        The point; perturbed in place and restored.
    analytic_grad : ndarray, same shape as x
        The gradient to check.
    num_checks : int
        How many random entries to check, from 0 to ``MAX_CHECKS`` (100,000).
    h : float
        Step of the centered difference.
    seed : int, optional
        Seed of the generator that picks the entries, for a repeatable check.

    Returns
    -------
    list of (index, numerical, analytic, relative error)
        One tuple per checked entry, in the order checked.
    """
    _check_perturbable(f, x, h)
    analytic_grad = _real_array("analytic_grad", analytic_grad)
    if analytic_grad.shape != x.shape:
        raise ValueError(
            f"analytic_grad: expected the shape of x, {x.shape}, got {analytic_grad.shape}"
        )
    _validate.integer("num_checks", num_checks, low=0, high=MAX_CHECKS)
    _validate.seed("seed", seed)
    if num_checks and x.size == 0:
        raise ValueError(f"x: expected at least one entry to check, got shape {x.shape}")
    rng = np.random.default_rng(seed)
    results = []
    for _ in range(num_checks):
        ix = tuple(int(rng.integers(n)) for n in x.shape)
        plus, minus = _centered(f, x, ix, h)
        _scalar(plus)
        numerical = (plus - minus).item() / (2 * h)
        analytic = float(analytic_grad[ix])
        results.append((ix, numerical, analytic, rel_error(numerical, analytic)))
    return results
