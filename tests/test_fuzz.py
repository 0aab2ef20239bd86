"""Fuzz every public function with bad and edge inputs: a named error or the right answer.

For a small valid problem per target, one argument at a time is replaced by each of its
variants (other ranks and dtypes, lists, NaN and infinity, empty batches, views, read-only
and big-endian copies, dicts with missing, extra, wrong-typed or huge values, caches with
wrong arity or entries, damaged and hostile files). Every call must end in one of two ways:

* it returns, and the answer equals the answer for the equivalent valid input (exactly
  for a view or a copy, within the precision of the dtype for float32 and float16); an
  input holding NaN may instead give an answer of the right shapes and dtypes;
* it raises ``TypeError`` or ``ValueError`` (``FileNotFoundError`` for a missing file)
  whose message names the argument, or the cache entry, and says what was expected.

It must also leave its inputs unchanged and finish within ``TIME_LIMIT`` seconds, and a
fast layer must give what its naive twin gives: the same error type, or answers of the
same shapes and dtypes. In CI every (function, argument) pair runs all of its variants
on ``EXAMPLES`` derandomized problems (about 1,800 calls in all). A longer run draws
random problems and pairs, counts the outcomes instead of stopping at the first bad one,
and prints them as a table (1,500 examples make about 20,000 calls):

    python tests/test_fuzz.py --examples 1500
"""

from __future__ import annotations

import argparse
import collections
import gzip
import pickle
import re
import signal
import struct
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpkit import _scratch, fast_layers, gradcheck, layer_utils, layers, optim
from bpkit.data import cifar10, download, load_cifar10, load_digits, load_mnist, read_idx, sha256sum
from bpkit.models import ThreeLayerConvNet, TwoLayerNet
from bpkit.solver import Solver

EXAMPLES = 1  # per (function, argument) pair
TIME_LIMIT = 30.0
SAME, LOOSE, NONFINITE, ERROR = "same", "loose", "nonfinite", "error"
# SAME: the answer of the valid input (within tol); LOOSE: the same in a lower precision;
# NONFINITE: a NaN or inf input: the valid input's shapes, or a named error; ERROR: refused.
OUTCOMES = (
    "clear error naming the argument",
    "correct answer",
    "bad input accepted",
    "valid input refused",
    "error that does not name the argument",
    "internal numpy/Python error",
    "silent wrong answer",
    "input modified",
    "hang",
)
GOOD = OUTCOMES[:2]


@dataclass
class Variant:
    label: str
    make: object  # (canonical value, all canonical arguments) -> the variant's value
    expect: str
    tol: float = 1e-12  # relative to the answer's largest entry: BLAS may sum in another order
    errors: tuple = (TypeError, ValueError)


@dataclass
class Target:
    name: str
    fn: object
    make: object  # rng -> dict of valid arguments
    variants: dict  # argument -> (names an error may use, list of Variant)
    twin: object = None
    mutates: tuple = ()
    drop: tuple = field(default=())  # arguments the call gets from make but not as keywords


# ----------------------------------------------------------------------------- variants


def _readonly(a):
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


def _strided(a):
    big = np.zeros((*a.shape[:-1], 2 * a.shape[-1]), a.dtype)
    big[..., ::2] = a
    return big[..., ::2]


def _with(a, value):
    a = np.array(a, dtype=np.float64, copy=True)
    a.flat[a.size // 2] = value
    return a


def floats(rank=True, batch=True, shape=True, nan=NONFINITE, zero_d=True, ok_16=True):
    """Variants of a float64 array argument."""
    v = [
        Variant("Fortran order", lambda a, k: np.asfortranarray(a), SAME, 1e-12),
        Variant("strided view", lambda a, k: _strided(a), SAME, 1e-12),
        Variant("read-only", lambda a, k: _readonly(a), SAME),
        Variant("big-endian", lambda a, k: a.astype(">f8"), SAME),
        Variant("float32", lambda a, k: a.astype(np.float32), LOOSE, 1e-3),
        Variant("int64", lambda a, k: np.round(a).astype(np.int64), ERROR),
        Variant("bool", lambda a, k: a > 0, ERROR),
        Variant("object", lambda a, k: a.astype(object), ERROR),
        Variant("complex", lambda a, k: a.astype(complex), ERROR),
        Variant("list", lambda a, k: a.tolist(), ERROR),
        Variant("python float", lambda a, k: 1.5, ERROR),
        Variant("None", lambda a, k: None, ERROR),
        Variant("str", lambda a, k: "1.0", ERROR),
    ]
    if ok_16:
        v.append(Variant("float16", lambda a, k: a.astype(np.float16), LOOSE, 5e-2))
    if zero_d:
        v.append(Variant("0-d array", lambda a, k: np.array(0.5), ERROR))
    if rank:
        v.append(Variant("one more axis", lambda a, k: a[None], ERROR))
        v.append(Variant("one axis fewer", lambda a, k: a[0], ERROR))
    if batch:
        v.append(Variant("empty batch", lambda a, k: a[:0], ERROR))
    if shape:
        v.append(Variant("last axis one shorter", lambda a, k: a[..., :-1], ERROR))
    if nan is not None:
        v.append(Variant("a NaN", lambda a, k: _with(a, np.nan), nan))
        v.append(Variant("an inf", lambda a, k: _with(a, np.inf), nan))
    return v


def labels(num_classes):
    """Variants of int labels; ``num_classes`` is a number or a function of the arguments."""

    def classes(k):
        return num_classes(k) if callable(num_classes) else num_classes

    def at(y, i, value):
        y = np.array(y, copy=True)
        y[i] = value
        return y

    return [
        Variant("int32", lambda y, k: y.astype(np.int32), SAME),
        Variant("uint8", lambda y, k: y.astype(np.uint8), SAME),
        Variant("big-endian", lambda y, k: y.astype(">i8"), SAME),
        Variant("read-only", lambda y, k: _readonly(y), SAME),
        Variant("float", lambda y, k: y.astype(np.float64), ERROR),
        Variant("bool", lambda y, k: y > 0, ERROR),
        Variant("list", lambda y, k: y.tolist(), ERROR),
        Variant("str", lambda y, k: "0", ERROR),
        Variant("label C", lambda y, k: at(y, 0, classes(k)), ERROR),
        Variant("label -1", lambda y, k: at(y, 0, -1), ERROR),
        Variant("one label short", lambda y, k: y[:-1], ERROR),
        Variant("2-d", lambda y, k: y[:, None], ERROR),
    ]


def _set(d, key, value):
    d = dict(d)
    d[key] = value
    return d


def _drop(d, key):
    d = dict(d)
    del d[key]
    return d


def counts(low=1, huge=10**12, none_valid=False, base=None):
    """Variants of an integer argument (a size, a count, a seed).

    ``none_valid``: None means something else here (all, unseeded), so it is not varied.
    ``base``: the canonical value is None; derive the wrong kinds from this number.
    """
    v = [
        Variant("str", lambda n, k: str(base or n), ERROR),
        Variant("True", lambda n, k: True, ERROR),
        Variant("2.5", lambda n, k: 2.5, ERROR),
        Variant("float of it", lambda n, k: float(base or n), ERROR),
        Variant(f"{low - 1}", lambda n, k: low - 1, ERROR),
        Variant("-5", lambda n, k: -5, ERROR),
        Variant("complex", lambda n, k: complex(base or n, 0), ERROR),
    ]
    if not none_valid:
        v.append(Variant("None", lambda n, k: None, ERROR))
    if huge is not None:
        v.append(Variant(f"{huge:g}", lambda n, k: huge, ERROR))
    if base is None:
        v.append(Variant("numpy int", lambda n, k: np.int64(n), SAME))
    return v


def reals(low_bad=(-1.0,), high_bad=()):
    """Variants of a real hyperparameter: wrong kinds, NaN, infinity, out of range."""
    v = [
        Variant("numpy float", lambda x, k: np.float64(x), SAME),
        Variant("str", lambda x, k: str(x), ERROR),
        Variant("None", lambda x, k: None, ERROR),
        Variant("True", lambda x, k: True, ERROR),
        Variant("complex", lambda x, k: complex(x, 0), ERROR),
        Variant("list", lambda x, k: [x], ERROR),
        Variant("NaN", lambda x, k: float("nan"), ERROR),
        Variant("inf", lambda x, k: float("inf"), ERROR),
        Variant("-inf", lambda x, k: float("-inf"), ERROR),
    ]
    v += [Variant(f"{b:g}", lambda x, k, b=b: b, ERROR) for b in (*low_bad, *high_bad)]
    return v


def flags():
    return [
        Variant("numpy bool", lambda x, k: np.bool_(x), SAME),
        Variant("str", lambda x, k: "yes", ERROR),
        Variant("1", lambda x, k: 1, ERROR),
        Variant("None", lambda x, k: None, ERROR),
    ]


def window_params(keys, huge="pad"):
    """Variants of conv_param or pool_param."""
    v = [
        Variant("extra key", lambda p, k: _set(p, "dilation", 1), SAME),
        Variant("numpy ints", lambda p, k: {q: np.int64(x) for q, x in p.items()}, SAME),
        Variant("list", lambda p, k: list(p.values()), ERROR),
        Variant("None", lambda p, k: None, ERROR),
        Variant(f"{huge} 10**6", lambda p, k: _set(p, huge, 10**6), ERROR),
    ]
    for key in keys:
        v.append(Variant(f"no {key}", lambda p, k, key=key: _drop(p, key), ERROR))
        for label, bad in (("str", "2"), ("1.5", 1.5), ("2.0", 2.0), ("True", True)):
            v.append(Variant(f"{key} {label}", lambda p, k, a=key, b=bad: _set(p, a, b), ERROR))
        for bad in ("None", -1) + (() if key == "pad" else (0,)):
            value = None if bad == "None" else bad
            v.append(Variant(f"{key} {bad}", lambda p, k, a=key, b=value: _set(p, a, b), ERROR))
    return v


def tuple_cache(layout, arrays, dicts=(), naive=None):
    """Variants of a tuple cache: arity, entries of the wrong kind or shape, tampered dicts."""

    def put(c, i, value):
        c = list(c)
        c[i] = value
        return tuple(c)

    v = [
        Variant("list", lambda c, k: list(c), SAME),
        Variant("plain tuple", lambda c, k: tuple(c), SAME),
        Variant("None", lambda c, k: None, ERROR),
        Variant("str", lambda c, k: "cache", ERROR),
        Variant("dict", lambda c, k: dict(enumerate(c)), ERROR),
        Variant("one entry short", lambda c, k: tuple(c)[:-1], ERROR),
        Variant("one entry more", lambda c, k: (*c, None), ERROR),
        Variant("empty", lambda c, k: (), ERROR),
    ]
    if naive is not None:
        v.append(Variant("naive forward's cache", naive, SAME))
    for i, name in enumerate(layout):
        v.append(Variant(f"{name} None", lambda c, k, i=i: put(c, i, None), ERROR))
        if i in arrays:
            v += [
                Variant(f"{name} int", lambda c, k, i=i: put(c, i, c[i].astype(int)), ERROR),
                Variant(f"{name} list", lambda c, k, i=i: put(c, i, c[i].tolist()), ERROR),
                Variant(f"{name} one shorter", lambda c, k, i=i: put(c, i, c[i][..., :-1]), ERROR),
                Variant(f"{name} one more axis", lambda c, k, i=i: put(c, i, c[i][None]), ERROR),
            ]
        if i in dicts:
            key = next(iter(layout_keys(name)))
            v += [
                Variant(
                    f"{name} missing {key}",
                    lambda c, k, i=i, q=key: put(c, i, _drop(c[i], q)),
                    ERROR,
                ),
                Variant(
                    f"{name} {key} 0", lambda c, k, i=i, q=key: put(c, i, _set(c[i], q, 0)), ERROR
                ),
                Variant(
                    f"{name} {key} str",
                    lambda c, k, i=i, q=key: put(c, i, _set(c[i], q, "2")),
                    ERROR,
                ),
                Variant(f"{name} list", lambda c, k, i=i: put(c, i, list(c[i].values())), ERROR),
            ]
    return v


def layout_keys(name):
    return {"conv_param": ("stride", "pad"), "pool_param": ("pool_height", "stride")}[name]


def relu_cache():
    return [
        Variant("None", lambda c, k: None, ERROR),
        Variant("tuple", lambda c, k: (c,), ERROR),
        Variant("list", lambda c, k: c.tolist(), ERROR),
        Variant("int", lambda c, k: c.astype(int), ERROR),
        Variant("one shorter", lambda c, k: c[..., :-1], ERROR),
        Variant("read-only", lambda c, k: _readonly(c), SAME),
        Variant("float32", lambda c, k: c.astype(np.float32), SAME),
    ]


def sandwich_cache(parts, shorter):
    """Variants of a sandwich's cache; ``shorter`` is the index of the relu part."""

    def put(c, i, value):
        c = list(c)
        c[i] = value
        return tuple(c)

    return [
        Variant("list", lambda c, k: list(c), SAME),
        Variant("None", lambda c, k: None, ERROR),
        Variant("one part short", lambda c, k: tuple(c)[:-1], ERROR),
        Variant("parts reversed", lambda c, k: tuple(c)[::-1], ERROR),
        Variant("first part None", lambda c, k: put(c, 0, None), ERROR),
        Variant("last part None", lambda c, k: put(c, len(c) - 1, None), ERROR),
        Variant(
            "relu part from another problem",
            lambda c, k: put(c, shorter, c[shorter][..., :-1]),
            ERROR,
        ),
        Variant("str", lambda c, k: "cache", ERROR),
    ]


# ----------------------------------------------------------------------------- layer targets


def _affine(rng):
    n, d, m = rng.integers(1, 4), rng.integers(2, 5), rng.integers(2, 4)
    return {
        "x": rng.standard_normal((n, 2, d)),
        "w": rng.standard_normal((2 * d, m)),
        "b": rng.standard_normal(m),
    }


def _backward_of(forward, make):
    def build(rng):
        out, cache = forward(**make(rng))
        return {"dout": rng.standard_normal(out.shape), "cache": cache}

    return build


def _set_threads(n):
    old = _scratch.get_num_threads()
    try:
        return fast_layers.set_num_threads(n)
    finally:
        _scratch.set_num_threads(old)


def _conv(rng, stride=2):
    n, c, f = rng.integers(1, 3), rng.integers(1, 3), rng.integers(1, 4)
    size = 5 if stride == 2 else 4
    return {
        "x": rng.standard_normal((n, c, size, size + 2)),
        "w": rng.standard_normal((f, c, 3, 3)),
        "b": rng.standard_normal(f),
        "conv_param": {"stride": stride, "pad": 1},
    }


def _pool(rng):
    n, c = rng.integers(1, 3), rng.integers(1, 3)
    return {
        "x": rng.permutation(n * c * 24).reshape(n, c, 4, 6).astype(np.float64),
        "pool_param": {"pool_height": 2, "pool_width": 2, "stride": 2},
    }


def _scores(rng):
    n, c = rng.integers(1, 4), rng.integers(2, 5)
    return {"x": rng.standard_normal((n, c)), "y": rng.integers(0, c, n)}


def _classes(k):
    return k["x"].shape[1]


def _naive_conv_cache(c, k):
    return layers.conv_forward_naive(*c)[1]


def _naive_pool_cache(c, k):
    return layers.max_pool_forward_naive(*c)[1]


CONV_ARGS = {
    "x": (("x",), floats()),
    "w": (("w",), floats(batch=False)),
    "b": (("b", "w"), floats(batch=False)),
    "conv_param": (("conv_param",), window_params(("stride", "pad"))),
}
POOL_ARGS = {
    "x": (("x",), floats()),
    "pool_param": (
        ("pool_param",),
        window_params(("pool_height", "pool_width", "stride"), "pool_height"),
    ),
}
CONV_CACHE = tuple_cache(("x", "w", "b", "conv_param"), (0, 1, 2), (3,))
POOL_CACHE = tuple_cache(("x", "pool_param"), (0,), (1,))
DOUT = (("dout",), floats(batch=False, zero_d=False))

LAYER_TARGETS = [
    Target(
        "affine_forward",
        layers.affine_forward,
        _affine,
        {
            "x": (("x",), floats(rank=False)),
            "w": (("w",), floats(batch=False)),
            "b": (("b",), floats(batch=False)),
        },
    ),
    Target(
        "affine_backward",
        layers.affine_backward,
        _backward_of(layers.affine_forward, _affine),
        {"dout": DOUT, "cache": (("cache",), tuple_cache(("x", "w", "b"), (0, 1, 2)))},
    ),
    Target(
        "relu_forward",
        layers.relu_forward,
        lambda rng: {"x": rng.standard_normal((rng.integers(1, 4), 3))},
        {"x": (("x",), floats(rank=False, batch=False, shape=False, zero_d=False))},
    ),
    Target(
        "relu_backward",
        layers.relu_backward,
        _backward_of(layers.relu_forward, lambda rng: {"x": rng.standard_normal((2, 3))}),
        {"dout": DOUT, "cache": (("cache",), relu_cache())},
    ),
    Target(
        "softmax_loss",
        layers.softmax_loss,
        _scores,
        {"x": (("x",), floats(shape=False, nan=ERROR)), "y": (("y",), labels(_classes))},
    ),
    Target(
        "svm_loss",
        layers.svm_loss,
        _scores,
        {"x": (("x",), floats(shape=False, nan=ERROR)), "y": (("y",), labels(_classes))},
    ),
    Target("conv_forward_naive", layers.conv_forward_naive, _conv, CONV_ARGS),
    Target(
        "conv_backward_naive",
        layers.conv_backward_naive,
        _backward_of(layers.conv_forward_naive, _conv),
        {"dout": DOUT, "cache": (("cache",), CONV_CACHE)},
    ),
    Target("max_pool_forward_naive", layers.max_pool_forward_naive, _pool, POOL_ARGS),
    Target(
        "max_pool_backward_naive",
        layers.max_pool_backward_naive,
        _backward_of(layers.max_pool_forward_naive, _pool),
        {"dout": DOUT, "cache": (("cache",), POOL_CACHE)},
    ),
    Target(
        "conv_forward_fast",
        fast_layers.conv_forward_fast,
        _conv,
        CONV_ARGS,
        twin=layers.conv_forward_naive,
    ),
    Target(
        "conv_backward_fast",
        fast_layers.conv_backward_fast,
        _backward_of(fast_layers.conv_forward_fast, _conv),
        {
            "dout": DOUT,
            "cache": (("cache",), CONV_CACHE + [Variant("naive", _naive_conv_cache, SAME)]),
        },
        twin=layers.conv_backward_naive,
    ),
    Target(
        "max_pool_forward_fast",
        fast_layers.max_pool_forward_fast,
        _pool,
        POOL_ARGS,
        twin=layers.max_pool_forward_naive,
    ),
    Target(
        "max_pool_backward_fast",
        fast_layers.max_pool_backward_fast,
        _backward_of(fast_layers.max_pool_forward_fast, _pool),
        {
            "dout": DOUT,
            "cache": (("cache",), POOL_CACHE + [Variant("naive", _naive_pool_cache, SAME)]),
        },
        twin=layers.max_pool_backward_naive,
    ),
    Target(
        "set_num_threads",
        _set_threads,
        lambda rng: {"n": int(rng.integers(1, 3))},
        {"n": (("n",), counts(huge=10**6))},
    ),
]


def _conv_relu_pool(rng):
    args = _conv(rng, stride=1)
    args["pool_param"] = {"pool_height": 2, "pool_width": 2, "stride": 2}
    return args


SANDWICH_TARGETS = [
    Target(
        "affine_relu_forward",
        layer_utils.affine_relu_forward,
        _affine,
        {"x": (("x",), floats(rank=False)), "w": (("w",), floats(batch=False))},
    ),
    Target(
        "affine_relu_backward",
        layer_utils.affine_relu_backward,
        _backward_of(layer_utils.affine_relu_forward, _affine),
        {"dout": DOUT, "cache": (("cache",), sandwich_cache(2, 1))},
    ),
    Target(
        "conv_relu_forward",
        layer_utils.conv_relu_forward,
        _conv,
        {k: CONV_ARGS[k] for k in ("x", "conv_param")},
    ),
    Target(
        "conv_relu_backward",
        layer_utils.conv_relu_backward,
        _backward_of(layer_utils.conv_relu_forward, _conv),
        {"dout": DOUT, "cache": (("cache",), sandwich_cache(2, 1))},
    ),
    Target(
        "conv_relu_pool_forward",
        layer_utils.conv_relu_pool_forward,
        _conv_relu_pool,
        {"x": CONV_ARGS["x"], "pool_param": POOL_ARGS["pool_param"]},
    ),
    Target(
        "conv_relu_pool_backward",
        layer_utils.conv_relu_pool_backward,
        _backward_of(layer_utils.conv_relu_pool_forward, _conv_relu_pool),
        {"dout": DOUT, "cache": (("cache",), sandwich_cache(3, 1))},
    ),
]


# ----------------------------------------------------------------------------- optimizers

RULES = {
    "sgd": ({"learning_rate": 0.1}, ()),
    "sgd_momentum": ({"learning_rate": 0.1, "momentum": 0.9}, ("velocity",)),
    "rmsprop": ({"learning_rate": 0.1, "decay_rate": 0.9, "epsilon": 1e-8}, ("cache",)),
    "adam": (
        {"learning_rate": 0.1, "beta1": 0.9, "beta2": 0.99, "epsilon": 1e-8, "t": 3},
        ("m", "v"),
    ),
}
HIGH_BAD = {"momentum": (1.0, 1.5), "decay_rate": (1.0,), "beta1": (1.0,), "beta2": (1.5,)}


def _optim_make(rule):
    def make(rng):
        shape = (int(rng.integers(1, 4)), 3)
        config = dict(RULES[rule][0])
        for key in RULES[rule][1]:
            config[key] = np.abs(rng.standard_normal(shape))
        return {"w": rng.standard_normal(shape), "dw": rng.standard_normal(shape), "config": config}

    return make


def _config_variants(rule):
    hyper, state = RULES[rule]
    v = [
        Variant("extra key", lambda c, k: _set(c, "note", "kept"), SAME),
        Variant("list", lambda c, k: list(c.items()), ERROR),
        Variant("str", lambda c, k: "learning_rate=0.1", ERROR),
    ]
    for key in hyper:
        if key == "t":
            for r in counts(low=0, huge=None):
                v.append(
                    Variant(
                        f"t {r.label}", lambda c, k, r=r: _set(c, "t", r.make(c["t"], k)), r.expect
                    )
                )
            continue
        low_bad = (-1.0,) if key != "epsilon" else (0.0, -1e-8)
        for r in reals(low_bad, HIGH_BAD.get(key, ())):
            v.append(
                Variant(
                    f"{key} {r.label}",
                    lambda c, k, q=key, r=r: _set(c, q, r.make(c[q], k)),
                    r.expect,
                )
            )
    for key in state:
        v += [
            Variant(f"{key} one shorter", lambda c, k, q=key: _set(c, q, c[q][..., :-1]), ERROR),
            Variant(f"{key} int", lambda c, k, q=key: _set(c, q, c[q].astype(int)), ERROR),
            Variant(f"{key} list", lambda c, k, q=key: _set(c, q, c[q].tolist()), ERROR),
            Variant(f"{key} None", lambda c, k, q=key: _set(c, q, None), ERROR),
            Variant(f"{key} read-only", lambda c, k, q=key: _set(c, q, _readonly(c[q])), SAME),
        ]
    return v


OPTIM_TARGETS = [
    Target(
        rule,
        getattr(optim, rule),
        _optim_make(rule),
        {
            "w": (("w", "dw"), floats(rank=False, batch=False, zero_d=False)),
            "dw": (("dw",), floats(rank=False, batch=False, zero_d=False)),
            "config": (("config",), _config_variants(rule)),
        },
        mutates=("w", "config"),
    )
    for rule in RULES
]


# ----------------------------------------------------------------------------- gradcheck


def _square(x):
    return float(np.sum(x * x))


def _gradcheck_make(rng):
    return {"f": _square, "x": rng.standard_normal((2, 3)), "h": 1e-5}


def _f_variants(kind):
    v = [
        Variant("None", lambda f, k: None, ERROR),
        Variant("str", lambda f, k: "f", ERROR),
        Variant("returns None", lambda f, k: lambda x: None, ERROR),
        Variant("returns str", lambda f, k: lambda x: "loss", ERROR),
        Variant("returns a ragged list", lambda f, k: lambda x: [[1.0], [1.0, 2.0]], ERROR),
    ]
    if kind == "scalar":
        v.append(Variant("returns an array", lambda f, k: lambda x: x * 2, ERROR))
    return v


def _h_variants():
    return reals(low_bad=(0.0, -1e-5))


def _perturbable():
    """x for the numerical gradients: perturbed in place, so read-only is refused, and
    float16 loses the step h, which is refused or gives an imprecise answer."""
    v = floats(rank=False, batch=False, shape=False, zero_d=False, ok_16=False)
    replace = {
        "Fortran order": Variant("Fortran order", lambda a, k: np.asfortranarray(a), SAME, 1e-6),
        "strided view": Variant("strided view", lambda a, k: _strided(a), SAME, 1e-6),
        "big-endian": Variant("big-endian", lambda a, k: a.astype(">f8"), SAME, 1e-6),
        "read-only": Variant("read-only", lambda a, k: _readonly(a), ERROR),
        "float32": Variant("float32", lambda a, k: a.astype(np.float32), LOOSE, 1e-1),
    }
    v = [replace.get(x.label, x) for x in v]
    return v + [Variant("float16", lambda a, k: a.astype(np.float16), NONFINITE)]


GRAD_X = (("x", "h"), _perturbable())


def _sparse_make(rng):
    x = rng.standard_normal((3, 4))
    return {"f": _square, "x": x, "analytic_grad": 2 * x, "num_checks": 5, "h": 1e-5, "seed": 1}


def _array_make(rng):
    x = rng.standard_normal((2, 3))
    return {"f": np.tanh, "x": x, "df": rng.standard_normal((2, 3)), "h": 1e-5}


ARRAYLIKE = [
    Variant("list", lambda a, k: a.tolist(), SAME),
    Variant("float32", lambda a, k: a.astype(np.float32), LOOSE, 1e-5),
    Variant("str", lambda a, k: "1.0", ERROR),
    Variant("None", lambda a, k: None, ERROR),
    Variant("object", lambda a, k: np.array([object()] * a.size).reshape(a.shape), ERROR),
    Variant("complex", lambda a, k: a.astype(complex), ERROR),
    Variant("ragged", lambda a, k: [[1.0], [1.0, 2.0]], ERROR),
    Variant("one shorter", lambda a, k: a[..., :-1], ERROR),
]

GRADCHECK_TARGETS = [
    Target(
        "rel_error",
        gradcheck.rel_error,
        lambda rng: {"x": rng.standard_normal((2, 3)), "y": rng.standard_normal((2, 3))},
        {"x": (("x", "rel_error"), ARRAYLIKE), "y": (("y", "rel_error"), ARRAYLIKE)},
    ),
    Target(
        "eval_numerical_gradient",
        gradcheck.eval_numerical_gradient,
        _gradcheck_make,
        {"f": (("f",), _f_variants("scalar")), "x": GRAD_X, "h": (("h",), _h_variants())},
    ),
    Target(
        "eval_numerical_gradient_array",
        gradcheck.eval_numerical_gradient_array,
        _array_make,
        {
            "f": (("f",), _f_variants("array")),
            "x": GRAD_X,
            "df": (("df",), ARRAYLIKE[:1] + ARRAYLIKE[2:]),
            "h": (("h",), _h_variants()),
        },
    ),
    Target(
        "grad_check_sparse",
        gradcheck.grad_check_sparse,
        _sparse_make,
        {
            "f": (("f",), _f_variants("scalar")),
            "analytic_grad": (("analytic_grad",), ARRAYLIKE[:1] + ARRAYLIKE[2:]),
            "num_checks": (("num_checks",), counts(low=0, huge=10**9)),
            "h": (("h",), _h_variants()),
            "seed": (("seed",), counts(low=0, huge=2**64, none_valid=True)),
        },
    ),
]


# ----------------------------------------------------------------------------- models, Solver


def _two_layer_make(rng):
    return {
        "input_dim": 6,
        "hidden_dim": 5,
        "num_classes": 3,
        "weight_scale": 0.1,
        "reg": 0.1,
        "seed": 1,
    }


def _convnet_make(rng):
    return {
        "input_dim": (1, 4, 4),
        "num_filters": 2,
        "filter_size": 3,
        "hidden_dim": 5,
        "num_classes": 3,
        "weight_scale": 0.1,
        "reg": 0.1,
        "dtype": np.float64,
        "seed": 1,
    }


SCALE = reals(low_bad=(0.0, -1.0))
REG = reals(low_bad=(-1.0,))
SIZE = counts(huge=10**9)
SEED = counts(low=0, huge=2**64, none_valid=True)


def _params(model):
    return model.params


MODEL_TARGETS = [
    Target(
        "TwoLayerNet",
        lambda **k: _params(TwoLayerNet(**k)),
        _two_layer_make,
        {
            "input_dim": (("input_dim",), SIZE),
            "hidden_dim": (("hidden_dim",), SIZE),
            "num_classes": (("num_classes",), SIZE),
            "weight_scale": (("weight_scale",), SCALE),
            "reg": (("reg",), REG),
            "seed": (("seed",), SEED),
        },
    ),
    Target(
        "ThreeLayerConvNet",
        lambda **k: _params(ThreeLayerConvNet(**k)),
        _convnet_make,
        {
            "input_dim": (
                ("input_dim",),
                [
                    Variant("list", lambda d, k: list(d), SAME),
                    Variant("numpy ints", lambda d, k: tuple(np.int64(v) for v in d), SAME),
                    Variant("2 sizes", lambda d, k: d[:2], ERROR),
                    Variant("odd H", lambda d, k: (1, 5, 4), ERROR),
                    Variant("None", lambda d, k: None, ERROR),
                    Variant("int", lambda d, k: 16, ERROR),
                    Variant("str", lambda d, k: "1,4,4", ERROR),
                    Variant("float H", lambda d, k: (1, 4.0, 4), ERROR),
                    Variant("huge", lambda d, k: (1, 10**6, 10**6), ERROR),
                ],
            ),
            "num_filters": (("num_filters",), SIZE),
            "filter_size": (("filter_size",), SIZE),
            "weight_scale": (("weight_scale",), SCALE),
            "dtype": (
                ("dtype",),
                [
                    Variant("str", lambda d, k: "float64", SAME),
                    Variant("float16", lambda d, k: np.float16, ERROR),
                    Variant("int", lambda d, k: np.int64, ERROR),
                    Variant("complex", lambda d, k: np.complex128, ERROR),
                    Variant("nonsense", lambda d, k: "floaty", ERROR),
                    Variant("object", lambda d, k: object, ERROR),
                    Variant("a number", lambda d, k: 3.5, ERROR),
                ],
            ),
            "seed": (("seed",), SEED),
        },
    ),
]


def _two_layer_loss_make(rng):
    n = int(rng.integers(1, 4))
    return {
        "model": TwoLayerNet(6, 5, 3, weight_scale=0.1, reg=0.1, seed=1),
        "X": rng.standard_normal((n, 2, 3)),
        "y": rng.integers(0, 3, n),
    }


def _convnet_loss_make(rng):
    n = int(rng.integers(1, 3))
    return {
        "model": ThreeLayerConvNet((1, 4, 4), 2, 3, 5, 3, weight_scale=0.1, reg=0.1, seed=1),
        "X": rng.standard_normal((n, 1, 4, 4)),
        "y": rng.integers(0, 3, n),
    }


def _loss(model, X, y):
    return model.loss(X, y)


LOSS_TARGETS = [
    Target(
        "TwoLayerNet.loss",
        _loss,
        _two_layer_loss_make,
        {"X": (("X",), floats(rank=False, nan=ERROR)), "y": (("y",), labels(3))},
    ),
    Target(
        "ThreeLayerConvNet.loss",
        _loss,
        _convnet_loss_make,
        {"X": (("X",), floats(nan=ERROR)), "y": (("y",), labels(3))},
    ),
]


def _solver_make(rng):
    X = rng.standard_normal((12, 6))
    y = rng.integers(0, 3, 12)
    return {
        "model": TwoLayerNet(6, 5, 3, weight_scale=0.1, seed=1),
        "data": {"X_train": X, "y_train": y, "X_val": X[:5], "y_val": y[:5]},
        "update_rule": "sgd",
        "optim_config": {"learning_rate": 0.1},
        "lr_decay": 0.9,
        "batch_size": 4,
        "num_epochs": 2,
        "num_train_samples": 6,
        "num_val_samples": None,
        "print_every": 5,
        "verbose": False,
        "seed": 0,
    }


def _train(model, data, **options):
    solver = Solver(model, data, **options)
    solver.train()
    return solver.loss_history, solver.model.params, solver.val_acc_history


def _data_variants():
    def put(d, key, value):
        d = dict(d)
        d[key] = value
        return d

    return [
        Variant("list", lambda d, k: list(d.values()), ERROR),
        Variant("None", lambda d, k: None, ERROR),
        Variant("no y_val", lambda d, k: _drop(d, "y_val"), ERROR),
        Variant("extra key", lambda d, k: put(d, "X_test", d["X_val"]), SAME),
        Variant("X_train list", lambda d, k: put(d, "X_train", d["X_train"].tolist()), ERROR),
        Variant("X_train empty", lambda d, k: put(d, "X_train", d["X_train"][:0]), ERROR),
        Variant("X_train 0-d", lambda d, k: put(d, "X_train", np.array(1.0)), ERROR),
        Variant("X_train int", lambda d, k: put(d, "X_train", d["X_train"].astype(int)), ERROR),
        Variant("X_train NaN", lambda d, k: put(d, "X_train", _with(d["X_train"], np.nan)), ERROR),
        Variant("X_train wrong D", lambda d, k: put(d, "X_train", d["X_train"][:, :-1]), ERROR),
        Variant("y_train float", lambda d, k: put(d, "y_train", d["y_train"] * 1.0), ERROR),
        Variant("y_train short", lambda d, k: put(d, "y_train", d["y_train"][:-1]), ERROR),
        Variant("y_train list", lambda d, k: put(d, "y_train", d["y_train"].tolist()), ERROR),
        Variant("y_val 2-d", lambda d, k: put(d, "y_val", d["y_val"][:, None]), ERROR),
        Variant("y_val label 3", lambda d, k: put(d, "y_val", d["y_val"] * 0 + 3), ERROR),
        Variant("X_val empty", lambda d, k: put(d, "X_val", d["X_val"][:0]), ERROR),
        Variant("X_train read-only", lambda d, k: put(d, "X_train", _readonly(d["X_train"])), SAME),
    ]


DATA_NAMES = ("data", "X_train", "y_train", "X_val", "y_val", "X", "y")
SOLVER_TARGETS = [
    Target(
        "Solver.train",
        _train,
        _solver_make,
        {
            "data": (DATA_NAMES, _data_variants()),
            "update_rule": (
                ("update_rule",),
                [
                    Variant("callable", lambda r, k: optim.sgd, SAME),
                    Variant("unknown", lambda r, k: "adagrad", ERROR),
                    Variant("None", lambda r, k: None, ERROR),
                    Variant("int", lambda r, k: 3, ERROR),
                ],
            ),
            "optim_config": (
                ("optim_config", "config"),
                [
                    Variant("list", lambda c, k: [0.1], ERROR),
                    Variant("negative rate", lambda c, k: {"learning_rate": -0.1}, ERROR),
                    Variant("NaN rate", lambda c, k: {"learning_rate": float("nan")}, ERROR),
                    Variant("str rate", lambda c, k: {"learning_rate": "0.1"}, ERROR),
                ],
            ),
            "lr_decay": (("lr_decay",), reals(low_bad=(0.0, -0.5), high_bad=(1.5,))),
            "batch_size": (("batch_size",), counts(huge=10**7)),
            "num_epochs": (("num_epochs",), counts(huge=None)),
            "num_train_samples": (("num_train_samples",), counts(huge=None, none_valid=True)),
            "num_val_samples": (
                ("num_val_samples",),
                counts(huge=None, none_valid=True, base=3),
            ),
            "print_every": (("print_every",), counts(huge=None)),
            "verbose": (("verbose",), flags()),
            "seed": (("seed",), SEED),
        },
        mutates=("model",),
    ),
]


def _accuracy_make(rng):
    args = _solver_make(rng)
    solver = Solver(args["model"], args["data"], batch_size=4, verbose=False, seed=0)
    return {
        "solver": solver,
        "X": args["data"]["X_train"],
        "y": args["data"]["y_train"],
        "num_samples": 6,
        "batch_size": 5,
    }


def _accuracy(solver, X, y, num_samples, batch_size):
    return solver.check_accuracy(X, y, num_samples, batch_size)


SOLVER_TARGETS.append(
    Target(
        "Solver.check_accuracy",
        _accuracy,
        _accuracy_make,
        {
            "X": (
                ("X",),
                [v for v in floats(rank=False, nan=ERROR) if not v.label.startswith("float")],
            ),
            "y": (("y",), labels(3)[4:]),
            "num_samples": (("num_samples",), counts(huge=None, none_valid=True)),
            "batch_size": (("batch_size",), counts(huge=None)),
        },
    )
)


# ----------------------------------------------------------------------------- data

WORKDIR = Path(tempfile.mkdtemp(prefix="bpkit-fuzz-"))


def _idx(array, code=8):
    shape = struct.pack(f">{array.ndim}I", *array.shape)
    return bytes([0, 0, code, array.ndim]) + shape + array.astype(">u1").tobytes()


def _file(name, content):
    path = WORKDIR / name
    path.write_bytes(content)
    return path


def _gzip_bomb(header):
    path = WORKDIR / "bomb.gz"
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(header)
        zeros = bytes(1 << 20)
        for _ in range(16):
            f.write(zeros)
    return path


def _idx_variants():
    good = _idx(np.arange(48, dtype=np.uint8).reshape(3, 4, 4))
    huge = bytes([0, 0, 8, 4]) + struct.pack(">4I", *(2**32 - 1,) * 4)
    return [
        Variant("gzip", lambda p, k: _file("good.gz", gzip.compress(p.read_bytes())), SAME),
        Variant("str path", lambda p, k: str(p), SAME),
        Variant("truncated", lambda p, k: _file("cut", good[:-1]), ERROR),
        Variant("trailing byte", lambda p, k: _file("long", good + b"\0"), ERROR),
        Variant("empty", lambda p, k: _file("empty", b""), ERROR),
        Variant("wrong magic", lambda p, k: _file("magic", b"\1\2" + good[2:]), ERROR),
        Variant("type code", lambda p, k: _file("code", b"\0\0\7" + good[3:]), ERROR),
        Variant("0 dimensions", lambda p, k: _file("ndim0", b"\0\0\x08\0"), ERROR),
        Variant("huge dimensions", lambda p, k: _file("huge", huge), ERROR),
        Variant("huge dims gzip", lambda p, k: _file("huge.gz", gzip.compress(huge)), ERROR),
        Variant("gzip bomb", lambda p, k: _gzip_bomb(good), ERROR),
        Variant(
            "gzip bomb, header 2**30",
            lambda p, k: _gzip_bomb(bytes([0, 0, 8, 1]) + struct.pack(">I", 2**30 - 1)),
            ERROR,
        ),
        Variant("corrupt gzip", lambda p, k: _file("bad.gz", gzip.compress(good)[:-12]), ERROR),
        Variant("None", lambda p, k: None, ERROR),
        Variant("int", lambda p, k: 3, ERROR),
        Variant("missing", lambda p, k: WORKDIR / "no-such-file", ERROR, errors=(OSError,)),
    ]


def _batch_bytes(data, labels_, protocol=2):
    return pickle.dumps({b"data": data, b"labels": labels_}, protocol=protocol)


class _Boom:
    def __reduce__(self):
        return (print, ("a pickle ran code",))


def _cifar_variants():
    data = np.arange(4 * 3072, dtype=np.uint8).reshape(4, 3072)
    labels_ = [0, 1, 2, 3]
    memo = b"\x80\x02]r" + struct.pack("<I", 2**32 - 1) + b"."
    bytes8 = b"\x80\x04\x8e" + struct.pack("<Q", 2**40) + b"abc."
    ndarray_call = b"\x80\x02cnumpy\nndarray\nJ\x00\x00\x00\x40\x85\x85R."
    return [
        Variant("protocol 4", lambda p, k: _file("p4", _batch_bytes(data, labels_, 4)), SAME),
        Variant(
            "numpy labels", lambda p, k: _file("nl", _batch_bytes(data, np.array(labels_))), SAME
        ),
        Variant("garbage", lambda p, k: _file("garbage", b"\0\1 not a pickle"), ERROR),
        Variant("empty", lambda p, k: _file("empty", b""), ERROR),
        Variant("truncated", lambda p, k: _file("cut", p.read_bytes()[:-40]), ERROR),
        Variant("a list", lambda p, k: _file("list", pickle.dumps([1, 2])), ERROR),
        Variant("no labels", lambda p, k: _file("nolab", pickle.dumps({b"data": data})), ERROR),
        Variant("float data", lambda p, k: _file("fd", _batch_bytes(data * 1.0, labels_)), ERROR),
        Variant("label 10", lambda p, k: _file("l10", _batch_bytes(data, [0, 1, 2, 10])), ERROR),
        Variant(
            "ragged labels", lambda p, k: _file("rl", _batch_bytes(data, [[0], [1, 2]])), ERROR
        ),
        Variant("labels None", lambda p, k: _file("ln", _batch_bytes(data, None)), ERROR),
        Variant("runs code", lambda p, k: _file("boom", pickle.dumps({b"data": _Boom()})), ERROR),
        Variant("huge bytes8", lambda p, k: _file("b8", bytes8), ERROR),
        Variant("huge memo index", lambda p, k: _file("memo", memo), ERROR),
        Variant("ndarray call", lambda p, k: _file("nd", ndarray_call), ERROR),
        Variant(
            "deep nesting", lambda p, k: _file("deep", b"\x80\x02" + b"]" * 200000 + b"."), ERROR
        ),
        Variant("None", lambda p, k: None, ERROR),
        Variant("missing", lambda p, k: WORKDIR / "nothing", ERROR, errors=(OSError,)),
    ]


def _idx_make(rng):
    return {"path": _file("good", _idx(np.arange(48, dtype=np.uint8).reshape(3, 4, 4)))}


def _cifar_make(rng):
    data = np.arange(4 * 3072, dtype=np.uint8).reshape(4, 3072)
    return {"path": _file("batch", _batch_bytes(data, [0, 1, 2, 3]))}


def _mnist_root(rng):
    root = WORKDIR / "mnist"
    root.mkdir(exist_ok=True)
    for prefix, n in (("train", 12), ("t10k", 4)):
        images = np.arange(n * 784, dtype=np.uint8).reshape(n, 28, 28)
        (root / f"{prefix}-images-idx3-ubyte").write_bytes(_idx(images))
        (root / f"{prefix}-labels-idx1-ubyte").write_bytes(_idx(np.arange(n, dtype=np.uint8) % 10))
    return {
        "root": root,
        "num_train": 5,
        "num_val": 3,
        "num_test": None,
        "dtype": np.float64,
        "center": True,
        "flat": False,
    }


def _cifar_root(rng):
    root = WORKDIR / "cifar"
    root.mkdir(exist_ok=True)
    data = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    for name in (*cifar10.TRAIN_BATCHES, cifar10.TEST_BATCH):
        (root / name).write_bytes(_batch_bytes(data, [3, 4]))
    return {
        "root": root,
        "num_train": 5,
        "num_val": 3,
        "num_test": None,
        "dtype": np.float32,
        "center": True,
        "flat": True,
    }


DTYPES = [
    Variant("str", lambda d, k: np.dtype(d).name, SAME),
    Variant("int", lambda d, k: np.int64, ERROR),
    Variant("complex", lambda d, k: np.complex64, ERROR),
    Variant("nonsense", lambda d, k: "floaty", ERROR),
    Variant("number", lambda d, k: 2.5, ERROR),
]
ROOT = [
    Variant("str", lambda r, k: str(r), SAME),
    Variant("None", lambda r, k: None, ERROR),
    Variant("int", lambda r, k: 7, ERROR),
    Variant("missing", lambda r, k: r / "nothing", ERROR, errors=(OSError,)),
]
LOADER_ARGS = {
    "root": (("root", "MNIST", "CIFAR-10"), ROOT),
    "num_train": (("num_train",), counts(low=0, huge=10**9, none_valid=True)),
    "num_val": (("num_val",), counts(low=0, huge=10**9)),
    "num_test": (("num_test",), counts(low=0, huge=10**9, none_valid=True, base=2)),
    "dtype": (("dtype",), DTYPES),
    "center": (("center",), flags()),
    "flat": (("flat",), flags()),
}

DATA_TARGETS = [
    Target(
        "load_digits",
        load_digits,
        lambda rng: {"flat": False, "dtype": np.float64, "center": True},
        {
            "flat": (("flat",), flags()),
            "dtype": (("dtype",), DTYPES),
            "center": (("center",), flags()),
        },
    ),
    Target("read_idx", read_idx, _idx_make, {"path": (("path", str(WORKDIR)), _idx_variants())}),
    Target(
        "load_batch",
        cifar10.load_batch,
        _cifar_make,
        {"path": (("path", str(WORKDIR)), _cifar_variants())},
    ),
    Target("load_mnist", load_mnist, _mnist_root, LOADER_ARGS),
    Target("load_cifar10", load_cifar10, _cifar_root, LOADER_ARGS),
    Target(
        "sha256sum",
        sha256sum,
        _idx_make,
        {"path": (("path", str(WORKDIR)), [v for v in ROOT if v.label != "str"])},
    ),
    Target(
        "download",
        lambda **k: download(**k).read_bytes(),
        lambda rng: {
            "url": _idx_make(rng)["path"].as_uri(),
            "dest": WORKDIR / "fetched",
            "sha256": sha256sum(_idx_make(rng)["path"]),
            "progress": False,
            "timeout": 5.0,
        },
        {
            "url": (
                ("url",),
                [Variant("None", lambda u, k: None, ERROR), Variant("int", lambda u, k: 3, ERROR)],
            ),
            "dest": (
                ("dest",),
                [
                    Variant("None", lambda u, k: None, ERROR),
                    Variant("str", lambda u, k: str(u), SAME),
                ],
            ),
            "sha256": (
                ("sha256",),
                [
                    Variant("upper case", lambda s, k: s.upper(), SAME),
                    Variant("short", lambda s, k: s[:10], ERROR),
                    Variant("None", lambda s, k: None, ERROR),
                    Variant("not hex", lambda s, k: "z" * 64, ERROR),
                ],
            ),
            "progress": (("progress",), flags()[1:]),
            "timeout": (("timeout",), reals(low_bad=(0.0, -1.0))),
        },
    ),
]

TARGETS = (
    LAYER_TARGETS
    + SANDWICH_TARGETS
    + OPTIM_TARGETS
    + GRADCHECK_TARGETS
    + MODEL_TARGETS
    + LOSS_TARGETS
    + SOLVER_TARGETS
    + DATA_TARGETS
)


# ----------------------------------------------------------------------------- checking


def equal(got, want, tol=0.0) -> bool:
    """Whether two answers agree: same structure, shapes, and values within ``tol``."""
    if isinstance(want, dict):
        # A dict that came in with an extra key (a config, a conv_param) may return with it.
        return (
            isinstance(got, dict)
            and got.keys() >= want.keys()
            and all(equal(got[k], want[k], tol) for k in want)
        )
    if isinstance(want, (tuple, list)):
        return (
            isinstance(got, (tuple, list))
            and len(got) == len(want)
            and all(equal(g, w, tol) for g, w in zip(got, want, strict=True))
        )
    if isinstance(want, (np.ndarray, float, int, np.number)):
        if not isinstance(got, (np.ndarray, float, int, np.number)) or np.shape(got) != np.shape(
            want
        ):
            return False
        g, w = np.asarray(got, np.float64), np.asarray(want, np.float64)
        scale = max(1.0, float(np.max(np.abs(w[np.isfinite(w)]), initial=0)))
        return bool(np.allclose(g, w, rtol=tol, atol=tol * scale, equal_nan=True))
    return got == want


def structure(got, want) -> bool:
    """Whether an answer has the shapes of the valid input's answer (for NaN inputs)."""
    if isinstance(want, dict):
        return (
            isinstance(got, dict)
            and got.keys() == want.keys()
            and all(structure(got[k], want[k]) for k in want)
        )
    if isinstance(want, (tuple, list)):
        return (
            isinstance(got, (tuple, list))
            and len(got) == len(want)
            and all(structure(g, w) for g, w in zip(got, want, strict=True))
        )
    return np.shape(got) == np.shape(want)


def same_kind(a, b, tol) -> bool:
    """A fast layer's answer against its naive twin's: same shapes and dtypes, close values."""
    if isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(same_kind(x, y, tol) for x, y in zip(a, b, strict=True))
    if isinstance(b, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and equal(a, b, tol)
    return equal(a, b, tol)


def snapshot(value):
    if isinstance(value, np.ndarray):
        return ("array", value.dtype, value.shape, value.tobytes())
    if isinstance(value, dict):
        return ("dict", {k: snapshot(v) for k, v in value.items()})
    if isinstance(value, (tuple, list)):
        return (type(value), [snapshot(v) for v in value])
    if isinstance(value, (TwoLayerNet, ThreeLayerConvNet)):
        return snapshot(value.params)
    return ("other", repr(value))


def names_argument(message: str, names, os_error=False) -> bool:
    """Whether the message names one of ``names`` as a word and says what was expected.

    An error of the operating system (a missing file) names the path but not what was
    expected; the file's name is enough there.
    """
    named = any(
        re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9])", message) for n in names
    )
    return named and (os_error or "expected" in message)


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang


def _twin_tol(args) -> float:
    dtypes = [a.dtype for a in args.values() if isinstance(a, np.ndarray)]
    if any(d == np.float16 for d in dtypes):
        return 5e-2
    return 1e-3 if any(d == np.float32 for d in dtypes) else 1e-9


def run(target: Target, arg: str, variant: Variant, seed: int, want) -> tuple[str, str]:
    """Call ``target`` with ``arg`` replaced by ``variant``; return (outcome, detail).

    ``want`` is the answer for the valid arguments.
    """
    args = target.make(np.random.default_rng(seed))
    args[arg] = variant.make(args[arg], args)
    before = {k: snapshot(v) for k, v in args.items()}
    names = target.variants[arg][0]
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
    try:
        got = target.fn(**args)
        error = None
    except Hang:
        return "hang", f"over {TIME_LIMIT} s"
    except Exception as exc:  # noqa: BLE001 - classifying every failure is the point
        got, error = None, exc
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    may_change = target.mutates if error is None else ()
    changed = [k for k, v in args.items() if k not in may_change and snapshot(v) != before[k]]
    if changed:
        return "input modified", f"{changed} changed"
    if error is not None:
        text = f"{type(error).__name__}: {error}"[:300]
        if not isinstance(error, variant.errors):
            return "internal numpy/Python error", text
        if not names_argument(str(error), names, os_error=isinstance(error, OSError)):
            return "error that does not name the argument", text
        if variant.expect not in (ERROR, NONFINITE):
            return "valid input refused", text
        return "clear error naming the argument", text
    if variant.expect == ERROR:
        return "bad input accepted", "returned"
    ok = structure(got, want) if variant.expect == NONFINITE else equal(got, want, variant.tol)
    if not ok:
        return "silent wrong answer", "differs from the valid input's answer"
    if target.twin is not None:
        twin_args = target.make(np.random.default_rng(seed))
        twin_args[arg] = variant.make(twin_args[arg], twin_args)
        try:
            twin = target.twin(**twin_args)
        except (TypeError, ValueError) as exc:
            return "silent wrong answer", f"the naive twin raises {exc}"
        if not same_kind(got, twin, _twin_tol(twin_args)):
            return "silent wrong answer", "fast and naive answers differ in shape, dtype or value"
    return "correct answer", ""


def check_twin_errors(target, arg, variant, seed, outcome):
    """A fast layer must refuse exactly what its naive twin refuses, with the same type."""
    if target.twin is None or outcome != "clear error naming the argument":
        return None
    args = target.make(np.random.default_rng(seed))
    args[arg] = variant.make(args[arg], args)
    try:
        target.twin(**args)
    except (TypeError, ValueError):
        return None
    return "the naive twin accepts what the fast layer refuses"


def run_all(target, arg, seed, record):
    want = target.fn(**target.make(np.random.default_rng(seed)))
    for variant in target.variants[arg][1]:
        outcome, detail = run(target, arg, variant, seed, want)
        twin = check_twin_errors(target, arg, variant, seed, outcome)
        if twin:
            outcome, detail = "silent wrong answer", twin
        record(outcome, f"{target.name}({arg} = {variant.label}) seed {seed}: {detail}")


CASES = [(t, a) for t in TARGETS for a in t.variants]


def _strict(outcome, description):
    assert outcome in GOOD, f"{outcome}: {description}"


# NaN and infinity inputs make numpy warn; the answer is what is checked.
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(seed=st.integers(0, 2**32 - 1))
@pytest.mark.parametrize(("target", "arg"), CASES, ids=[f"{t.name}-{a}" for t, a in CASES])
def test_every_call_gives_a_named_error_or_the_right_answer(target, arg, seed):
    run_all(target, arg, seed, _strict)


def test_every_public_function_is_fuzzed():
    """Each (function, argument) pair has variants, at least one of them to be refused."""
    assert all(ERROR in {v.expect for v in t.variants[a][1]} for t, a in CASES)
    assert all(len(t.variants[a][1]) >= 2 for t, a in CASES)
    assert {t.name for t in TARGETS} >= {
        "affine_backward",
        "conv_backward_fast",
        "adam",
        "grad_check_sparse",
        "Solver.train",
        "load_cifar10",
        "read_idx",
    }


def long_run(examples: int) -> int:
    counts_ = collections.Counter()
    bad = []

    def record(outcome, description):
        counts_[outcome] += 1
        if outcome not in GOOD:
            bad.append(f"{outcome}: {description}")

    # Every (function, argument) pair once, then random ones: coverage first.
    rng = np.random.default_rng(20260)
    plan = [(c, int(rng.integers(2**32))) for c in CASES]
    plan += [
        (CASES[int(rng.integers(len(CASES)))], int(rng.integers(2**32)))
        for _ in range(max(0, examples - len(CASES)))
    ]
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for (target, arg), seed in plan:
            run_all(target, arg, seed, record)
    total = sum(counts_.values())
    print(f"{total} calls, {len(plan)} examples, {time.perf_counter() - start:.0f} s\n")
    print("| outcome | count |\n|---|---|")
    for outcome in OUTCOMES:
        print(f"| {outcome} | {counts_[outcome]} |")
    for line in bad[:50]:
        print(line)
    return 1 if bad else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1500)
    sys.exit(long_run(parser.parse_args().examples))
