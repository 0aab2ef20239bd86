"""Comparisons and inputs shared by the hidden checks.

Tolerances are normwise: the largest absolute difference must stay below ``rtol`` times the
largest magnitude of the reference. Any correct implementation -- looped, vectorized,
einsum, any summation order -- differs from the reference by a few float64 roundings
(about 1e-15 of that scale), far below ``RTOL = 1e-7``; every known mistake the checks
target (a missing ``/ N``, a missing regularization gradient, an assignment instead of an
accumulation, a missing bias correction, stepping with ``w`` instead of ``dw``) changes the
result by more than 1e-3 of that scale on the inputs the checks draw.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RTOL = 1e-7
RTOL32 = 1e-4


class CheckFailed(Exception):
    """A hidden check's verdict: the message says in words what was wrong."""


def array(name: str, got: object, shape: tuple | None = None) -> np.ndarray:
    """``got`` as an ndarray of numbers with the expected shape, or a failed check."""
    if type(got) is not np.ndarray:
        raise CheckFailed(f"{name}: expected a numpy array, got {type(got).__name__}")
    if got.dtype.kind not in "biuf":
        raise CheckFailed(f"{name}: expected real numbers, got dtype {got.dtype}")
    if shape is not None and got.shape != tuple(shape):
        raise CheckFailed(f"{name}: expected shape {tuple(shape)}, got {got.shape}")
    return got


def scalar(name: str, got: object) -> float:
    """A loss or similar: a Python or numpy real number, or a 0-d / size-1 array."""
    if type(got) is np.ndarray and got.size == 1 and got.dtype.kind in "iuf":
        return float(got.reshape(()))
    if isinstance(got, (int, float, np.integer, np.floating)) and not isinstance(got, bool):
        return float(got)
    raise CheckFailed(f"{name}: expected a number, got {type(got).__name__}")


def close(
    name: str,
    got: object,
    expected: np.ndarray | float,
    rtol: float = RTOL,
    hints: Sequence[tuple[str, np.ndarray | float]] = (),
) -> None:
    """Fail unless ``got`` matches ``expected`` to ``rtol`` of its largest magnitude.

    Parameters
    ----------
    name : str
        What is compared, for the message (``"dx of conv_backward_naive"``).
    got : object
        The submission's value, as plain data.
    expected : ndarray or float
        The reference value.
    rtol : float
        Allowed difference, relative to ``max |expected|``.
    hints : sequence of (str, value)
        Results of known mistakes; when ``got`` matches one, the message names it.
    """
    if np.ndim(expected) == 0:
        value = np.float64(scalar(name, got))
    else:
        value = array(name, got, np.shape(expected)).astype(np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if not np.all(np.isfinite(value)):
        bad = int(np.sum(~np.isfinite(value)))
        raise CheckFailed(f"{name}: {bad} entries are NaN or infinite{_hint(value, hints)}")
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-300)
    diff = np.abs(value - expected)
    worst = float(np.max(diff, initial=0.0))
    if worst > rtol * scale:
        where = ""
        if diff.ndim:
            index = tuple(int(i) for i in np.unravel_index(np.argmax(diff), diff.shape))
            where = f" at index {index} (got {value[index]:.6g}, expected {expected[index]:.6g})"
        else:
            where = f" (got {float(value):.6g}, expected {float(expected):.6g})"
        raise CheckFailed(
            f"{name} differs from the reference by {worst:.3g}{where}; allowed "
            f"{rtol:g} x max|expected| = {rtol * scale:.3g}{_hint(value, hints)}"
        )


def _hint(value: np.ndarray, hints: Sequence[tuple[str, np.ndarray | float]]) -> str:
    for text, wrong in hints:
        wrong = np.asarray(wrong, dtype=np.float64)
        if wrong.shape == value.shape and np.allclose(value, wrong, rtol=1e-6, atol=1e-12):
            return f"; this is what {text} gives"
    return ""


def dtype_is(name: str, got: object, dtype: np.dtype) -> None:
    """Fail unless ``got`` is an array (or numpy scalar) of exactly ``dtype``."""
    actual = getattr(got, "dtype", None) if isinstance(got, (np.ndarray, np.generic)) else None
    if actual != np.dtype(dtype):
        shown = actual if actual is not None else type(got).__name__
        raise CheckFailed(f"{name}: expected dtype {np.dtype(dtype)} like the input, got {shown}")


def unchanged(name: str, got: object, original: np.ndarray, func: str) -> None:
    """Fail unless an input came back from the worker exactly as it was sent."""
    if type(got) is not np.ndarray or got.shape != original.shape:
        raise CheckFailed(f"{func} replaced its input {name}; inputs must be left alone")
    if not np.array_equal(got, original):
        raise CheckFailed(
            f"{func} modified its input {name} in place; work on a copy "
            "(the caller still needs the original values)"
        )


def distinct(rng: np.random.Generator, shape: tuple, scale: float = 2.0) -> np.ndarray:
    """Values in [-scale, scale), all different (exactly, even in float32): no ties, no zeros."""
    size = int(np.prod(shape))
    # The offset 0.25 keeps every value away from 0 whatever the parity of size.
    values = (rng.permutation(size) - size / 2 + 0.25) * (2 * scale / size)
    return values.reshape(shape)


def normal(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    """Standard normal draws times ``scale``, float64."""
    return scale * rng.standard_normal(shape)
