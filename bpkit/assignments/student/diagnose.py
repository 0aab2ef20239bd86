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


def mismatch(
    what: str,
    got: object,
    expected: object,
    hints: Sequence[Hint] = (),
    nan_hint: str | None = None,
) -> str:
    """Message for an answer that differs from the expected one.

    Parameters
    ----------
    what : str
        Names the function and the output, e.g. ``"affine_backward: dx"``.
    got, expected : array_like
        The answer and the right value.
    hints : sequence of (str, array_like)
        Known mistakes and the wrong answers they give.
    nan_hint : str, optional
        The likely cause when the answer holds NaN or infinity (for example
        :data:`SOFTMAX_NO_SHIFT`).

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
    if bad.any() and have.ndim == 0:
        lines.append(f"  got {float(have)!r}: NaN or inf instead of a number")
    elif bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        lines.append(f"  {int(bad.sum())} entries are NaN or inf (the first at index {first})")
    elif have.ndim == 0:
        lines.append(f"  rel_error {_rel(have, want):.3e}")
        lines.append(f"  got {float(have)!r}, expected {float(want)!r}")
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
    if 0 < have.ndim and have.size <= SHOW_LIMIT:
        lines.append(f"  got:      {_show(have)}")
        lines.append(f"  expected: {_show(want)}")
    cause = likely_cause(got, hints)
    if cause is None and bad.any() and nan_hint:
        cause = nan_hint
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


# Known mistakes, in the words the public tests and the grader's hidden checks both use
# (``likely cause: ...``). Each names the bug and how to fix it.
AFFINE_NO_BIAS = "the bias b is not added (out = x @ w + b)"
AFFINE_DX_FLAT = "dx left flat: reshape it to x's original shape"
AFFINE_DW_TRANSPOSED = "dw transposed: dw has w's shape (D, M), x_flat.T @ dout"
AFFINE_DB_KEEPDIMS = "db kept as shape (1, M): sum dout over axis 0 without keepdims"
AFFINE_DB_AXIS = "db summed over the wrong axis: sum dout over the batch, axis 0"
DIVIDED_BY_N = "dividing by N in a layer's backward (only the loss averages over the batch)"
RELU_MASK_AT_ZERO = (
    "the mask x >= 0 passes the gradient where x == 0; the gradient there is 0 (x > 0)"
)
RELU_DIVIDES_BY_X = "dividing by x to build the mask gives NaN where x == 0; use x > 0"
RELU_TIMES_X = "multiplying dout by x instead of by the mask (x > 0)"
SOFTMAX_LOSS_NOT_AVERAGED = "summing over the batch instead of averaging (no / N)"
SOFTMAX_LOSS_SIGN = "the sign of the loss: it is -log p of the correct class"
SOFTMAX_DX_NOT_AVERAGED = "forgetting to divide the gradient by N"
SOFTMAX_DX_NO_ONEHOT = "dx without subtracting 1 at each correct class (dx = (p - onehot(y)) / N)"
SOFTMAX_NO_SHIFT = "exp overflows: subtract each row's maximum before exp"
SOFTMAX_GLOBAL_SHIFT = (
    "subtract each row's own maximum before exp (x.max(axis=1, keepdims=True)), not the "
    "largest score overall"
)
L2_WITHOUT_HALF = "the L2 term is 0.5 * reg * sum(W**2) (its gradient is reg * W)"
SGD_WITH_W = "stepping with w instead of dw"
SGD_IGNORES_LR = "the learning rate in config is not used (only its default is)"
SGD_SIGN = "stepping up the gradient: next_w = w - learning_rate * dw"
MOMENTUM_OLD_VELOCITY = "moving w by the old velocity: update v first, then next_w = w + v"
MOMENTUM_NO_VELOCITY = "the velocity is not carried over: v = momentum * v - learning_rate * dw"
MOMENTUM_VELOCITY_SIGN = "the velocity's sign: v = momentum * v - learning_rate * dw, w + v"
EPS_IN_SQRT = "epsilon belongs outside the square root: dw / (sqrt(cache) + eps)"
EPS_MISSING = "epsilon is left out of the denominator: divide by sqrt(...) + eps"
RMSPROP_NO_SQRT = "dividing by the cache itself: divide by its square root, sqrt(cache) + eps"
RMSPROP_DECAY_SWAPPED = "decay_rate weighs the old cache: d * cache + (1 - d) * dw**2"
ADAM_NO_BIAS_CORRECTION = "Adam without bias correction (m_hat = m / (1 - beta1**t), v_hat alike)"
ADAM_T_AFTER_USE = "t must be incremented before it is used (it is incremented after use)"
ADAM_T_NEVER = "t must be incremented before it is used, and stored: it is never incremented"
ADAM_STORES_HAT = "config['m'] and config['v'] must hold m and v, not the bias-corrected ones"
ADAM_V_NOT_SQUARED = "v averages the squared gradient: beta2 * v + (1 - beta2) * dw**2"
CONV_PAD_SLICE = (
    "with pad = 0, the slice pad:-pad is empty; cut the padding off with pad:pad + H and "
    "pad:pad + W"
)
CONV_PAD_KEPT = "dx still has the padding: cut it off with pad:pad + H and pad:pad + W"
CONV_DB_SHAPE = "db has one entry per filter: sum dout over axes (0, 2, 3)"
CONV_FLIPPED = "the kernel is flipped: this layer is a cross-correlation, no flip"
CONV_NO_BIAS = "the bias b[f] is not added to every output of filter f"
CONV_HW_SWAPPED = "height and width mixed up (H' uses W or HH uses WW somewhere)"
CONV_DW_ASSIGNED = "dw assigned (=) instead of accumulated (+=) over positions and samples"
CONV_DX_ASSIGNED = "dx assigned (=) instead of accumulated (+=) where windows overlap"
CONV_STRIDE_IGNORED = "the stride is ignored: window (i, j) starts at (i * stride, j * stride)"
POOL_ASSIGNS = "assigning (=) instead of accumulating (+=) where windows overlap"
POOL_WIDTH_FROM_HEIGHT = "the output width is computed from pool_height: use pool_width"
POOL_UNRAVEL_HEIGHT = (
    "np.unravel_index with the wrong shape: the window is (pool_height, pool_width)"
)
POOL_STRIDE = "the stride is ignored: window (i, j) starts at (i * stride, j * stride)"
POOL_ALL_OF_WINDOW = "the whole window gets the gradient: only its maximum does"
POOL_AVERAGE = "average pooling: the output is each window's maximum"
FLOAT64_FOR_FLOAT32 = (
    "a float64 array where the input was float32: np.zeros and friends default to float64; "
    "pass dtype=x.dtype or use np.zeros_like"
)
