"""The hidden checks: every correct way of writing an exercise passes, every known mistake fails.

Each case appends code to an honest (filled) edition's module: a later ``def`` replaces the
reference one at import. Correct variants are written differently from the reference
(loops, einsum, masks, the Adam paper's step form); mistakes are the classic ones. Inputs
come from the fixed seeds in ``SEEDS``, so a run repeats; set ``BPKIT_GRADE_RANDOM_SEEDS=N``
to add N fresh seeds, each named in the test id so a failure can be replayed with --seed.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import warnings

import grading_fixtures as fx
import known_mistakes
import pytest
from local_worker import build_module, grade_local

from bpkit.assignments.grading import one_submission
from bpkit.assignments.grading.checks import CHECKS
from bpkit.assignments.grading.submission import Submission
from bpkit.assignments.student import exercises

LAYERS, OPTIM, MODELS = fx.MODULES[0], fx.MODULES[2], fx.MODULES[1]
SEEDS = [20261126, 7]
SEEDS += [secrets.randbits(63) for _ in range(int(os.environ.get("BPKIT_GRADE_RANDOM_SEEDS", 0)))]


def grade_with(ctx, honest, module: str, code: str, names: list[str], seed: int):
    files = {rel: text.encode() for rel, text in honest.items()}
    files[module] = (honest[module] + "\n\n" + code.strip() + "\n").encode()
    run = dataclasses.replace(ctx, seed=seed, selected=[exercises.get(n) for n in names])
    return one_submission.grade_submission(Submission("variant", files), run).checks


CORRECT = {
    "two-layer net without the layer functions": (
        MODELS,
        ["two_layer_net"],
        """
def _loss(self, X, y=None):
    W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
    flat = X.reshape(X.shape[0], -1)
    pre = flat @ W1 + b1
    hidden = np.maximum(pre, 0)
    scores = hidden @ W2 + b2
    if y is None:
        return scores
    n = X.shape[0]
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(n), y]))
    loss += 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    d = p.copy()
    d[np.arange(n), y] -= 1
    d /= n
    dh = (d @ W2.T) * (pre > 0)
    grads = {"W2": hidden.T @ d + self.reg * W2, "b2": d.sum(axis=0)}
    grads.update(W1=flat.T @ dh + self.reg * W1, b1=dh.sum(axis=0))
    return np.float64(loss), grads


TwoLayerNet.loss = _loss
""",
    ),
    "convnet from the naive layers, not layer_utils": (
        MODELS,
        ["convnet"],
        """
from bpkit.layers import (
    affine_backward as _ab, affine_forward as _af, conv_backward_naive as _cb,
    conv_forward_naive as _cf, max_pool_backward_naive as _pb, max_pool_forward_naive as _pf,
    relu_backward as _rb, relu_forward as _rf, softmax_loss as _sl,
)


def _convnet_loss(self, X, y=None):
    X = X.astype(self.dtype, copy=False)
    W1, b1, W2, b2, W3, b3 = (self.params[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    conv = {"stride": 1, "pad": (W1.shape[2] - 1) // 2}
    pool = {"pool_height": 2, "pool_width": 2, "stride": 2}
    c, c_cache = _cf(X, W1, b1, conv)
    r, r_cache = _rf(c)
    p, p_cache = _pf(r, pool)
    h, h_cache = _af(p, W2, b2)
    hr, hr_cache = _rf(h)
    scores, s_cache = _af(hr, W3, b3)
    if y is None:
        return scores
    loss, ds = _sl(scores, y)
    loss += 0.5 * self.reg * sum(np.sum(w * w) for w in (W1, W2, W3))
    dhr, dW3, db3 = _ab(ds, s_cache)
    dp, dW2, db2 = _ab(_rb(dhr, hr_cache), h_cache)
    _, dW1, db1 = _cb(_rb(_pb(dp, p_cache), r_cache), c_cache)
    grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "W3": dW3, "b3": db3}
    for key, w in (("W1", W1), ("W2", W2), ("W3", W3)):
        grads[key] = grads[key] + self.reg * w
    return loss, grads


ThreeLayerConvNet.loss = _convnet_loss
""",
    ),
}

# The correct variants the in-process suite also grades, here through real workers.
CORRECT.update(
    {
        name: known_mistakes.CORRECT[name]
        for name in (
            "affine, loops and einsum",
            "relu, where and a masked copy",
            "softmax, one row at a time",
            "softmax via normalized probabilities",
            "update rules in place and the Adam paper's step form",
            "conv, six loops forward and einsum backward",
            "max pool backward with a mask",
        )
    }
)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("case", list(CORRECT))
def test_correct_variants_get_every_point(ctx, honest, case, seed):
    module, names, code = CORRECT[case]
    failed = [r for r in grade_with(ctx, honest, module, code, names, seed) if not r.passed]
    assert not failed, (seed, [(r.check.exercise, r.check.name, r.message) for r in failed])


def catalogued(name: str) -> str:
    """The code of a mistake that the known-mistakes catalogue holds too."""
    return known_mistakes.MISTAKES[name][3]


MISTAKES = {
    "sgd steps with w": (OPTIM, "sgd", {"step", "default"}, "stepping with w instead of dw",
        catalogued("sgd steps with w"),
    ),
    "max pool assigns": (
        LAYERS, "max_pool", {"overlap", "pair", "float32"}, "assigning (=) instead of",
        catalogued("max pool backward assigns"),
    ),
    "softmax loss not divided by N": (
        LAYERS, "softmax_loss", {"values", "large", "float32"}, "no / N", """
_reference_softmax = softmax_loss


def softmax_loss(x, y):
    loss, dx = _reference_softmax(x, y)
    return loss * len(y), dx
"""),
    "softmax without the max shift": (LAYERS, "softmax_loss", {"large"}, "NaN or infinite",
        catalogued("softmax without the max shift"),
    ),
    "softmax shifts x in place": (LAYERS, "softmax_loss", {"float32"}, "modified its input x", """
_reference_softmax = softmax_loss


def softmax_loss(x, y):
    x -= x.max(axis=1, keepdims=True)
    return _reference_softmax(x, y)
"""),
    "regularization gradient missing": (
        MODELS, "two_layer_net", {"reg"}, "leaving out the regularization gradient", """
_reference_loss = TwoLayerNet.loss


def _loss(self, X, y=None):
    if y is None:
        return _reference_loss(self, X)
    loss, grads = _reference_loss(self, X, y)
    grads["W1"] = grads["W1"] - self.reg * self.params["W1"]
    grads["W2"] = grads["W2"] - self.reg * self.params["W2"]
    return loss, grads


TwoLayerNet.loss = _loss
"""),
    "loss updates the params": (MODELS, "two_layer_net", {"unchanged"}, "modified its input", """
_reference_loss = TwoLayerNet.loss


def _loss(self, X, y=None):
    out = _reference_loss(self, X, y)
    self.params["W1"] -= 1e-3
    return out


TwoLayerNet.loss = _loss
"""),
    "Adam without bias correction": (
        OPTIM, "adam", {"steps", "default"}, "Adam without bias correction", """
ADAM_DEFAULTS = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}


def adam(w, dw, config=None):
    c = {} if config is None else config
    for key, value in ADAM_DEFAULTS.items():
        c.setdefault(key, value)
    c["t"] = c.get("t", 0) + 1
    c["m"] = c["beta1"] * c.get("m", 0.0) + (1 - c["beta1"]) * dw
    c["v"] = c["beta2"] * c.get("v", 0.0) + (1 - c["beta2"]) * dw**2
    return w - c["learning_rate"] * c["m"] / (np.sqrt(c["v"]) + c["epsilon"]), c
"""),
    "Adam increments t after using it": (
        OPTIM, "adam", {"steps", "default"}, "t must be incremented before it is used", """
ADAM_DEFAULTS = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}


def adam(w, dw, config=None):
    c = {} if config is None else config
    for key, value in ADAM_DEFAULTS.items():
        c.setdefault(key, value)
    t = c.get("t", 0)
    c["m"] = c["beta1"] * c.get("m", 0.0) + (1 - c["beta1"]) * dw
    c["v"] = c["beta2"] * c.get("v", 0.0) + (1 - c["beta2"]) * dw**2
    m_hat, v_hat = c["m"] / (1 - c["beta1"] ** t), c["v"] / (1 - c["beta2"] ** t)
    c["t"] = t + 1
    return w - c["learning_rate"] * m_hat / (np.sqrt(v_hat) + c["epsilon"]), c
"""),
    "momentum ignores the velocity": (OPTIM, "sgd_momentum", {"steps", "default"}, "", """
def sgd_momentum(w, dw, config=None):
    config = {} if config is None else config
    config["velocity"] = -config.setdefault("learning_rate", 1e-2) * dw
    return w + config["velocity"], config
"""),
    "rmsprop without the square root": (OPTIM, "rmsprop", {"steps", "default"}, "", """
def rmsprop(w, dw, config=None):
    c = {} if config is None else config
    d = c.setdefault("decay_rate", 0.99)
    c["cache"] = d * c.get("cache", 0.0) + (1 - d) * dw * dw
    return w - c.setdefault("learning_rate", 1e-2) * dw / (c["cache"] + 1e-8), c
"""),
    "conv forward returns float64": (LAYERS, "conv_forward", {"float32"}, "dtype float32", """
_reference_conv = conv_forward_naive


def conv_forward_naive(x, w, b, conv_param):
    out, cache = _reference_conv(x, w, b, conv_param)
    return out.astype(np.float64), cache
"""),
    "affine backward returns a flat dx": (
        LAYERS, "affine", {"backward", "pair", "float32"}, "dx left flat", """
_reference_affine_backward = affine_backward


def affine_backward(dout, cache):
    dx, dw, db = _reference_affine_backward(dout, cache)
    return dx.reshape(dx.shape[0], -1), dw, db
"""),
    "relu backward zeroes dout in place": (
        LAYERS, "relu", {"backward", "pair", "float32"}, "modified its input dout in place",
        catalogued("relu backward zeroes dout in place"),
    ),
    "conv backward overwrites the cached x": (
        LAYERS, "conv_backward", {"basic", "pad0", "strided", "float32"},
        "modified cache[0] in place", """
_reference_conv_backward = conv_backward_naive


def conv_backward_naive(dout, cache):
    grads = _reference_conv_backward(dout, cache)
    cache[0][...] = 0
    return grads
"""),
    "convnet regularization gradient missing": (
        MODELS, "convnet", {"reg", "float32"}, "leaving out the regularization gradient", """
_reference_convnet_loss = ThreeLayerConvNet.loss


def _convnet_loss(self, X, y=None):
    if y is None:
        return _reference_convnet_loss(self, X)
    loss, grads = _reference_convnet_loss(self, X, y)
    for key in ("W1", "W2", "W3"):
        grads[key] = grads[key] - self.reg * self.params[key]
    return loss, grads


ThreeLayerConvNet.loss = _convnet_loss
"""),
    "convnet returns float64 from a float32 model": (
        MODELS, "convnet", {"float32"}, "expected dtype float32", """
_reference_convnet_loss = ThreeLayerConvNet.loss


def _convnet_loss(self, X, y=None):
    out = _reference_convnet_loss(self, X, y)
    if y is None:
        return out.astype(np.float64)
    return out[0], {k: v.astype(np.float64) for k, v in out[1].items()}


ThreeLayerConvNet.loss = _convnet_loss
"""),
}  # fmt: skip


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("case", list(MISTAKES))
def test_known_mistakes_lose_exactly_the_checks_aimed_at_them(ctx, honest, case, seed):
    module, name, expected, words, code = MISTAKES[case]
    results = grade_with(ctx, honest, module, code, [name], seed)
    failed = {r.check.name for r in results if not r.passed}
    assert failed == expected, (seed, [(r.check.name, r.message) for r in results])
    messages = " ".join(r.message for r in results)
    assert words in messages, (seed, messages)
    assert sum(r.score for r in results) == sum(c.points for c in CHECKS[name]) - sum(
        c.points for c in CHECKS[name] if c.name in expected
    )


# The forwards as a student who has not written them yet hands them in.
STUB_FORWARDS = """
def affine_forward(x, w, b):
    raise NotImplementedError("affine: affine_forward is not implemented yet")


def relu_forward(x):
    raise NotImplementedError("relu: relu_forward is not implemented yet")


def conv_forward_naive(x, w, b, conv_param):
    raise NotImplementedError("conv_forward: conv_forward_naive is not implemented yet")


def max_pool_forward_naive(x, pool_param):
    raise NotImplementedError("max_pool: max_pool_forward_naive is not implemented yet")
"""
# What still scores then: every backward check, fed the cache in the given layout.
BACKWARD_ONLY = {
    "affine": {"backward"},
    "relu": {"backward"},
    "conv_backward": {"basic", "pad0", "strided", "float32"},
    "max_pool": {"backward", "overlap"},
}


@pytest.mark.parametrize("seed", SEEDS)
def test_a_correct_backward_scores_when_its_forward_is_a_stub(ctx, honest, seed):
    results = grade_with(ctx, honest, LAYERS, STUB_FORWARDS, list(BACKWARD_ONLY), seed)
    passed = {(r.check.exercise, r.check.name) for r in results if r.passed}
    assert passed == {(ex, name) for ex, names in BACKWARD_ONLY.items() for name in names}, (
        seed,
        [(r.check.exercise, r.check.name, r.message) for r in results],
    )
    pairs = [r for r in results if r.check.name == "pair"]
    assert pairs and all("is not implemented yet" in r.message for r in pairs)


# Imported at call time: bpkit.fast_layers itself imports bpkit.layers.
CALLS_THE_FAST_LAYERS = """
def conv_forward_naive(x, w, b, conv_param):
    from bpkit import fast_layers
    return fast_layers.conv_forward_fast(x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    from bpkit import fast_layers
    return fast_layers.conv_backward_fast(dout, cache)


def max_pool_forward_naive(x, pool_param):
    from bpkit import fast_layers
    return fast_layers.max_pool_forward_fast(x, pool_param)


def max_pool_backward_naive(dout, cache):
    from bpkit import fast_layers
    return fast_layers.max_pool_backward_fast(dout, cache)
"""


def test_naive_layers_cannot_lean_on_the_fast_ones_but_the_convnet_still_can(ctx, honest):
    names = ["conv_forward", "conv_backward", "max_pool", "convnet"]
    results = grade_with(ctx, honest, LAYERS, CALLS_THE_FAST_LAYERS, names, SEEDS[0])
    naive = [r for r in results if r.check.exercise != "convnet"]
    assert naive and all(r.score == 0 for r in naive)
    blocked = "fast layers are not available while grading the naive layers"
    assert all(blocked in r.message for r in naive), [r.message for r in naive]
    convnet = [r for r in results if r.check.exercise == "convnet"]
    assert sum(r.score for r in convnet) == exercises.get("convnet").points


# One mistake per layer and optimizer exercise, all in one submission: each touches only
# its own exercise's functions, so they do not interfere.
AGREEMENT = {
    LAYERS: [
        "affine db keepdims",
        "relu mask x >= 0",
        "softmax shifted by the overall maximum",
        "conv forward flips the kernel",
        "conv backward unpads with pad:-pad",
        "max pool unravels with the height",
    ],
    OPTIM: [
        "sgd steps up the gradient",
        "momentum moves by the old velocity",
        "rmsprop epsilon inside the square root",
        "Adam increments t after using it",
    ],
}


def test_real_workers_grade_as_the_in_process_worker_of_the_known_mistakes_suite(ctx, honest):
    """The 10-seed suite runs in-process (local_worker); here the same code, real workers."""
    texts = dict(honest)
    names = []
    for module, cases in AGREEMENT.items():
        for case in cases:
            _, exercise, _, code = known_mistakes.MISTAKES[case]
            if exercise == "adam":
                code = known_mistakes.ADAM_START + code
            texts[module] += "\n\n" + code.strip() + "\n"
            names.append(exercise)
    files = {rel: text.encode() for rel, text in texts.items()}
    run = dataclasses.replace(ctx, seed=SEEDS[0], selected=[exercises.get(n) for n in names])
    real = one_submission.grade_submission(Submission("agreement", files), run).checks
    modules = {
        rel.removesuffix(".py").replace("/", "."): build_module(
            rel.removesuffix(".py").replace("/", "."), texts[rel]
        )
        for rel in (LAYERS, OPTIM)
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        local = [r for n in names for r in grade_local(modules, n, SEEDS[0])]
    assert [(r.check.exercise, r.check.name) for r in real] == [
        (c.exercise, c.name) for c, _, _ in local
    ]
    for r, (check, score, message) in zip(real, local, strict=True):
        assert r.score == score, (check.exercise, check.name, r.message, message)
        assert r.message.startswith(message), (r.message, message)
    assert all(
        sum(r.score for r in real if r.check.exercise == n) < exercises.get(n).points for n in names
    )
