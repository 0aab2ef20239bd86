"""Input checks shared by the layers, so that bad input fails loudly and early.

Every check raises ``ValueError`` or ``TypeError`` with a message that names the
argument, what was expected and what came. The checks are deliberately kept out
of the layer bodies that students write: the release turns the body into a stub
and keeps the call to the check, so a student's layer is guarded the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np


def float_array(name: str, x: object, ndim: int | None = None, min_ndim: int | None = None):
    """Check that ``x`` is a floating-point ndarray of the given rank and return it.

    Parameters
    ----------
    name : str
        The argument's name, used in the error message.
    x : object
        The value to check.
    ndim : int, optional
        Exact rank required.
    min_ndim : int, optional
        Smallest rank allowed.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(
            f"{name}: expected a floating-point array (float32 or float64), got dtype {x.dtype}"
        )
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-d array, got shape {x.shape} ({x.ndim}-d)")
    if min_ndim is not None and x.ndim < min_ndim:
        raise ValueError(
            f"{name}: expected an array with at least {min_ndim} dimensions, got shape {x.shape}"
        )
    return x


def finite(name: str, x: np.ndarray) -> None:
    """Raise if ``x`` holds NaN or infinity, saying how many entries and where the first is."""
    bad = ~np.isfinite(x)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name}: expected finite values, got {int(bad.sum())} NaN/inf entries "
            f"(first at index {first}: {x[first]})"
        )


def labels(name: str, y: object, n: int, num_classes: int) -> np.ndarray:
    """Check integer class labels ``y`` of shape (n,) with values in [0, num_classes)."""
    if not isinstance(y, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array of int labels, got {type(y).__name__}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{name}: expected integer class labels, got dtype {y.dtype}")
    if y.shape != (n,):
        raise ValueError(f"{name}: expected shape ({n},) to match the N={n} scores, got {y.shape}")
    if n and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"{name}: expected labels in [0, {num_classes}) for C={num_classes} classes, "
            f"got values from {y.min()} to {y.max()}"
        )
    return y


def integer(name: str, value: object, low: int = 1) -> int:
    """Check that ``value`` is an int (not a bool) of at least ``low`` and return it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    return int(value)


def batch(name: str, x: np.ndarray) -> None:
    """Raise if the batch ``x`` (N, ...) holds no examples."""
    if x.shape[0] == 0:
        raise ValueError(f"{name}: expected at least one example (N >= 1), got shape {x.shape}")


def upstream(dout: object, expected_shape: tuple) -> None:
    """Check that a backward's ``dout`` is a float array shaped like the forward's output."""
    float_array("dout", dout)
    if dout.shape != tuple(expected_shape):
        raise ValueError(
            f"dout: expected the shape of the forward output, {tuple(expected_shape)}, "
            f"got {dout.shape}"
        )


def dim_match(what: str, expected: int, got: int) -> None:
    """Raise if two sizes that must agree do not."""
    if expected != got:
        raise ValueError(f"{what}: expected {expected}, got {got}")


def params(name: str, param: object, keys: Iterable[str]) -> None:
    """Check that ``param`` is a dict holding positive-int ``keys`` (``pad`` may be 0)."""
    if not isinstance(param, Mapping):
        raise TypeError(f"{name}: expected a dict, got {type(param).__name__}")
    missing = [k for k in keys if k not in param]
    if missing:
        raise KeyError(f"{name}: missing key(s) {missing}; expected keys {list(keys)}")
    for k in keys:
        integer(f"{name}['{k}']", param[k], low=0 if k == "pad" else 1)


def window_fits(what: str, size: int, window: int, stride: int, pad: int = 0) -> int:
    """Return the output size ``1 + (size + 2 pad - window) / stride`` or raise if it is not whole.

    ``what`` names the axis, e.g. ``"conv height"``.
    """
    span = size + 2 * pad - window
    if span < 0:
        raise ValueError(
            f"{what}: the window ({window}) is larger than the padded input ({size} + 2*{pad})"
        )
    if span % stride:
        raise ValueError(
            f"{what}: (size + 2*pad - window) = ({size} + 2*{pad} - {window}) = {span} "
            f"is not divisible by stride {stride}; expected a whole number of windows"
        )
    return 1 + span // stride


def conv_out_shape(x: np.ndarray, w: np.ndarray, conv_param: dict):
    """Check a convolution's arguments and return (N, F, H', W')."""
    float_array("x", x, ndim=4)
    float_array("w", w, ndim=4)
    params("conv_param", conv_param, ("stride", "pad"))
    n, c, h, wd = x.shape
    f, cw, hh, ww = w.shape
    dim_match("conv: input channels C, x.shape[1] vs w.shape[1]", c, cw)
    stride, pad = conv_param["stride"], conv_param["pad"]
    h_out = window_fits("conv height", h, hh, stride, pad)
    w_out = window_fits("conv width", wd, ww, stride, pad)
    return n, f, h_out, w_out


def pool_out_shape(x: np.ndarray, pool_param: dict):
    """Check a pooling's arguments and return (H', W')."""
    float_array("x", x, ndim=4)
    params("pool_param", pool_param, ("pool_height", "pool_width", "stride"))
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    h_out = window_fits("pool height", x.shape[2], ph, stride)
    w_out = window_fits("pool width", x.shape[3], pw, stride)
    return h_out, w_out
