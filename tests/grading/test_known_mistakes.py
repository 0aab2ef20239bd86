"""The known-mistakes suite of the layer and optimizer exercises, under ten seeds.

Every mistake of :data:`known_mistakes.MISTAKES` loses points in its own exercise only, the
same checks and the same score under each seed, with a message that names it; every
correct variant of :data:`known_mistakes.CORRECT` gets full marks under each seed; the
non-answers score nothing. The checks run against an in-process worker
(:mod:`local_worker`), which answers through the worker's own request handler and wire
encoding, so the whole catalogue takes seconds; ``test_grade_checks.py`` grades through
real, confined workers.
"""

from __future__ import annotations

import re
import warnings

import grading_fixtures as fx
import pytest
from known_mistakes import ADAM_START, CORRECT, LAYERS, MISTAKES, OPTIM
from local_worker import build_module, grade_local

from bpkit.assignments.grading import checks as hidden
from bpkit.assignments.grading.checks import CHECKS
from bpkit.assignments.student import exercises

SEEDS = [0, 1, 7, 42, 1234, 20261126, 2**31 - 1, 987654321, 55555, 2**62 + 3]
NAMES = {LAYERS: "bpkit.layers", OPTIM: "bpkit.optim"}
MODULE_EXERCISES = {
    rel: [ex.name for ex in exercises.EXERCISES if ex.path == rel] for rel in (LAYERS, OPTIM)
}


@pytest.fixture(scope="module")
def honest(tmp_path_factory) -> dict[str, str]:
    edition = fx.honest_edition(tmp_path_factory.mktemp("honest") / "edition")
    return {rel: (edition / rel).read_text() for rel in (LAYERS, OPTIM)}


def modules_with(honest: dict[str, str], rel: str, code: str) -> dict:
    texts = dict(honest)
    texts[rel] = honest[rel] + "\n\n" + code.strip() + "\n"
    return {NAMES[r]: build_module(NAMES[r], text) for r, text in texts.items()}


def grade(modules: dict, exercise: str, seed: int) -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN and overflow of wrong code
        return grade_local(modules, exercise, seed)


def total(exercise: str) -> float:
    return hidden.points(exercise)


def test_the_catalogue_is_as_large_as_promised():
    assert len(MISTAKES) >= 60, len(MISTAKES)
    graded = [ex for _, names, _ in CORRECT.values() for ex in names]
    assert len(graded) >= 30, len(graded)
    mine = {ex for names in MODULE_EXERCISES.values() for ex in names}
    assert {ex for _, ex, _, _ in MISTAKES.values()} == mine
    assert set(graded) == mine


@pytest.mark.parametrize("case", list(MISTAKES))
def test_a_known_mistake_costs_its_own_exercise_alike_under_every_seed_and_is_named(honest, case):
    rel, exercise, words, code = MISTAKES[case]
    if exercise == "adam":
        code = ADAM_START + code
    modules = modules_with(honest, rel, code)
    outcomes = set()
    for seed in SEEDS:
        results = grade(modules, exercise, seed)
        failed = tuple(check.name for check, score, _ in results if score == 0)
        outcomes.add((failed, sum(score for _, score, _ in results)))
        messages = "\n".join(message for _, _, message in results)
        assert words in messages, (seed, messages)
        for got, expected in re.findall(r"got ([-+.\w]+), expected ([-+.\w]+)", messages):
            assert got != expected, messages  # enough digits to tell them apart
    assert len(outcomes) == 1, outcomes  # the same checks fail, the same score, every seed
    ((failed, score),) = outcomes
    assert failed and score < total(exercise), outcomes
    # Tags name the functions a check can fail: every failed check targets one redefined here.
    redefined = set(re.findall(r"^def (\w+)\(", code, re.M))
    for check in CHECKS[exercise]:
        if check.name in failed:
            assert redefined & set(check.targets), (check.name, check.targets, redefined)
    for other in MODULE_EXERCISES[rel]:
        if other != exercise:
            lost = [(c.name, m) for c, s, m in grade(modules, other, SEEDS[0]) if s == 0]
            assert not lost, (other, lost)


@pytest.mark.parametrize("case", list(CORRECT))
def test_a_correct_variant_gets_full_marks_under_every_seed(honest, case):
    rel, names, code = CORRECT[case]
    modules = modules_with(honest, rel, code)
    for exercise in names:
        for seed in SEEDS:
            lost = [(c.name, m) for c, s, m in grade(modules, exercise, seed) if s == 0]
            assert not lost, (exercise, seed, lost)


# Non-answers: every function of the layer and optimizer exercises replaced at once.
ZEROS = """
def _zeros_like_inputs(*arrays):
    return tuple(np.zeros_like(a) for a in arrays)


def affine_forward(x, w, b):
    return np.zeros((x.shape[0], w.shape[1]), dtype=x.dtype), (x, w, b)


def affine_backward(dout, cache):
    return _zeros_like_inputs(*cache)


def relu_forward(x):
    return np.zeros_like(x), x


def relu_backward(dout, cache):
    return np.zeros_like(dout)


def softmax_loss(x, y):
    return 0.0, np.zeros_like(x)


def conv_forward_naive(x, w, b, conv_param):
    s, p = conv_param["stride"], conv_param["pad"]
    ho = 1 + (x.shape[2] + 2 * p - w.shape[2]) // s
    wo = 1 + (x.shape[3] + 2 * p - w.shape[3]) // s
    return np.zeros((x.shape[0], w.shape[0], ho, wo), dtype=x.dtype), (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    return _zeros_like_inputs(*cache[:3])


def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    shape = (*x.shape[:2], 1 + (x.shape[2] - ph) // s, 1 + (x.shape[3] - pw) // s)
    return np.zeros(shape, dtype=x.dtype), (x, pool_param)


def max_pool_backward_naive(dout, cache):
    return np.zeros_like(cache[0])
"""
OPTIM_ZEROS = """
def _rule(w, dw, config, state):
    config = {} if config is None else config
    for key in state:
        config[key] = np.zeros_like(w)
    if "t" in config or state == ("m", "v"):
        config["t"] = 0
    return np.zeros_like(w), config


def sgd(w, dw, config=None):
    return _rule(w, dw, config, ())


def sgd_momentum(w, dw, config=None):
    return _rule(w, dw, config, ("velocity",))


def rmsprop(w, dw, config=None):
    return _rule(w, dw, config, ("cache",))


def adam(w, dw, config=None):
    return _rule(w, dw, config, ("m", "v"))
"""
NON_ANSWERS = {
    "zeros of the right shapes and dtypes": (ZEROS, OPTIM_ZEROS),
    "ones of the right shapes and dtypes": (
        ZEROS.replace("np.zeros", "np.ones").replace("0.0, np.", "1.0, np."),
        OPTIM_ZEROS.replace("np.zeros_like", "np.ones_like").replace('["t"] = 0', '["t"] = 1'),
    ),
    "random values of the right shapes and dtypes": (
        "_RNG = np.random.default_rng(3)\n\n"
        + ZEROS.replace("np.zeros_like(", "_random_like(").replace("np.zeros(", "_random(")
        + """

def _random(shape, dtype=np.float64):
    return _RNG.standard_normal(shape).astype(dtype)


def _random_like(a):
    return _random(a.shape, a.dtype)
""",
        "_RNG = np.random.default_rng(3)\n\n"
        + OPTIM_ZEROS.replace("np.zeros_like(w)", "_RNG.standard_normal(w.shape)"),
    ),
    "the inputs echoed": (
        """
def affine_forward(x, w, b):
    return x, (x, w, b)


def affine_backward(dout, cache):
    return dout, cache[1], cache[2]


def relu_forward(x):
    return x, x


def relu_backward(dout, cache):
    return dout


def softmax_loss(x, y):
    return float(x.sum()), x


def conv_forward_naive(x, w, b, conv_param):
    return x, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    return cache[0], cache[1], cache[2]


def max_pool_forward_naive(x, pool_param):
    return x, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    return cache[0]
""",
        """
def sgd(w, dw, config=None):
    return w, config or {}


sgd_momentum = rmsprop = adam = sgd
""",
    ),
}


@pytest.mark.parametrize("case", list(NON_ANSWERS))
def test_non_answers_score_nothing(honest, case):
    layers, optim = NON_ANSWERS[case]
    texts = {LAYERS: honest[LAYERS] + "\n\n" + layers, OPTIM: honest[OPTIM] + "\n\n" + optim}
    modules = {NAMES[r]: build_module(NAMES[r], text) for r, text in texts.items()}
    scored = {}
    for names in MODULE_EXERCISES.values():
        for exercise in names:
            got = sum(s for _, s, _ in grade(modules, exercise, SEEDS[0]))
            if got:
                scored[exercise] = got
    assert not scored, scored


FORWARD_ONLY = """
def affine_backward(dout, cache):
    return np.zeros_like(cache[0]), np.zeros_like(cache[1]), np.zeros_like(cache[2])


def relu_backward(dout, cache):
    return np.zeros_like(dout)


def conv_backward_naive(dout, cache):
    return np.zeros_like(cache[0]), np.zeros_like(cache[1]), np.zeros_like(cache[2])


def max_pool_backward_naive(dout, cache):
    return np.zeros_like(cache[0])
"""
BACKWARDS = {
    "affine": "affine_backward",
    "relu": "relu_backward",
    "conv_backward": "conv_backward_naive",
    "max_pool": "max_pool_backward_naive",
}


@pytest.mark.parametrize("exercise", list(BACKWARDS))
def test_a_correct_forward_with_a_zero_backward_scores_only_its_forward_checks(honest, exercise):
    """No check that involves the backward scores; the forward's own checks still do."""
    modules = modules_with(honest, LAYERS, FORWARD_ONLY)
    results = grade(modules, exercise, SEEDS[0])
    for check, score, message in results:
        involves_backward = BACKWARDS[exercise] in check.targets
        assert score == (0 if involves_backward else check.points), (check.name, message)
    assert any(BACKWARDS[exercise] in c.targets for c, _, _ in results)


def test_every_registry_exercise_has_checks_whose_points_are_its_points():
    for ex in exercises.EXERCISES:
        assert ex.name in CHECKS, (
            f"exercise {ex.name!r} is in the registry but has no hidden checks in "
            "bpkit/assignments/grading/checks/__init__.py"
        )
        assert hidden.points(ex.name) == ex.points, (ex.name, hidden.points(ex.name), ex.points)
        for check in CHECKS[ex.name]:
            assert set(check.targets) <= set(ex.targets), (ex.name, check.name, check.targets)


def test_an_exercise_without_checks_is_named_not_a_bare_key_error():
    with pytest.raises(KeyError, match="'no_such_exercise' is in the registry .* no hidden"):
        CHECKS["no_such_exercise"]  # noqa: B018
