"""Input checks shared by every public function, so that bad input fails loudly and early.

Every check raises with a message that names the argument (or the cache entry), what was
expected and what came. One rule decides the exception type:

* ``TypeError``: the value is of the wrong kind: not a numpy array, an integer dtype
  where floats are needed, a string, ``None`` or a bool where a number is needed, a list
  where a dict or tuple is needed.
* ``ValueError``: the kind is right but the value is not: a shape, a rank, a size that
  does not match another argument, a number out of range, NaN or infinity, a fraction
  where a count is needed (2.5 or 2.0 for a stride), a missing dict key, a request
  larger than :data:`MAX_ELEMENTS`, or a file whose content is not what its format says
  (the path was of the right kind; what it holds is wrong).

No check raises ``KeyError``, ``IndexError`` or ``MemoryError``; a file that cannot be
opened gives the operating system's ``OSError`` (``FileNotFoundError``), which names the
path. Checks run before any
state changes and before any large allocation, and take O(1) time (shapes, dtypes and
dict entries) except :func:`finite` and :func:`labels`, one pass each.

The checks are kept out of the layer bodies that students write: the release turns the
body into a stub and keeps the call to the check, so a student's layer is guarded the
same way.
"""

from __future__ import annotations

import math
import os
import reprlib
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

# The largest array (in entries) that a layer or a model agrees to allocate:
# 2 GiB in float64, far above anything the course needs (full CIFAR-10 is 1.5e8 values),
# so a typo such as pad=10**6 gets an error instead of a machine that swaps.
MAX_ELEMENTS = 2**28
# The largest file a loader reads (CIFAR-10 batches are 31 MB, MNIST's largest 47 MB).
MAX_FILE_BYTES = 2**30


def describe(value: object) -> str:
    """A short description of a value for an error message: its type, or dtype and shape."""
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype} and shape {value.shape}"
    # reprlib stops early: a training set passed as a list must not be printed whole.
    text = reprlib.repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"


# ----------------------------------------------------------------------------- scalars


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def number(
    name: str,
    value: object,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    want: str | None = None,
) -> float:
    """Check that ``value`` is a finite real number in the given range and return it.

    ``low_open`` / ``high_open`` exclude the end points; ``want`` words the expectation
    (default: the interval). Bools are refused: ``True`` is almost always a mistake where
    a learning rate or a weight scale is expected.
    """
    lo = "" if low is None else ("(" if low_open else "[") + f"{low:g}, "
    hi = "" if high is None else f"{high:g}" + (")" if high_open else "]")
    want = want or f"a finite number in {lo or '(-inf, '}{hi or 'inf)'}"
    if not _is_real(value):
        raise TypeError(f"{name}: expected {want}, got {describe(value)}")
    x = float(value)
    bad = not math.isfinite(x)
    bad = bad or (low is not None and (x <= low if low_open else x < low))
    bad = bad or (high is not None and (x >= high if high_open else x > high))
    if bad:
        raise ValueError(f"{name}: expected {want}, got {value!r}")
    return value


def integer(name: str, value: object, low: int = 1, high: int | None = None) -> int:
    """Check that ``value`` is an int (not a bool) in ``[low, high]`` and return it."""
    want = f"an integer >= {low}"
    if not _is_real(value):
        raise TypeError(f"{name}: expected {want}, got {describe(value)}")
    # A float is a number of the wrong value here (2.5 is not a count), hence ValueError.
    if not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name}: expected {want}, got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{name}: expected an integer <= {high}, got {value!r}")
    return int(value)


def optional_integer(name: str, value: object, low: int = 1, high: int | None = None):
    """Like :func:`integer`, with ``None`` allowed (and returned)."""
    return None if value is None else integer(name, value, low, high)


def count(name: str, value: object, available: int, allow_none: bool = True) -> int:
    """Return a sample count in ``[0, available]``; ``None`` means all of ``available``."""
    if value is None and allow_none:
        return available
    if not _is_real(value):
        raise TypeError(f"{name}: expected a non-negative integer, got {describe(value)}")
    if not isinstance(value, (int, np.integer)) or not 0 <= value <= available:
        raise ValueError(f"{name}: expected an integer from 0 to {available}, got {value!r}")
    return int(value)


def seed(name: str, value: object) -> int | None:
    """Check a random seed: ``None`` or an integer from 0 to 2**63 - 1."""
    return optional_integer(name, value, low=0, high=2**63 - 1)


def boolean(name: str, value: object) -> bool:
    """Return ``value`` if it is a bool (or numpy bool), else raise naming ``name``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {reprlib.repr(value)}")
    return bool(value)


def float_dtype(name: str, dtype: object, allowed: Sequence | None = None) -> np.dtype:
    """Return ``np.dtype(dtype)`` or raise if it is not a (permitted) floating-point type."""
    try:
        resolved = np.dtype(dtype)
    except (TypeError, ValueError, SyntaxError):
        raise TypeError(
            f"{name}: expected a numpy floating-point dtype, got {describe(dtype)}"
        ) from None
    if not np.issubdtype(resolved, np.floating):
        raise TypeError(
            f"{name}: expected a floating-point dtype, got {resolved} "
            "(use np.float64 or np.float32)"
        )
    if allowed is not None and resolved not in [np.dtype(a) for a in allowed]:
        names = ", ".join(str(np.dtype(a)) for a in allowed)
        raise TypeError(f"{name}: expected one of {names}, got {resolved}")
    return resolved


def path(name: str, value: object) -> os.PathLike | str:
    """Check that ``value`` is a str or path-like object naming a file or folder."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a str or path-like, got {describe(value)}")
    if "\x00" in os.fspath(value):
        raise ValueError(f"{name}: expected a path, got one with a NUL character")
    return value


def elements(what: str, shape: Iterable[int], hint: str = "") -> int:
    """Raise if an array of ``shape`` would hold more than :data:`MAX_ELEMENTS` entries.

    Python integers, so the product never overflows.
    """
    shape = tuple(int(s) for s in shape)
    count = math.prod(shape)
    if count > MAX_ELEMENTS:
        raise ValueError(
            f"{what}: expected at most {MAX_ELEMENTS:.3g} values, got shape {shape} "
            f"({count:.3g} values){hint}"
        )
    return count


# ----------------------------------------------------------------------------- arrays


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
    # A finite sum proves every entry finite, in one pass and without a mask the size of
    # x; only a sum that is not (NaN, inf, or an overflow) needs the entry-wise look.
    with np.errstate(all="ignore"):
        if np.isfinite(x.sum()):
            return
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


def file_labels(what: str, y: object, n: int, num_classes: int) -> np.ndarray:
    """Check labels read from a file: ``n`` integers in ``[0, num_classes)``, as int64.

    ``what`` says where the labels came from (a path). A bad value here means a bad
    file rather than a bad argument, so every failure is a ``ValueError``.
    """
    try:
        y = np.asarray(y) if isinstance(y, (np.ndarray, list, tuple)) else np.asarray([y])
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{what}: expected a list of integer labels") from None
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{what}: expected {n} labels to match the images, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{what}: expected integer labels, got dtype {y.dtype}")
    if n and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"{what}: expected labels in [0, {num_classes}), got values from {y.min()} to {y.max()}"
        )
    return y.astype(np.int64)


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
            f"got {dout.shape} (the forward's shapes come from the cache)"
        )


def dim_match(what: str, expected: object, got: object) -> None:
    """Raise if two sizes that must agree do not."""
    if expected != got:
        raise ValueError(f"{what}: expected {expected}, got {got}")


def mapping(name: str, value: object) -> Mapping:
    """Check that ``value`` is a dict (any mapping) and return it."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{name}: expected a dict, got {describe(value)}")
    return value


def params(name: str, param: object, keys: Iterable[str]) -> None:
    """Check that ``param`` is a dict holding positive-int ``keys`` (``pad`` may be 0)."""
    keys = list(keys)
    mapping(name, param)
    missing = [k for k in keys if k not in param]
    if missing:
        raise ValueError(f"{name}: missing key(s) {missing}; expected keys {keys}")
    for k in keys:
        integer(f"{name}['{k}']", param[k], low=0 if k == "pad" else 1)


def window_fits(what: str, size: int, window: int, stride: int, pad: int = 0) -> int:
    """Return the output size ``1 + (size + 2 pad - window) / stride`` or raise if it is not whole.

    ``what`` names the axis, e.g. ``"conv height"``.
    """
    span = size + 2 * pad - window
    if span < 0:
        raise ValueError(
            f"{what}: the window ({window}) is larger than the padded input ({size} + 2*{pad}); "
            "expected a window that fits"
        )
    if span % stride:
        raise ValueError(
            f"{what}: (size + 2*pad - window) = ({size} + 2*{pad} - {window}) = {span} "
            f"is not divisible by stride {stride}; expected a whole number of windows"
        )
    return 1 + span // stride


# ----------------------------------------------------------------------------- layers


def affine_shapes(x, w, b, names=("x", "w", "b"), where: str = "") -> tuple:
    """Check an affine layer's arguments and return the output shape (N, M)."""
    float_array(names[0], x, min_ndim=1)
    batch(names[0], x)
    float_array(names[1], w, ndim=2)
    float_array(names[2], b, ndim=1)
    dim_match(
        f"{where}affine: x's features per example (D) vs w.shape[0]",
        w.shape[0],
        math.prod(x.shape[1:]),
    )
    dim_match(f"{where}affine: b.shape[0] vs w.shape[1] (M)", w.shape[1], b.shape[0])
    return (x.shape[0], w.shape[1])


def conv_out_shape(x, w, conv_param, names=("x", "w", "conv_param"), where: str = ""):
    """Check a convolution's arguments and return (N, F, H', W').

    Also refuses a problem whose padded input, output or column matrix would hold more
    than :data:`MAX_ELEMENTS` values, before anything is allocated.
    """
    float_array(names[0], x, ndim=4)
    batch(names[0], x)
    float_array(names[1], w, ndim=4)
    params(names[2], conv_param, ("stride", "pad"))
    n, c, h, wd = x.shape
    f, cw, hh, ww = w.shape
    dim_match(f"{where}conv: input channels C, x.shape[1] vs w.shape[1]", c, cw)
    stride, pad = conv_param["stride"], conv_param["pad"]
    args = f"({names[0]}, {names[1]}, {names[2]})"
    h_out = window_fits(f"{where}conv height {args}", h, hh, stride, pad)
    w_out = window_fits(f"{where}conv width {args}", wd, ww, stride, pad)
    hint = f"; check {names[2]}['pad'] and the sizes of {names[0]} and {names[1]}"
    elements(f"{where}conv: padded input", (n, c, h + 2 * pad, wd + 2 * pad), hint)
    elements(f"{where}conv: output", (n, f, h_out, w_out), hint)
    elements(
        f"{where}conv: columns (C*HH*WW + 1, N*H'*W')", (c * hh * ww + 1, n, h_out, w_out), hint
    )
    return n, f, h_out, w_out


def pool_out_shape(x, pool_param, names=("x", "pool_param"), where: str = ""):
    """Check a pooling's arguments and return (H', W')."""
    float_array(names[0], x, ndim=4)
    batch(names[0], x)
    params(names[1], pool_param, ("pool_height", "pool_width", "stride"))
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    args = f"({names[0]}, {names[1]})"
    h_out = window_fits(f"{where}pool height {args}", x.shape[2], ph, stride)
    w_out = window_fits(f"{where}pool width {args}", x.shape[3], pw, stride)
    return h_out, w_out


def _entries(cache: object, forward: str, layout: tuple) -> tuple:
    """Check that ``cache`` is a tuple (or list) with one entry per name in ``layout``."""
    want = f"({', '.join(layout)})"
    if not isinstance(cache, (tuple, list)):
        raise TypeError(f"cache: expected the {want} that {forward} returns, got {describe(cache)}")
    if len(cache) != len(layout):
        raise ValueError(
            f"cache: expected the {want} that {forward} returns, "
            f"got a {type(cache).__name__} of {len(cache)} entries"
        )
    return tuple(cache)


def _names(layout: tuple) -> tuple:
    return tuple(f"cache[{i}] ({name})" for i, name in enumerate(layout))


def affine_cache(cache: object, forward: str = "affine_forward") -> tuple:
    """Check an affine cache ``(x, w, b)`` and return the forward output's shape (N, M)."""
    layout = ("x", "w", "b")
    x, w, b = _entries(cache, forward, layout)
    return affine_shapes(x, w, b, _names(layout), where="cache: ")


def relu_cache(cache: object, forward: str = "relu_forward") -> tuple:
    """Check a ReLU cache (the input x) and return the forward output's shape."""
    if not isinstance(cache, np.ndarray):
        raise TypeError(f"cache: expected the x that {forward} returns, got {describe(cache)}")
    float_array("cache (x)", cache)
    return cache.shape


def conv_cache(cache: object, forward: str = "conv_forward_naive") -> tuple:
    """Check a convolution cache ``(x, w, b, conv_param)``; return (N, F, H', W')."""
    layout = ("x", "w", "b", "conv_param")
    x, w, b, conv_param = _entries(cache, forward, layout)
    names = _names(layout)
    shape = conv_out_shape(x, w, conv_param, (names[0], names[1], names[3]), where="cache: ")
    float_array(names[2], b, ndim=1)
    dim_match("cache: conv: b.shape[0] vs number of filters F in w", shape[1], b.shape[0])
    return shape


def pool_cache(cache: object, forward: str = "max_pool_forward_naive") -> tuple:
    """Check a max pooling cache ``(x, pool_param)``; return (N, C, H', W')."""
    layout = ("x", "pool_param")
    x, pool_param = _entries(cache, forward, layout)
    names = _names(layout)
    out_hw = pool_out_shape(x, pool_param, names, where="cache: ")
    return x.shape[:2] + out_hw


def sandwich(cache: object, forward: str, parts: tuple) -> tuple:
    """Check a sandwich layer's cache: a tuple with one cache per part; return the parts."""
    return _entries(cache, forward, parts)


def chained(what: str, got: tuple, expected: tuple) -> None:
    """Raise if a sandwich's part caches disagree: a part's input must be the last's output."""
    if tuple(got) != tuple(expected):
        raise ValueError(
            f"cache: {what}: expected the shape {tuple(expected)} of the previous part's "
            f"output, got {tuple(got)}; the parts come from different forwards"
        )


# ----------------------------------------------------------------------------- optimizers

# Hyperparameter -> (low, high, low_open, high_open) of the finite numbers it accepts.
HYPERPARAMETERS = {
    "learning_rate": (0.0, None, False, False),
    "momentum": (0.0, 1.0, False, True),
    "decay_rate": (0.0, 1.0, False, True),
    "beta1": (0.0, 1.0, False, True),
    "beta2": (0.0, 1.0, False, True),
    "epsilon": (0.0, None, True, False),
}
# Rule -> the hyperparameters and the state arrays (shaped like w) it keeps in config.
RULE_KEYS = {
    "sgd": (("learning_rate",), ()),
    "sgd_momentum": (("learning_rate", "momentum"), ("velocity",)),
    "rmsprop": (("learning_rate", "decay_rate", "epsilon"), ("cache",)),
    "adam": (("learning_rate", "beta1", "beta2", "epsilon"), ("m", "v")),
}


def optim_config(rule: str, config: object, w: np.ndarray | None = None) -> dict:
    """Check the entries of an update rule's ``config`` that are present; return it.

    Runs before the rule fills in defaults or updates anything, so a refused config is
    left as it was. Keys the rule does not know are left alone (a rule may keep more
    state). With ``w``, state arrays must be float arrays of w's shape.
    """
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise TypeError(f"config: expected a dict or None, got {type(config).__name__}")
    hyper, state = RULE_KEYS[rule]
    for key in hyper:
        if key in config:
            low, high, low_open, high_open = HYPERPARAMETERS[key]
            number(f"config['{key}']", config[key], low, high, low_open, high_open)
    if rule == "adam" and "t" in config:
        integer("config['t']", config["t"], low=0)
    if w is not None:
        for key in state:
            if key in config:
                value = float_array(f"config['{key}']", config[key])
                if value.shape != w.shape:
                    raise ValueError(
                        f"config['{key}']: expected the shape of w, {w.shape}, got {value.shape}"
                    )
    return config
