"""The public tests (``tests/exercises``, shipped to students) agree with the grader.

- They never hand a module-level array to student code, nor a view of one: a function that
  writes into its inputs would otherwise change what a later test expects (a
  ``relu_backward`` that wrote into ``dout`` once passed every public test this way).
- For each class of mistake that the grader docks -- in-place writes, shapes, dtypes, the
  edge geometries -- a public test fails, and its message names the same cause as the
  grader's. Each case runs the public tests of one exercise on the reference modules with
  one function replaced by a mistaken one.
"""

from __future__ import annotations

import ast
import importlib.util
import itertools
import types
from pathlib import Path

import numpy as np
import pytest

from bpkit import layers as ref_layers
from bpkit import models as ref_models
from bpkit import optim as ref_optim
from bpkit.assignments.student import diagnose

PUBLIC = Path(__file__).resolve().parents[1] / "exercises"
STUDENT_MODULES = {"layers", "optim", "models", "model"}
VIEWS = {"reshape", "ravel", "view", "T", "transpose", "squeeze", "swapaxes"}


def _module_arrays(tree: ast.Module) -> set[str]:
    """Module-level names bound to a numpy expression (``X = np.array(...)`` and the like)."""
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and "np." in ast.unparse(node.value):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _shared(arg: ast.expr, arrays: set[str]) -> str | None:
    """The module-level array ``arg`` hands over as it is or as a view, else None."""
    node = arg
    while True:
        if isinstance(node, ast.Name):
            return node.id if node.id in arrays else None
        if isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Attribute) and node.attr in VIEWS:
            node = node.value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in VIEWS
        ):
            node = node.func.value
        else:
            return None


def _calls_into_student_code(tree: ast.Module):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name) and owner.id in STUDENT_MODULES:
                yield node


@pytest.mark.parametrize("path", sorted(PUBLIC.glob("test_*.py")), ids=lambda p: p.name)
def test_public_tests_hand_student_code_only_fresh_arrays(path):
    tree = ast.parse(path.read_text())
    arrays = _module_arrays(tree)
    shared = [
        f"line {call.lineno}: {ast.unparse(call)[:80]} gets {name}"
        for call in _calls_into_student_code(tree)
        for arg in [*call.args, *(k.value for k in call.keywords)]
        if (name := _shared(arg, arrays))
    ]
    assert not shared, f"{path.name} hands module-level arrays to student code: {shared}"


def test_the_scan_sees_a_shared_array(tmp_path):
    code = "X = np.ones(3)\n\ndef test_a(layers):\n    layers.relu_forward(X.reshape(1, 3))\n"
    tree = ast.parse(code)
    assert [_shared(c.args[0], _module_arrays(tree)) for c in _calls_into_student_code(tree)] == [
        "X"
    ]


# ------------------------------------------------------------------ running the public tests


def _load(exercise: str) -> types.ModuleType:
    path = PUBLIC / f"test_{exercise}.py"
    spec = importlib.util.spec_from_file_location(f"public_{exercise}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _param_sets(func) -> list[dict]:
    sets = [{}]
    for mark in getattr(func, "pytestmark", []):
        if mark.name != "parametrize":
            continue
        names = mark.args[0]
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        rows = [row if len(names) > 1 else (row,) for row in mark.args[1]]
        sets = [
            {**s, **dict(zip(names, row, strict=True))} for s, row in itertools.product(sets, rows)
        ]
    return sets


def run_public_tests(exercise: str, **fixtures) -> dict[str, str]:
    """{test name: failure message} of the exercise's public tests that fail."""
    module = _load(exercise)
    failures = {}
    for name, func in vars(module).items():
        if not name.startswith("test_") or not callable(func):
            continue
        for params in _param_sets(func):
            given = {"rng": np.random.default_rng(231), **fixtures, **params}
            code = getattr(func, "hypothesis", None)
            inner = code.inner_test if code is not None else func
            wanted = inner.__code__.co_varnames[: inner.__code__.co_argcount]
            kwargs = {k: v for k, v in given.items() if k in wanted}
            try:
                with np.errstate(all="ignore"):
                    func(**kwargs)
            except (AssertionError, Exception) as exc:  # noqa: BLE001  (a mistake may raise)
                failures.setdefault(name, f"{type(exc).__name__}: {exc}")
    return failures


def _with(module, **replaced) -> types.SimpleNamespace:
    return types.SimpleNamespace(**{**vars(module), **replaced})


# Mistaken functions, each with the one bug it is named after.
def _relu_backward_into_dout(dout, cache):
    dout[cache <= 0] = 0
    return dout


def _relu_forward_into_x(x):
    cache = x.copy()
    np.maximum(x, 0, out=x)
    return x, cache


def _relu_forward_nan_at_zero(x):
    return np.maximum(x, 0) / x * x, x


def _relu_backward_mask_at_zero(dout, cache):
    return dout * (cache >= 0)


def _affine_db_keepdims(dout, cache):
    dx, dw, db = ref_layers.affine_backward(dout, cache)
    return dx, dw, db[None, :]


def _affine_forward_float64(x, w, b):
    return ref_layers.affine_forward(x.astype(np.float64), w.astype(np.float64), b.astype(float))


def _conv_backward_empty_unpad(dout, cache):
    dx, dw, db = ref_layers.conv_backward_naive(dout, cache)
    pad = cache[3]["pad"]
    dx_pad = np.pad(dx, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    return dx_pad[:, :, pad:-pad, pad:-pad], dw, db


def _conv_forward_width_from_hh(x, w, b, conv_param):
    s, p = conv_param["stride"], conv_param["pad"]
    n, _, h, wd = x.shape
    f, _, hh, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    ww = hh  # the bug: the filter's height used for its width
    out = np.zeros((n, f, 1 + (h + 2 * p - hh) // s, 1 + (wd + 2 * p - ww) // s))
    for i, j in np.ndindex(*out.shape[2:]):
        window = xp[:, None, :, i * s : i * s + hh, j * s : j * s + ww]
        out[:, :, i, j] = np.sum(window * w[None, :, :, :, :ww], axis=(2, 3, 4)) + b
    return out, (x, w, b, conv_param)


def _pool_width_from_height(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    n, c, h, w = x.shape
    out = np.zeros((n, c, 1 + (h - ph) // s, 1 + (w - ph) // s), dtype=x.dtype)
    for i, j in np.ndindex(*out.shape[2:]):
        out[:, :, i, j] = x[:, :, i * s : i * s + ph, j * s : j * s + pw].max(axis=(2, 3))
    return out, (x, pool_param)


def _softmax_without_shift(x, y):
    e = np.exp(x)
    p = e / e.sum(axis=1, keepdims=True)
    n = x.shape[0]
    dx = p.copy()
    dx[np.arange(n), y] -= 1
    return -np.mean(np.log(p[np.arange(n), y])), dx / n


def _rmsprop_epsilon_inside(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    rate = config["decay_rate"]
    config["cache"] = rate * config["cache"] + (1 - rate) * dw**2
    step = config["learning_rate"] * dw / np.sqrt(config["cache"] + config["epsilon"])
    return w - step, config


def _adam_epsilon_inside(w, dw, config=None):
    config = {} if config is None else config
    for key, value in {
        "learning_rate": 1e-3,
        "beta1": 0.9,
        "beta2": 0.999,
        "epsilon": 1e-8,
    }.items():
        config.setdefault(key, value)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)
    b1, b2 = config["beta1"], config["beta2"]
    config["t"] += 1
    config["m"] = b1 * config["m"] + (1 - b1) * dw
    config["v"] = b2 * config["v"] + (1 - b2) * dw**2
    m_hat = config["m"] / (1 - b1 ** config["t"])
    v_hat = config["v"] / (1 - b2 ** config["t"])
    step = config["learning_rate"] * m_hat / np.sqrt(v_hat + config["epsilon"])
    return w - step, config


class _NetWithoutHalf(ref_models.TwoLayerNet):
    def loss(self, X, y=None):
        out = super().loss(X, y)
        if y is None:
            return out
        loss, grads = out
        w = self.params
        return loss + 0.5 * self.reg * (np.sum(w["W1"] ** 2) + np.sum(w["W2"] ** 2)), grads


class _InlineNet(ref_models.TwoLayerNet):
    """A two-layer net in plain numpy, with switches for three classic mistakes."""

    shift, probabilities, divide = True, False, True

    def loss(self, X, y=None):
        p = self.params
        flat = X.reshape(len(X), -1)
        pre = flat @ p["W1"] + p["b1"]
        hidden = np.maximum(pre, 0)
        scores = hidden @ p["W2"] + p["b2"]
        e = np.exp(scores - scores.max(axis=1, keepdims=True) if self.shift else scores)
        probs = e / e.sum(axis=1, keepdims=True)
        if y is None:
            return probs if self.probabilities else scores
        n = len(X)
        loss = -np.mean(np.log(probs[np.arange(n), y]))
        loss += 0.5 * self.reg * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
        d = probs.copy()
        d[np.arange(n), y] -= 1
        d = d / n if self.divide else d
        dh = (d @ p["W2"].T) * (pre > 0)
        grads = {"W2": hidden.T @ d + self.reg * p["W2"], "b2": d.sum(axis=0)}
        grads.update(W1=flat.T @ dh + self.reg * p["W1"], b1=dh.sum(axis=0))
        return loss, grads


def _inline(**switches) -> type:
    return type("Net", (_InlineNet,), switches)


# name: (exercise, fixture name, module with the mistake, test that must fail, words)
MISTAKES = {
    "relu_backward writes into dout": (
        "relu",
        _with(ref_layers, relu_backward=_relu_backward_into_dout),
        "test_inputs_are_not_modified",
        "relu_backward modified its input dout in place",
    ),
    "relu_forward writes into x": (
        "relu",
        _with(ref_layers, relu_forward=_relu_forward_into_x),
        "test_inputs_are_not_modified",
        "relu_forward modified its input x in place",
    ),
    "relu_forward divides by x": (
        "relu",
        _with(ref_layers, relu_forward=_relu_forward_nan_at_zero),
        "test_forward_hand_example",
        diagnose.RELU_DIVIDES_BY_X,
    ),
    "relu_backward masks x >= 0": (
        "relu",
        _with(ref_layers, relu_backward=_relu_backward_mask_at_zero),
        "test_backward_hand_example",
        diagnose.RELU_MASK_AT_ZERO,
    ),
    "affine db of shape (1, M)": (
        "affine",
        _with(ref_layers, affine_backward=_affine_db_keepdims),
        "test_backward_matches_numerical_gradient",
        diagnose.AFFINE_DB_KEEPDIMS,
    ),
    "affine float64 out of float32 in": (
        "affine",
        _with(ref_layers, affine_forward=_affine_forward_float64),
        "test_dtype_is_preserved",
        "expected dtype float32 like the input, got float64",
    ),
    "softmax without the max shift": (
        "softmax_loss",
        _with(ref_layers, softmax_loss=_softmax_without_shift),
        "test_stable_for_large_scores",
        "subtract each row's maximum",
    ),
    "conv backward unpads with pad:-pad": (
        "conv_backward",
        _with(ref_layers, conv_backward_naive=_conv_backward_empty_unpad),
        "test_hand_example",
        diagnose.CONV_PAD_SLICE,
    ),
    "conv forward takes the filter width from its height": (
        "conv_forward",
        _with(ref_layers, conv_forward_naive=_conv_forward_width_from_hh),
        "test_hand_example_non_square_image_and_filter",
        diagnose.CONV_HW_SWAPPED,
    ),
    "max pool output width from pool_height": (
        "max_pool",
        _with(ref_layers, max_pool_forward_naive=_pool_width_from_height),
        "test_forward_hand_examples",
        diagnose.POOL_WIDTH_FROM_HEIGHT,
    ),
    "rmsprop epsilon inside the square root": (
        "rmsprop",
        _with(ref_optim, rmsprop=_rmsprop_epsilon_inside),
        "test_tiny_gradient_shows_where_epsilon_goes",
        diagnose.EPS_IN_SQRT,
    ),
    "adam epsilon inside the square root": (
        "adam",
        _with(ref_optim, adam=_adam_epsilon_inside),
        "test_tiny_gradient_shows_where_epsilon_goes",
        diagnose.EPS_IN_SQRT,
    ),
    "two-layer softmax without the max shift": (
        "two_layer_net",
        _with(ref_models, TwoLayerNet=_inline(shift=False)),
        "test_large_scores_give_a_finite_loss",
        diagnose.SOFTMAX_NO_SHIFT,
    ),
    "two-layer scores path returns probabilities": (
        "two_layer_net",
        _with(ref_models, TwoLayerNet=_inline(probabilities=True)),
        "test_scores_by_hand",
        "must return the raw scores, not softmax probabilities",
    ),
    "two-layer gradient not divided by N": (
        "two_layer_net",
        _with(ref_models, TwoLayerNet=_inline(divide=False)),
        "test_gradients_match_numerical_gradients",
        "the gradient of the scores is not divided by N",
    ),
    "two-layer L2 term without 0.5": (
        "two_layer_net",
        _with(ref_models, TwoLayerNet=_NetWithoutHalf),
        "test_l2_term_on_first_layer_by_hand",
        diagnose.L2_WITHOUT_HALF,
    ),
}
FIXTURE = {"relu": "layers", "rmsprop": "optim", "adam": "optim", "two_layer_net": "models"}


@pytest.mark.parametrize(
    "exercise", ["relu", "affine", "conv_backward", "max_pool", "adam", "two_layer_net"]
)
def test_the_reference_passes_every_public_test_run_this_way(exercise):
    fixtures = {"layers": ref_layers, "optim": ref_optim, "models": ref_models}
    assert run_public_tests(exercise, **fixtures) == {}
    tests = [f for name, f in vars(_load(exercise)).items() if name.startswith("test_")]
    assert sum(len(_param_sets(f)) for f in tests) >= 6


@pytest.mark.parametrize("case", list(MISTAKES))
def test_a_public_test_names_each_mistake_the_grader_docks(case):
    exercise, module, test, words = MISTAKES[case]
    failures = run_public_tests(exercise, **{FIXTURE.get(exercise, "layers"): module})
    assert test in failures, (case, sorted(failures))
    assert words in failures[test], (case, failures[test])


def test_relu_backward_writing_into_dout_fails_only_the_in_place_test_and_blames_itself():
    failures = run_public_tests(
        "relu", layers=_with(ref_layers, relu_backward=_relu_backward_into_dout)
    )
    assert sorted(failures) == ["test_inputs_are_not_modified"], failures
    assert "relu_backward modified its input dout" in failures["test_inputs_are_not_modified"]
    forward = run_public_tests("relu", layers=_with(ref_layers, relu_forward=_relu_forward_into_x))
    assert "relu_backward" not in forward.get("test_inputs_are_not_modified", "relu_backward")


def test_the_inline_net_without_its_mistakes_passes_every_two_layer_test():
    models = _with(ref_models, TwoLayerNet=_InlineNet)
    assert run_public_tests("two_layer_net", models=models) == {}
