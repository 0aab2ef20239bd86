"""Failure messages for the exercise tests: what is wrong, the numbers, and the likely cause.

A check in a test reads ``assert err < 1e-7, diagnose.mismatch("dx", dx, expected, hints)``:
the threshold stays in the assertion, and the message (built only when the assertion fails)
says in words where the answer is off, by how much, and, when the answer matches a known
mistake, which one. A hint is a pair ``(cause, wrong_answer)``: the value that a particular
mistake produces, written out in the test by hand like the expected value itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# How close an answer must be to a hint's wrong answer, relative to the largest entry, for
# that mistake to be named.
HINT_TOLERANCE = 1e-6
# Arrays up to this many entries are printed in full.
SHOW_LIMIT = 16

Hint = tuple[str, object]


def _array(value: object) -> np.ndarray | None:
    if value is None:
        return None
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    # The rel_error of bpkit.gradcheck, kept local so that a message never fails to build.
    if a.size == 0:
        return 0.0
    with np.errstate(invalid="ignore"):
        return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    # Measured against the largest entry, not entry by entry: a wrong answer built from a
    # numerical gradient (``num - reg * W``) may cancel to near 0 in a few entries.
    if a.size == 0:
        return True
    scale = max(1e-8, float(np.max(np.abs(a) + np.abs(b))))
    return float(np.max(np.abs(a - b))) / scale < HINT_TOLERANCE


def likely_cause(got: object, hints: Sequence[Hint]) -> str | None:
    """The cause of the first hint whose wrong answer ``got`` matches, or None."""
    value = _array(got)
    if value is None:
        return None
    for cause, wrong in hints:
        candidate = _array(wrong)
        if candidate is not None and candidate.shape == value.shape:
            if np.all(np.isfinite(value)) and _close(value, candidate):
                return cause
    return None


def _show(value: np.ndarray) -> str:
    if value.size > SHOW_LIMIT:
        return f"array of shape {value.shape}"
    return np.array2string(value, precision=8, separator=", ").replace("\n", " ")


def wrong_shape(what: str, got: object, expected_shape: tuple, hint: str | None = None) -> str:
    """Message for an answer of the wrong shape (or not an array at all)."""
    shape = np.shape(got) if _array(got) is not None else None
    if shape is None:
        text = f"{what}: expected an array of shape {expected_shape}, got {type(got).__name__}"
    else:
        text = f"{what}: expected shape {expected_shape}, got shape {shape}"
    if hint:
        text += f"\n  likely cause: {hint}"
    return text


def mismatch(what: str, got: object, expected: object, hints: Sequence[Hint] = ()) -> str:
    """Message for an answer that differs from the expected one.

    Parameters
    ----------
    what : str
        Names the function and the output, e.g. ``"affine_backward: dx"``.
    got, expected : array_like
        The answer and the right value.
    hints : sequence of (str, array_like)
        Known mistakes and the wrong answers they give.

    Returns
    -------
    str
        Several lines: the relative error, the worst entry (index, got, expected), small
        arrays in full, and the likely cause when a hint matches.
    """
    want = _array(expected)
    have = _array(got)
    if have is None or want is None or have.shape != want.shape:
        return wrong_shape(what, got, np.shape(expected))
    lines = [f"{what} does not match the expected value"]
    bad = ~np.isfinite(have)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        lines.append(f"  {int(bad.sum())} entries are NaN or inf (the first at index {first})")
    elif have.size:
        with np.errstate(invalid="ignore"):
            gap = np.abs(have - want) / np.maximum(1e-8, np.abs(have) + np.abs(want))
        worst = np.unravel_index(int(np.argmax(gap)), gap.shape)
        index = tuple(int(i) for i in worst)
        lines.append(f"  rel_error {_rel(have, want):.3e}")
        lines.append(
            f"  largest difference at index {index}: got {float(have[worst])!r}, "
            f"expected {float(want[worst])!r}"
        )
    if have.size <= SHOW_LIMIT:
        lines.append(f"  got:      {_show(have)}")
        lines.append(f"  expected: {_show(want)}")
    cause = likely_cause(got, hints)
    if cause is not None:
        lines.append(f"  likely cause: {cause}")
    return "\n".join(lines)


def gradient_mismatch(
    function: str, argument: str, got: object, numerical: object, hints: Sequence[Hint] = ()
) -> str:
    """Message for an analytic gradient that disagrees with the numerical one."""
    text = mismatch(
        f"{function}: d{argument}, the gradient with respect to {argument},",
        got,
        numerical,
        hints,
    )
    return text.replace("expected value", "numerical gradient (centered differences)", 1)


def modified_in_place(function: str, argument: str) -> str:
    """Message for a function that wrote into one of its inputs (the grader says the same)."""
    return (
        f"{function} modified its input {argument} in place; work on a copy "
        "(the caller still needs the original values)"
    )


def wrong_dtype(what: str, got: object, expected: object) -> str:
    """Message for an answer whose dtype differs from its input's (the grader says the same)."""
    actual = getattr(got, "dtype", type(got).__name__)
    return f"{what}: expected dtype {np.dtype(expected)} like the input, got {actual}"
