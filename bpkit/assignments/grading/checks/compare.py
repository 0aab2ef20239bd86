"""Comparisons and inputs shared by the hidden checks.

Every check runs a fixed battery of input geometries (shapes, strides, pads, window sizes,
dtypes, where the exact zeros sit); only the values are drawn from the check's random
generator, and the values are drawn so that whether a known mistake shows never depends on
them (no ties, no values near a decision boundary). So a submission gets the same score
under every seed.

Tolerances are normwise: the largest absolute difference must stay below ``rtol`` times the
largest magnitude of the reference. Any correct implementation -- looped, vectorized,
einsum, any summation order -- differs from the reference by a few float64 roundings
(about 1e-15 of that scale), far below ``RTOL = 1e-7``; every known mistake the checks
target (a missing ``/ N``, a missing regularization gradient, an assignment instead of an
accumulation, a missing bias correction, stepping with ``w`` instead of ``dw``) changes the
result by more than 1e-3 of that scale on the inputs the checks draw. Messages print the
differing entry with just enough digits to tell got from expected, and name the known
mistake whose result the answer matches, or else the geometry that failed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bpkit.assignments.student import diagnose as dg

RTOL = 1e-7
RTOL32 = 1e-4


class CheckFailed(Exception):
    """A hidden check's verdict: the message says in words what was wrong."""


def array(
    name: str, got: object, shape: tuple | None = None, shape_hints: Sequence = ()
) -> np.ndarray:
    """``got`` as an ndarray of numbers with the expected shape, or a failed check.

    ``shape_hints`` pairs wrong shapes with the known mistake that gives them.
    """
    if type(got) is not np.ndarray:
        raise CheckFailed(f"{name}: expected a numpy array, got {type(got).__name__}")
    if got.dtype.kind not in "biuf":
        raise CheckFailed(f"{name}: expected real numbers, got dtype {got.dtype}")
    if shape is not None and got.shape != tuple(shape):
        cause = next((text for wrong, text in shape_hints if tuple(wrong) == got.shape), "")
        if not cause and len(shape) >= 2 and got.shape == (*shape[:-2], shape[-1], shape[-2]):
            cause = "height and width swapped somewhere (H' and W' come out exchanged)"
        cause = f"; likely cause: {cause}" if cause else ""
        raise CheckFailed(f"{name}: expected shape {tuple(shape)}, got {got.shape}{cause}")
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
    shape_hints: Sequence[tuple[tuple, str]] = (),
    nan_hint: str = "",
) -> None:
    """Fail unless ``got`` matches ``expected`` to ``rtol`` of its largest magnitude.

    Parameters
    ----------
    name : str
        What is compared, with the inputs that show it (``"dx of conv_backward_naive (pad
        0, 3x2 kernel, stride 1)"``), so the student can reproduce the case.
    got : object
        The submission's value, as plain data.
    expected : ndarray or float
        The reference value.
    rtol : float
        Allowed difference, relative to ``max |expected|``.
    hints : sequence of (str, value)
        Results of known mistakes; when ``got`` matches one, the message names it.
    shape_hints : sequence of (shape, str)
        Wrong shapes that known mistakes give, and the mistake's name.
    nan_hint : str
        The likely cause when ``got`` holds NaN or infinity.
    """
    if np.ndim(expected) == 0:
        value = np.float64(scalar(name, got))
    else:
        value = array(name, got, np.shape(expected), shape_hints).astype(np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if not np.all(np.isfinite(value)):
        if value.ndim:
            bad = f"{int(np.sum(~np.isfinite(value)))} of its {value.size} entries are"
        else:
            bad = "it is"
        cause = _hint(value, hints) or (f"; likely cause: {nan_hint}" if nan_hint else "")
        raise CheckFailed(f"{name}: {bad} NaN or infinite{cause}")
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-300)
    diff = np.abs(value - expected)
    worst = float(np.max(diff, initial=0.0))
    if worst > rtol * scale:
        if diff.ndim:
            index = tuple(int(i) for i in np.unravel_index(np.argmax(diff), diff.shape))
            pair = show_pair(float(value[index]), float(expected[index]))
            where = f" at index {index} ({pair})"
        else:
            where = f" ({show_pair(float(value), float(expected))})"
        raise CheckFailed(
            f"{name} differs from the reference by {worst:.3g}{where}; allowed "
            f"{rtol:g} x max|expected| = {rtol * scale:.3g}{_hint(value, hints)}"
        )


def show_pair(got: float, expected: float) -> str:
    """``got ..., expected ...`` with just enough significant digits to tell them apart."""
    for digits in range(6, 18):
        a, b = f"{got:.{digits}g}", f"{expected:.{digits}g}"
        if a != b:
            break
    return f"got {a}, expected {b}"


def _hint(value: np.ndarray, hints: Sequence[tuple[str, np.ndarray | float]]) -> str:
    for text, wrong in hints:
        wrong = np.asarray(wrong, dtype=np.float64)
        if wrong.shape != value.shape:
            continue
        if not np.all(np.isfinite(wrong)):
            same = np.array_equal(np.isnan(value), np.isnan(wrong)) and np.allclose(
                np.nan_to_num(value), np.nan_to_num(wrong), rtol=1e-6, atol=1e-12
            )
        else:
            scale = max(float(np.max(np.abs(wrong), initial=0.0)), 1e-300)
            same = float(np.max(np.abs(value - wrong), initial=0.0)) <= 1e-6 * scale
        if same:
            return f"; likely cause: {text}"
    return ""


def dtype_is(name: str, got: object, dtype: np.dtype) -> None:
    """Fail unless ``got`` is an array (or numpy scalar) of exactly ``dtype``."""
    actual = getattr(got, "dtype", None) if isinstance(got, (np.ndarray, np.generic)) else None
    if actual != np.dtype(dtype):
        shown = actual if actual is not None else type(got).__name__
        cause = ""
        if actual == np.float64 and np.dtype(dtype) == np.float32:
            cause = f"; likely cause: {dg.FLOAT64_FOR_FLOAT32}"
        raise CheckFailed(
            f"{name}: expected dtype {np.dtype(dtype)} like the input, got {shown}{cause}"
        )


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


def away(rng: np.random.Generator, shape: tuple, low: float = 0.5, high: float = 2.0):
    """Values of either sign with ``low <= |value| <= high``, float64: far from zero."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, high, size=shape)
