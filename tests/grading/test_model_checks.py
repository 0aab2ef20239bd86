"""The model exercises' hidden checks: graded on the model's own code, the same on every seed.

Each variant edits an honest (filled) edition's ``bpkit/models.py``: ``TwoLayerNet.loss``
and ``ThreeLayerConvNet.loss`` are replaced by hand-written ones, correct (in several
styles) or with one classic mistake. Every variant is graded under ten seeds in one worker
per exercise: each check runs once per seed, and the set of checks a variant fails must be
the same under every seed.
"""

from __future__ import annotations

import ast
import dataclasses
import zlib

import numpy as np
import pytest

from bpkit.assignments.grading import layer_service, one_submission, stand_ins
from bpkit.assignments.grading.checks import CHECKS, Check
from bpkit.assignments.grading.submission import Submission
from bpkit.assignments.student import diagnose, exercises

LAYERS, MODELS = "bpkit/layers.py", "bpkit/models.py"
SEEDS = [20261130 + 7919 * i for i in range(10)]
NETS = ("two_layer_net", "convnet")
POINTS = {n: {c.name: c.points for c in CHECKS[n]} for n in NETS}


def _seeded(check: Check, seed: int) -> Check:
    """``check`` under ``seed``, drawing what grade.py would draw for that seed."""
    salt = zlib.crc32(f"{check.exercise}/{check.name}".encode())

    def run(worker, _rng):
        check.run(worker, np.random.default_rng([seed, salt]))

    return dataclasses.replace(check, name=f"{check.name}@{seed}", run=run)


def grade_seeds(ctx, honest, edits: dict[str, str], names=NETS, seeds=SEEDS, monkeypatch=None):
    """{exercise: [set of failed check names under each seed]}, and all the messages.

    Every check of an exercise runs once per seed in that exercise's one worker (the way
    grade.py runs them, stand-ins and layer service included).
    """
    files = {rel: text.encode() for rel, text in honest.items()}
    for rel, code in edits.items():
        files[rel] = (honest[rel] + "\n\n" + code.strip() + "\n").encode()
    for name in names:
        monkeypatch.setitem(
            CHECKS, name, [_seeded(c, seed) for seed in seeds for c in CHECKS[name]]
        )
    run = dataclasses.replace(ctx, selected=[exercises.get(n) for n in names])
    results = one_submission.grade_submission(Submission("variant", files), run).checks
    failed: dict[str, list[set[str]]] = {}
    for name in names:
        mine = [r for r in results if r.check.exercise == name]
        failed[name] = [
            {
                r.check.name.split("@")[0]
                for r in mine
                if r.check.name.endswith(f"@{seed}") and not r.passed
            }
            for seed in seeds
        ]
    return failed, results


# ------------------------------------------------------------------ variants

TWO_LAYER_INLINE = """
def _loss(self, X, y=None):
    W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
    flat = X.reshape(X.shape[0], -1)
    pre = flat @ W1 + b1
    hidden = np.maximum(pre, 0)
    scores = hidden @ W2 + b2
    if y is None:
        return scores
    n = X.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    p = np.exp(shifted)
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.sum(np.log(p[np.arange(n), y])) / n
    loss += 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    d = p.copy()
    d[np.arange(n), y] -= 1
    d /= n
    dh = (d @ W2.T) * (pre > 0)
    grads = {"W2": hidden.T @ d + self.reg * W2, "b2": d.sum(axis=0)}
    grads.update(W1=flat.T @ dh + self.reg * W1, b1=dh.sum(axis=0))
    return loss, grads


TwoLayerNet.loss = _loss
"""

TWO_LAYER_PARTS = """
from bpkit.layers import affine_backward as _ab, affine_forward as _af, relu_backward as _rb
from bpkit.layers import relu_forward as _rf, softmax_loss as _sl
from bpkit.layer_utils import affine_relu_backward as _arb, affine_relu_forward as _arf


def _loss(self, X, y=None):
    p = self.params
    h, cache = _arf(X, p["W1"], p["b1"])
    scores, s_cache = _af(h, p["W2"], p["b2"])
    if y is None:
        return scores
    loss, ds = _sl(scores, y)
    loss += 0.5 * self.reg * sum(np.sum(p[k] ** 2) for k in ("W1", "W2"))
    grads = {}
    dh, grads["W2"], grads["b2"] = _ab(ds, s_cache)
    fc_cache, relu_cache = cache  # a sandwich's cache unpacks into its parts
    _, grads["W1"], grads["b1"] = _ab(_rb(dh, relu_cache), fc_cache)
    for k in ("W1", "W2"):
        grads[k] = grads[k] + self.reg * p[k]
    return loss, grads


TwoLayerNet.loss = _loss
"""

CONVNET_WRAPPED = """
_reference_convnet_loss = ThreeLayerConvNet.loss


def _convnet_loss(self, X, y=None):
    if y is None:
        return {scores}
    loss, grads = _reference_convnet_loss(self, X, y)
    n, reg, p = X.shape[0], self.reg, self.params
    penalty = 0.5 * reg * sum(np.sum(p[k] ** 2) for k in ("W1", "W2", "W3"))
    biases = 0.5 * reg * sum(np.sum(p[k] ** 2) for k in ("b1", "b2", "b3"))
    {edit}
    return loss, grads


ThreeLayerConvNet.loss = _convnet_loss
"""


def convnet(edit: str = "pass", scores: str = "_reference_convnet_loss(self, X)") -> str:
    return CONVNET_WRAPPED.replace("{edit}", edit).replace("{scores}", scores)


CONVNET_INLINE_SOFTMAX = """
from bpkit.layer_utils import affine_relu_backward as _arb, affine_relu_forward as _arf
from bpkit.layer_utils import conv_relu_pool_backward as _crpb, conv_relu_pool_forward as _crpf
from bpkit.layers import affine_backward as _ab, affine_forward as _af


def _convnet_loss(self, X, y=None):
    X = X.astype(self.dtype, copy=False)
    p = self.params
    conv = {"stride": 1, "pad": (p["W1"].shape[2] - 1) // 2}
    pool = {"pool_height": 2, "pool_width": 2, "stride": 2}
    a, c1 = _crpf(X, p["W1"], p["b1"], conv, pool)
    h, c2 = _arf(a, p["W2"], p["b2"])
    scores, c3 = _af(h, p["W3"], p["b3"])
    if y is None:
        return scores
    n = X.shape[0]
    e = np.exp(scores{shift})
    probs = e / e.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[np.arange(n), y]))
    loss += 0.5 * self.reg * sum(np.sum(p[k] ** 2) for k in ("W1", "W2", "W3"))
    d = probs.copy()
    d[np.arange(n), y] -= 1
    d /= n
    grads = {}
    dh, grads["W3"], grads["b3"] = _ab(d, c3)
    da, grads["W2"], grads["b2"] = _arb(dh, c2)
    _, grads["W1"], grads["b1"] = _crpb(da, c1)
    for k in ("W1", "W2", "W3"):
        grads[k] = grads[k] + self.reg * p[k]
    return loss, grads


ThreeLayerConvNet.loss = _convnet_loss
"""
SHIFT = " - scores.max(axis=1, keepdims=True)"

TWO_LAYER_EINSUM = """
def _loss(self, X, y=None):
    p = self.params
    flat = X.reshape(len(X), -1)
    pre = np.einsum("nd,dh->nh", flat, p["W1"]) + p["b1"]
    mask = pre > 0
    hidden = np.where(mask, pre, 0)
    scores = np.einsum("nh,hc->nc", hidden, p["W2"]) + p["b2"]
    if y is None:
        return scores
    n = len(X)
    logz = scores.max(axis=1) + np.log(np.exp(scores - scores.max(axis=1, keepdims=True)).sum(1))
    loss = np.mean(logz - scores[np.arange(n), y])
    loss = loss + 0.5 * self.reg * sum(np.einsum("ij,ij->", p[k], p[k]) for k in ("W1", "W2"))
    d = np.exp(scores - logz[:, None])
    d[np.arange(n), y] -= 1
    d /= n
    dh = np.einsum("nc,hc->nh", d, p["W2"]) * mask
    return loss, {
        "W1": np.einsum("nd,nh->dh", flat, dh) + self.reg * p["W1"],
        "b1": dh.sum(axis=0),
        "W2": np.einsum("nh,nc->hc", hidden, d) + self.reg * p["W2"],
        "b2": d.sum(axis=0),
    }


TwoLayerNet.loss = _loss
"""

CONVNET_PARTS = """
from bpkit.layer_utils import conv_relu_backward as _crb, conv_relu_forward as _crf
from bpkit.layers import (
    affine_backward as _ab, affine_forward as _af, max_pool_backward_naive as _pb,
    max_pool_forward_naive as _pf, relu_backward as _rb, relu_forward as _rf, softmax_loss as _sl,
)


def _convnet_loss(self, X, y=None):
    X = X.astype(self.dtype, copy=False)
    p = self.params
    conv = {"stride": 1, "pad": (p["W1"].shape[2] - 1) // 2}
    c, c_cache = _crf(X, p["W1"], p["b1"], conv)
    pooled, p_cache = _pf(c, {"pool_height": 2, "pool_width": 2, "stride": 2})
    a, a_cache = _af(pooled, p["W2"], p["b2"])
    h, h_cache = _rf(a)
    scores, s_cache = _af(h, p["W3"], p["b3"])
    if y is None:
        return scores
    loss, ds = _sl(scores, y)
    grads = {}
    dh, grads["W3"], grads["b3"] = _ab(ds, s_cache)
    dpooled, grads["W2"], grads["b2"] = _ab(_rb(dh, h_cache), a_cache)
    conv_cache, relu_cache = c_cache
    dc = _rb(_pb(dpooled, p_cache), relu_cache)
    from bpkit.layers import conv_backward_naive as _cb

    _, grads["W1"], grads["b1"] = _cb(dc, conv_cache)
    for k in ("W1", "W2", "W3"):
        loss += 0.5 * self.reg * np.sum(p[k] * p[k])
        grads[k] += self.reg * p[k]
    return loss, grads


ThreeLayerConvNet.loss = _convnet_loss
"""

# name: (TwoLayerNet code, ThreeLayerConvNet code)
CORRECT = {
    "inline numpy net, wrapped convnet": (TWO_LAYER_INLINE, convnet()),
    "net from single layers with an unpacked sandwich cache, convnet with its own softmax": (
        TWO_LAYER_PARTS,
        CONVNET_INLINE_SOFTMAX.replace("{shift}", SHIFT),
    ),
    "einsum net, convnet from conv_relu, the naive pool and an unpacked cache": (
        TWO_LAYER_EINSUM,
        CONVNET_PARTS,
    ),
}


def two_layer(old: str, new: str) -> str:
    assert old in TWO_LAYER_INLINE, old
    return TWO_LAYER_INLINE.replace(old, new)


L2 = "loss += 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))"
TWO_LAYER_RETURN = "    return loss, grads\n"
# name: (code, checks it fails, words its messages must hold)
TWO_LAYER_MISTAKES = {
    "L2 term without 0.5": (
        two_layer(L2, L2.replace("0.5 * ", "")),
        {"reg"},
        diagnose.L2_WITHOUT_HALF,
    ),
    "L2 term missing": (two_layer(L2, "pass"), {"reg"}, "leaving out the L2 term"),
    "biases regularized": (
        two_layer(
            TWO_LAYER_RETURN,
            "    loss += 0.5 * self.reg * (np.sum(b1 * b1) + np.sum(b2 * b2))\n"
            '    grads["b1"] = grads["b1"] + self.reg * b1\n'
            '    grads["b2"] = grads["b2"] + self.reg * b2\n' + TWO_LAYER_RETURN,
        ),
        {"reg"},
        "regularizing the biases too",
    ),
    "loss not divided by N": (
        two_layer("y])) / n", "y]))"),
        {"loss", "reg", "unchanged"},
        "instead of averaging",
    ),
    "gradient not divided by N": (
        two_layer("    d /= n\n", ""),
        {"loss", "reg", "unchanged"},
        "divide the gradient of the scores by N",
    ),
    "softmax without the max shift": (
        two_layer("scores - scores.max(axis=1, keepdims=True)", "scores"),
        {"loss"},
        diagnose.SOFTMAX_NO_SHIFT,
    ),
    "regularization gradient forgotten": (
        two_layer("+ self.reg * W2", "").replace("+ self.reg * W1", ""),
        {"reg"},
        "leaving out the regularization gradient",
    ),
    "regularization gradient doubled": (
        two_layer("+ self.reg * W2", "+ 2 * self.reg * W2").replace(
            "+ self.reg * W1", "+ 2 * self.reg * W1"
        ),
        {"reg"},
        "2 * reg * W",
    ),
    "grads keyed in lower case": (
        two_layer(
            TWO_LAYER_RETURN,
            "    grads = {k.lower(): v for k, v in grads.items()}\n" + TWO_LAYER_RETURN,
        ),
        {"loss", "reg", "unchanged"},
        "keyed like self.params",
    ),
    "grads of W1 and W2 swapped": (
        two_layer(
            TWO_LAYER_RETURN,
            '    grads["W1"], grads["W2"] = grads["W2"], grads["W1"]\n' + TWO_LAYER_RETURN,
        ),
        {"loss", "reg", "unchanged"},
        "keyed like self.params",
    ),
    "scores path returns probabilities": (
        two_layer(
            "    if y is None:\n        return scores\n",
            "    if y is None:\n"
            "        e = np.exp(scores - scores.max(axis=1, keepdims=True))\n"
            "        return e / e.sum(axis=1, keepdims=True)\n",
        ),
        {"scores", "unchanged"},
        "softmax probabilities instead of the raw scores",
    ),
    "scores path calls softmax_loss": (
        "from bpkit.layers import softmax_loss as _sl\n"
        + two_layer(
            "    if y is None:\n        return scores\n",
            "    if y is None:\n        _sl(scores, y)\n",
        ),
        {"scores", "unchanged"},
        "without labels must return the scores",
    ),
    "float32 scores turned float64": (
        two_layer("scores = hidden @ W2 + b2", "scores = (hidden @ W2 + b2).astype(np.float64)"),
        {"scores"},
        "expected dtype float32",
    ),
    "loss updates the params": (
        two_layer(
            TWO_LAYER_RETURN, '    self.params["W1"] -= 1e-3 * grads["W1"]\n' + TWO_LAYER_RETURN
        ),
        {"unchanged"},
        "modified its input self.params['W1']",
    ),
}
CONVNET_MISTAKES = {
    "convnet L2 term without 0.5": (
        convnet("loss = loss + penalty"),
        {"reg", "float32"},
        diagnose.L2_WITHOUT_HALF,
    ),
    "convnet biases regularized": (
        convnet(
            "loss = loss + biases\n"
            "    for k in ('b1', 'b2', 'b3'):\n"
            "        grads[k] = grads[k] + reg * p[k]"
        ),
        {"reg", "float32"},
        "regularizing the biases too",
    ),
    "convnet loss not divided by N": (
        convnet("loss = (loss - penalty) * n + penalty"),
        {"loss", "reg", "float32", "unchanged"},
        "instead of averaging",
    ),
    "convnet regularization gradient forgotten": (
        convnet("for k in ('W1', 'W2', 'W3'):\n        grads[k] = grads[k] - reg * p[k]"),
        {"reg", "float32"},
        "leaving out the regularization gradient",
    ),
    "convnet grads keyed wrong": (
        convnet("grads = {k.replace('W', 'w'): v for k, v in grads.items()}"),
        {"loss", "reg", "float32", "unchanged"},
        "keyed like self.params",
    ),
    "convnet float32 gradients turned float64": (
        convnet("grads = {k: v.astype(np.float64) for k, v in grads.items()}"),
        {"float32"},
        "expected dtype float32",
    ),
    "convnet scores path returns probabilities": (
        convnet(
            scores="(lambda s: np.exp(s - s.max(1, keepdims=True)) / "
            "np.exp(s - s.max(1, keepdims=True)).sum(1, keepdims=True))"
            "(_reference_convnet_loss(self, X))"
        ),
        {"scores", "float32", "unchanged"},
        "softmax probabilities instead of the raw scores",
    ),
    "convnet softmax without the max shift": (
        CONVNET_INLINE_SOFTMAX.replace("{shift}", ""),
        {"loss"},
        diagnose.SOFTMAX_NO_SHIFT,
    ),
}


def _pairs():
    """Each TwoLayerNet mistake graded with one ConvNet mistake (or none) in one models.py."""
    two, conv = list(TWO_LAYER_MISTAKES), list(CONVNET_MISTAKES)
    return [(a, conv[i] if i < len(conv) else None) for i, a in enumerate(two)]


def _check_verdicts(failed: list[set[str]], expected: set[str], name: str, results, words: str):
    assert all(f == expected for f in failed), (name, failed)
    mine = [r for r in results if r.check.exercise == name]
    for seed in SEEDS:  # the mistake is named under every seed
        messages = " ".join(r.message for r in mine if r.check.name.endswith(f"@{seed}"))
        assert words in messages, (name, seed, words, messages[:3000])
    lost = sum(r.check.points - r.score for r in mine) / len(SEEDS)
    assert lost == sum(POINTS[name][c] for c in expected) > 0


@pytest.mark.parametrize("pair", _pairs(), ids=lambda p: f"{p[0]} + {p[1]}")
def test_each_model_mistake_loses_the_same_checks_under_ten_seeds(ctx, honest, pair, monkeypatch):
    two, conv = pair
    code, expected, words = TWO_LAYER_MISTAKES[two]
    conv_code, conv_expected, conv_words = (
        CONVNET_MISTAKES[conv] if conv else (convnet(), set(), "")
    )
    failed, results = grade_seeds(
        ctx, honest, {MODELS: code + "\n\n" + conv_code}, monkeypatch=monkeypatch
    )
    _check_verdicts(failed["two_layer_net"], expected, "two_layer_net", results, words)
    if conv:
        _check_verdicts(failed["convnet"], conv_expected, "convnet", results, conv_words)
    else:
        assert all(f == set() for f in failed["convnet"]), failed["convnet"]


@pytest.mark.parametrize("case", list(CORRECT))
def test_correct_models_get_every_point_under_ten_seeds(ctx, honest, case, monkeypatch):
    code, conv_code = CORRECT[case]
    failed, results = grade_seeds(
        ctx, honest, {MODELS: code + "\n\n" + conv_code}, monkeypatch=monkeypatch
    )
    assert failed == {n: [set()] * len(SEEDS) for n in NETS}, [
        r.message for r in results if not r.passed
    ]


# Layers as a student may hand them in: unfinished, or wrong in ways that a model on top of
# them would inherit (float64 out of float32 in, a (1, M) db, NaN at 0 in the ReLU).
BROKEN_LAYERS = """
def affine_forward(x, w, b):
    raise NotImplementedError("affine: affine_forward is not implemented yet")


def affine_backward(dout, cache):
    x, w, b = cache
    flat = x.reshape(x.shape[0], -1).astype(np.float64)
    return (dout @ w.T).reshape(x.shape), flat.T @ dout, dout.sum(axis=0, keepdims=True)


def relu_forward(x):
    return np.maximum(x, 0) / x * x, x


def softmax_loss(x, y):
    raise NotImplementedError("softmax_loss: softmax_loss is not implemented yet")
"""


def test_the_models_points_do_not_depend_on_the_layers(ctx, honest, monkeypatch):
    failed, results = grade_seeds(
        ctx, honest, {LAYERS: BROKEN_LAYERS}, seeds=SEEDS[:2], monkeypatch=monkeypatch
    )
    assert failed == {n: [set(), set()] for n in NETS}, [r.message for r in results]


NON_ANSWERS = {
    "zeros": """
def _zeros(self, X, y=None):
    last = self.params[sorted(k for k in self.params if k[0] == "W")[-1]]
    scores = np.zeros((X.shape[0], last.shape[1]))
    if y is None:
        return scores
    return 0.0, {k: np.zeros_like(v) for k, v in self.params.items()}
""",
    "constants of the right dtype": """
def _zeros(self, X, y=None):
    last = self.params[sorted(k for k in self.params if k[0] == "W")[-1]]
    scores = np.ones((X.shape[0], last.shape[1]), dtype=last.dtype)
    if y is None:
        return scores
    return np.log(last.shape[1]), {k: np.ones_like(v) for k, v in self.params.items()}
""",
}


@pytest.mark.parametrize("case", list(NON_ANSWERS))
def test_non_answers_score_nothing(ctx, honest, case, monkeypatch):
    code = NON_ANSWERS[case] + "\n\nTwoLayerNet.loss = _zeros\nThreeLayerConvNet.loss = _zeros\n"
    failed, results = grade_seeds(
        ctx, honest, {MODELS: code}, seeds=SEEDS[:2], monkeypatch=monkeypatch
    )
    assert sum(r.score for r in results) == 0, [(r.check.name, r.score) for r in results if r.score]


# ------------------------------------------------------------------ the layer service


def test_stand_ins_hold_no_layer_code():
    files = layer_service.stand_ins()
    assert set(files) == {"bpkit/layers.py", "bpkit/layer_utils.py"}
    served = set()
    for text in files.values():
        assert "numpy" not in text
        for node in ast.parse(text).body:
            if isinstance(node, ast.FunctionDef) and node.name != "__getattr__":
                assert ast.unparse(node.body) == f"return _serve({node.name!r}, args, kwargs)"
                served.add(node.name)
    assert served == set(layer_service.SERVED)


HELPER = """
def l2_of(*weights):
    return sum(np.sum(w * w) for w in weights)
"""
USES_THE_HELPER = """
from bpkit.layers import l2_of as _l2_of

_reference_loss = TwoLayerNet.loss


def _loss(self, X, y=None):
    if y is None:
        return _reference_loss(self, X)
    loss, grads = _reference_loss(self, X, y)
    p = self.params
    penalty = 0.5 * self.reg * _l2_of(p["W1"], p["W2"])
    return loss - penalty + penalty, grads


TwoLayerNet.loss = _loss
"""


def test_a_model_may_import_its_own_helpers_from_layers(ctx, honest, monkeypatch):
    edits = {LAYERS: HELPER, MODELS: USES_THE_HELPER}
    failed, results = grade_seeds(
        ctx, honest, edits, names=["two_layer_net"], seeds=SEEDS[:2], monkeypatch=monkeypatch
    )
    assert failed == {"two_layer_net": [set(), set()]}, [r.message for r in results]


def test_the_service_runs_the_reference_and_keeps_caches_as_tokens():
    service = layer_service.LayerService()
    service.start_request()
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    tag, (out, token) = service.answer("affine_relu_forward", [x, w, b], {})
    assert tag == "ok" and np.allclose(out, np.maximum(x @ w + b, 0))
    assert len(token) == 2  # one token per part of the sandwich
    dout = rng.standard_normal((3, 5))
    up = [(layer_service.CACHE_TAG, t.handle) for t in token]
    tag, (dx, dw, db) = service.answer("affine_relu_backward", [dout], {"cache": tuple(up)})
    mask = (x @ w + b) > 0
    assert tag == "ok" and np.allclose(db, (dout * mask).sum(axis=0))
    # The parts swapped, or a token from an earlier request: refused, in words.
    swapped = service.answer("affine_relu_backward", [dout, tuple(up[::-1])], {})
    assert swapped[0] == "raised" and "cache" in swapped[2]
    service.start_request()
    stale = service.answer("affine_backward", [dout, up[0]], {})
    assert stale[0] == "raised" and "returned in this call" in stale[2]


def test_the_service_bounds_what_a_worker_can_make_it_compute():
    service = layer_service.LayerService()
    service.start_request()
    big = np.zeros((layer_service.MAX_ELEMENTS + 1,))
    reply = service.answer("relu_forward", [big], {})
    assert reply[0] == "raised" and "exceeds" in reply[2]
    x, w = np.zeros((8, 3, 64, 64)), np.zeros((16, 3, 9, 9))
    reply = service.answer("conv_forward_naive", [x, w, np.zeros(16), {"stride": 1, "pad": 4}], {})
    assert reply[0] == "raised" and "exceed" in reply[2]
    small = np.ones((2, 3))
    service.start_request()
    for _ in range(layer_service.MAX_CALLS):
        assert service.answer("relu_forward", [small], {})[0] == "ok"
    reply = service.answer("relu_forward", [small], {})
    assert reply[0] == "raised" and f"more than {layer_service.MAX_CALLS}" in reply[2]
    service.start_request()
    assert service.answer("relu_forward", [small], {})[0] == "ok"
    assert service.answer("no_such_layer", [], {})[0] == "raised"
    assert service.answer("relu_forward", [small, small], {})[0] == "raised"
    assert service.answer("softmax_loss", [small, None], {})[2].startswith(
        "softmax_loss: y is None"
    )


def test_a_worker_that_calls_the_service_outside_a_model_exercise_is_stopped(ctx, honest):
    code = """
def relu_forward(x):
    import sys
    return sys.modules["bpkit_grader.worker"].serve_layer("relu_forward", (x,), {})
"""
    files = {rel: text.encode() for rel, text in honest.items()}
    files[LAYERS] = (honest[LAYERS] + "\n\n" + code.strip() + "\n").encode()
    run = dataclasses.replace(ctx, seed=SEEDS[0], selected=[exercises.get("relu")])
    results = one_submission.grade_submission(Submission("variant", files), run).checks
    forward = next(r for r in results if r.check.name == "forward")
    assert forward.score == 0 and "malformed reply" in forward.message, forward.message


def test_gradcheck_refuses_while_a_gradient_is_graded(ctx, honest):
    code = """
def relu_backward(dout, cache):
    from bpkit.gradcheck import eval_numerical_gradient_array
    return eval_numerical_gradient_array(lambda v: relu_forward(v)[0], cache.copy(), dout)
"""
    files = {rel: text.encode() for rel, text in honest.items()}
    files[LAYERS] = (honest[LAYERS] + "\n\n" + code.strip() + "\n").encode()
    run = dataclasses.replace(ctx, seed=SEEDS[0], selected=[exercises.get("relu")])
    results = one_submission.grade_submission(Submission("variant", files), run).checks
    backward = [r for r in results if "relu_backward" in r.check.targets]
    assert backward and all(r.score == 0 for r in backward)
    assert all(stand_ins.GRADCHECK_MESSAGE in r.message for r in backward), [
        r.message for r in backward
    ]
    assert stand_ins.GRADIENT_EXERCISES >= {"affine", "relu", "conv_backward", "max_pool"}
    assert "sgd" not in stand_ins.GRADIENT_EXERCISES


HOSTILE_MODEL = """
from bpkit.layers import affine_backward as _ab, relu_forward as _rf


def _loss(self, X, y=None):
    for _ in range(10_000):
        _rf(X)
    return X


def _convnet_loss(self, X, y=None):
    return _ab(X, ("bpkit layer cache", 1))


TwoLayerNet.loss = _loss
ThreeLayerConvNet.loss = _convnet_loss
"""


def test_a_model_that_abuses_the_layer_service_only_fails_its_checks(ctx, honest):
    files = {rel: text.encode() for rel, text in honest.items()}
    files[MODELS] = (honest[MODELS] + "\n\n" + HOSTILE_MODEL.strip() + "\n").encode()
    run = dataclasses.replace(ctx, seed=SEEDS[0], selected=[exercises.get(n) for n in NETS])
    results = one_submission.grade_submission(Submission("variant", files), run).checks
    assert results and all(r.score == 0 for r in results)
    net = [r.message for r in results if r.check.exercise == "two_layer_net"]
    assert all(f"more than {layer_service.MAX_CALLS} layer calls" in m for m in net), net
    conv = [r.message for r in results if r.check.exercise == "convnet"]
    assert all("expected the cache that affine_forward returned" in m for m in conv), conv
