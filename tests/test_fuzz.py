"""Fuzz every public function with bad and edge inputs: a named error or the right answer.

For a small valid problem per target, one argument at a time is replaced by each of its
variants (other ranks and dtypes, lists, NaN and infinity, empty batches, views, read-only
and big-endian copies, dicts with missing, extra, wrong-typed or huge values, caches with
wrong arity or entries, damaged and hostile files). Every call must end in one of two ways:

* it returns, and the answer equals the answer for the equivalent valid input (exactly
  for a view or a copy, within the precision of the dtype for float32 and float16); an
  input holding NaN may instead give an answer of the right shapes and dtypes;
* it raises ``TypeError`` or ``ValueError`` whose message names the argument, or the
  cache entry, and says what was expected (for a missing file, the operating system's
  ``OSError``, which names the path).

It must also leave its inputs unchanged and finish within ``TIME_LIMIT`` seconds, and a
fast layer must give what its naive twin gives: the same error type, or answers of the
same shapes and dtypes. In CI every (function, argument) pair runs all of its variants
on ``EXAMPLES`` derandomized problems (about 1,800 calls in all). A longer run draws
random problems and pairs, counts the outcomes instead of stopping at the first bad one,
and prints them as a table (1,500 examples make about 20,000 calls):

    python tests/test_fuzz.py --examples 1500 [--seed N]
"""

from __future__ import annotations

import argparse
import shutil
import sys

import numpy as np
import pytest
from fuzz_files import DATA_TARGETS, WORKDIR
from fuzzing import (
    ERROR,
    GOOD,
    LOOSE,
    NONFINITE,
    SAME,
    Target,
    Variant,
    counts,
    flags,
    floats,
    labels,
    long_run,
    read_only,
    reals,
    relu_cache,
    run_all,
    sandwich_cache,
    strided,
    tuple_cache,
    window_params,
    with_key,
    with_value,
    without_key,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpkit import _scratch, fast_layers, gradcheck, layer_utils, layers, optim
from bpkit.models import ThreeLayerConvNet, TwoLayerNet
from bpkit.solver import Solver

EXAMPLES = 1  # per (function, argument) pair

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
        {
            "dout": DOUT,
            "cache": (("cache",), tuple_cache(("x", "w", "b"), (0, 1, 2), any_rank=(0,))),
        },
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
        Variant("extra key", lambda c, k: with_key(c, "note", "kept"), SAME),
        Variant("list", lambda c, k: list(c.items()), ERROR),
        Variant("str", lambda c, k: "learning_rate=0.1", ERROR),
    ]
    for key in hyper:
        if key == "t":
            for r in counts(low=0, huge=None):
                v.append(
                    Variant(
                        f"t {r.label}",
                        lambda c, k, r=r: with_key(c, "t", r.make(c["t"], k)),
                        r.expect,
                    )
                )
            continue
        low_bad = (-1.0,) if key != "epsilon" else (0.0, -1e-8)
        for r in reals(low_bad, HIGH_BAD.get(key, ())):
            v.append(
                Variant(
                    f"{key} {r.label}",
                    lambda c, k, q=key, r=r: with_key(c, q, r.make(c[q], k)),
                    r.expect,
                )
            )
    for key in state:
        v += [
            Variant(
                f"{key} one shorter", lambda c, k, q=key: with_key(c, q, c[q][..., :-1]), ERROR
            ),
            Variant(f"{key} int", lambda c, k, q=key: with_key(c, q, c[q].astype(int)), ERROR),
            Variant(f"{key} list", lambda c, k, q=key: with_key(c, q, c[q].tolist()), ERROR),
            Variant(f"{key} None", lambda c, k, q=key: with_key(c, q, None), ERROR),
            Variant(f"{key} read-only", lambda c, k, q=key: with_key(c, q, read_only(c[q])), SAME),
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
        "strided view": Variant("strided view", lambda a, k: strided(a), SAME, 1e-6),
        "big-endian": Variant("big-endian", lambda a, k: a.astype(">f8"), SAME, 1e-6),
        "read-only": Variant("read-only", lambda a, k: read_only(a), ERROR),
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


def _whole_batch(args):
    return {**args, "batch_size": len(args["data"]["X_train"])}


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
        Variant("no y_val", lambda d, k: without_key(d, "y_val"), ERROR),
        Variant("extra key", lambda d, k: put(d, "X_test", d["X_val"]), SAME),
        Variant("X_train list", lambda d, k: put(d, "X_train", d["X_train"].tolist()), ERROR),
        Variant("X_train empty", lambda d, k: put(d, "X_train", d["X_train"][:0]), ERROR),
        Variant("X_train 0-d", lambda d, k: put(d, "X_train", np.array(1.0)), ERROR),
        Variant("X_train int", lambda d, k: put(d, "X_train", d["X_train"].astype(int)), ERROR),
        Variant(
            "X_train NaN", lambda d, k: put(d, "X_train", with_value(d["X_train"], np.nan)), ERROR
        ),
        Variant("X_train wrong D", lambda d, k: put(d, "X_train", d["X_train"][:, :-1]), ERROR),
        Variant("y_train float", lambda d, k: put(d, "y_train", d["y_train"] * 1.0), ERROR),
        Variant("y_train short", lambda d, k: put(d, "y_train", d["y_train"][:-1]), ERROR),
        Variant("y_train list", lambda d, k: put(d, "y_train", d["y_train"].tolist()), ERROR),
        Variant("y_val 2-d", lambda d, k: put(d, "y_val", d["y_val"][:, None]), ERROR),
        Variant("y_val label 3", lambda d, k: put(d, "y_val", d["y_val"] * 0 + 3), ERROR),
        Variant("X_val empty", lambda d, k: put(d, "X_val", d["X_val"][:0]), ERROR),
        Variant("X_train read-only", lambda d, k: put(d, "X_train", read_only(d["X_train"])), SAME),
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
            "batch_size": (
                ("batch_size",),
                counts(huge=None)
                + [Variant("10**7", lambda b, k: 10**7, SAME, same_as=_whole_batch)],
            ),
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


CASES = [(t, a) for t in TARGETS for a in t.variants]


@pytest.fixture(scope="module", autouse=True)
def _remove_files_at_the_end():
    # atexit alone misses pytest-xdist's workers, which end without running it.
    yield
    shutil.rmtree(WORKDIR, ignore_errors=True)


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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=20260, help="draws the pairs and problems")
    options = parser.parse_args()
    sys.exit(long_run(CASES, options.examples, options.seed))
