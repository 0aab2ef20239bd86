"""The machinery of tests/test_fuzz.py: kinds of bad input, and how a call is judged.

A :class:`Target` is a public function with a maker of valid arguments and, for each
argument, the names an error about it may use and its :class:`Variant` s. A variant
replaces the argument's valid value with another (a view, a float16 copy, a list, NaN,
a dict with a missing key, a cache with an entry too few) and says what must happen:
the valid input's answer (SAME, LOOSE for a lower precision), the valid input's shapes
(NONFINITE: NaN in, NaN out is right) or a named error (ERROR). :func:`run` makes the call
and names its outcome, one of :data:`OUTCOMES`.
"""

from __future__ import annotations

import collections
import re
import signal
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from bpkit.models import ThreeLayerConvNet, TwoLayerNet

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
    # The valid arguments this variant is equivalent to, when they are not the canonical
    # ones (a batch size above the training set is capped to it): args -> args.
    same_as: object = None


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


def read_only(a):
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


def strided(a):
    big = np.zeros((*a.shape[:-1], 2 * a.shape[-1]), a.dtype)
    big[..., ::2] = a
    return big[..., ::2]


def with_value(a, value):
    a = np.array(a, dtype=np.float64, copy=True)
    a.flat[a.size // 2] = value
    return a


def floats(rank=True, batch=True, shape=True, nan=NONFINITE, zero_d=True, ok_16=True):
    """Variants of a float64 array argument."""
    v = [
        Variant("Fortran order", lambda a, k: np.asfortranarray(a), SAME, 1e-12),
        Variant("strided view", lambda a, k: strided(a), SAME, 1e-12),
        Variant("read-only", lambda a, k: read_only(a), SAME),
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
        v.append(Variant("a NaN", lambda a, k: with_value(a, np.nan), nan))
        v.append(Variant("an inf", lambda a, k: with_value(a, np.inf), nan))
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
        Variant("read-only", lambda y, k: read_only(y), SAME),
        Variant("float", lambda y, k: y.astype(np.float64), ERROR),
        Variant("bool", lambda y, k: y > 0, ERROR),
        Variant("list", lambda y, k: y.tolist(), ERROR),
        Variant("str", lambda y, k: "0", ERROR),
        Variant("label C", lambda y, k: at(y, 0, classes(k)), ERROR),
        Variant("label -1", lambda y, k: at(y, 0, -1), ERROR),
        Variant("one label short", lambda y, k: y[:-1], ERROR),
        Variant("2-d", lambda y, k: y[:, None], ERROR),
    ]


def with_key(d, key, value):
    d = dict(d)
    d[key] = value
    return d


def without_key(d, key):
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
        Variant("extra key", lambda p, k: with_key(p, "dilation", 1), SAME),
        Variant("numpy ints", lambda p, k: {q: np.int64(x) for q, x in p.items()}, SAME),
        Variant("list", lambda p, k: list(p.values()), ERROR),
        Variant("None", lambda p, k: None, ERROR),
        Variant(f"{huge} 10**6", lambda p, k: with_key(p, huge, 10**6), ERROR),
    ]
    for key in keys:
        v.append(Variant(f"no {key}", lambda p, k, key=key: without_key(p, key), ERROR))
        for label, bad in (("str", "2"), ("1.5", 1.5), ("2.0", 2.0), ("True", True)):
            v.append(Variant(f"{key} {label}", lambda p, k, a=key, b=bad: with_key(p, a, b), ERROR))
        for bad in ("None", -1) + (() if key == "pad" else (0,)):
            value = None if bad == "None" else bad
            v.append(Variant(f"{key} {bad}", lambda p, k, a=key, b=value: with_key(p, a, b), ERROR))
    return v


def tuple_cache(layout, arrays, dicts=(), naive=None, any_rank=()):
    """Variants of a tuple cache: arity, entries of the wrong kind or shape, tampered dicts.

    ``arrays`` and ``dicts`` are the indices of the array and dict entries; an entry in
    ``any_rank`` (affine's x) may validly have one more axis, so that is not varied.
    """

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
            ]
            if i not in any_rank:
                v.append(
                    Variant(f"{name} one more axis", lambda c, k, i=i: put(c, i, c[i][None]), ERROR)
                )
        if i in dicts:
            key = next(iter(layout_keys(name)))
            v += [
                Variant(
                    f"{name} missing {key}",
                    lambda c, k, i=i, q=key: put(c, i, without_key(c[i], q)),
                    ERROR,
                ),
                Variant(
                    f"{name} {key} 0",
                    lambda c, k, i=i, q=key: put(c, i, with_key(c[i], q, 0)),
                    ERROR,
                ),
                Variant(
                    f"{name} {key} str",
                    lambda c, k, i=i, q=key: put(c, i, with_key(c[i], q, "2")),
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
        Variant("read-only", lambda c, k: read_only(c), SAME),
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
        if variant.same_as is not None:
            equivalent = variant.same_as(target.make(np.random.default_rng(seed)))
            outcome, detail = run(target, arg, variant, seed, target.fn(**equivalent))
        else:
            outcome, detail = run(target, arg, variant, seed, want)
        twin = check_twin_errors(target, arg, variant, seed, outcome)
        if twin:
            outcome, detail = "silent wrong answer", twin
        record(outcome, f"{target.name}({arg} = {variant.label}) seed {seed}: {detail}")


def long_run(cases: list, examples: int, seed: int = 20260) -> int:
    """Run every (target, argument) pair once, then random ones; print the outcome table.

    ``seed`` draws the plan (pairs and problems), so a run repeats exactly.
    """
    tally = collections.Counter()
    bad = []

    def record(outcome, description):
        tally[outcome] += 1
        if outcome not in GOOD:
            bad.append(f"{outcome}: {description}")

    rng = np.random.default_rng(seed)
    plan = [(case, int(rng.integers(2**32))) for case in cases]
    extra = max(0, examples - len(cases))
    plan += [(cases[int(rng.integers(len(cases)))], int(rng.integers(2**32))) for _ in range(extra)]
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for (target, arg), seed in plan:
            run_all(target, arg, seed, record)
    total = sum(tally.values())
    print(f"{total} calls, {len(plan)} examples, {time.perf_counter() - start:.0f} s\n")
    print("| outcome | count |\n|---|---|")
    for outcome in OUTCOMES:
        print(f"| {outcome} | {tally[outcome]} |")
    for line in bad[:50]:
        print(line)
    return 1 if bad else 0
