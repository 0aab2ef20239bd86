"""Hidden checks of the update rules: sgd, sgd_momentum, rmsprop, adam.

Rules run for several steps with their state carried over: each step hands the submission
the config its own previous step returned (it never leaves the worker) and the reference
its own, and compares the state (``velocity``, ``cache``, ``m``, ``v``, ``t``) and then the
step taken, ``next_w - w``. Comparing the step rather than ``next_w`` keeps the tolerance
relative to the update, so a small error in a small learning rate's step is not hidden by
the size of ``w``.

The shapes, the number of steps, where the gradients are tiny and the configs' keys are
fixed; only the values are drawn. Gradients are drawn with ``0.2 <= |dw| <= 2`` except
where a check puts tiny ones (``|dw|`` about 1e-4), which is where epsilon's place shows:
``sqrt(cache + eps)`` instead of ``sqrt(cache) + eps`` is off by tens of percent there, and
leaving epsilon out by about 1e-4. RMSProp has a row of tiny gradients in every check.
Adam has them in its ``small`` check only, which resumes from ``t = 10000``: the step form
of the Adam paper -- bias corrections folded into the learning rate, which moves
``epsilon`` by a factor ``sqrt(1 - beta2^t)`` -- is off by at most 2e-6 on the other
checks (within ``ADAM_RTOL``) and by 1e-8 there (within ``ADAM_SMALL_RTOL``), while
epsilon inside the square root is off by less than 2e-7 on the other checks and by 30% or
more there. A late ``t`` is off by 0.2% or more, a missing bias correction by more, on the
checks that start from ``t`` = 0 or 5.
"""

from __future__ import annotations

import copy

import numpy as np

from bpkit import optim as ref
from bpkit.assignments.grading.checks import compare as cmp
from bpkit.assignments.grading.worker_client import Remote, Worker
from bpkit.assignments.student import diagnose as dg

OPTIM = "bpkit.optim"
ADAM_RTOL = 1e-5
ADAM_SMALL_RTOL = 1e-6
STATE = {"sgd": (), "sgd_momentum": ("velocity",), "rmsprop": ("cache",), "adam": ("t", "m", "v")}
DEFAULTS = {
    "sgd": {"learning_rate": 1e-2},
    "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
    "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
}


def _gradient(rng: np.random.Generator, shape: tuple, tiny_rows: int) -> np.ndarray:
    dw = cmp.away(rng, shape, 0.2, 2.0)
    dw[:tiny_rows] = cmp.away(rng, (tiny_rows, shape[1]), 0.8e-4, 1.2e-4)
    return dw


def _run(
    worker: Worker,
    rng: np.random.Generator,
    rule: str,
    config: dict | None,
    steps: int,
    shape: tuple,
    tiny_rows: int = 0,
    rtol: float = cmp.RTOL,
) -> None:
    """Take ``steps`` steps with the submission's rule and the reference's, comparing each."""
    func = worker.function(f"{OPTIM}.{rule}")
    theirs: Remote | dict | None = copy.deepcopy(config)
    ours = copy.deepcopy(config)
    w = cmp.normal(rng, *shape)
    where = f"{shape[0]}x{shape[1]} w"
    if tiny_rows:
        where += ", dw about 1e-4" if tiny_rows == shape[0] else ", the first row of dw about 1e-4"
    start = " from config=None" if config is None else ""
    if config and "t" in config:
        start = f" resuming from a config with t = {config['t']}"
    for step in range(1, steps + 1):
        dw = _gradient(rng, shape, tiny_rows)
        res = func(w.copy(), dw.copy(), theirs)
        before = {**DEFAULTS[rule], **copy.deepcopy(ours or {})}
        expected, ours = getattr(ref, rule)(w.copy(), dw.copy(), ours)
        wrong = MISTAKES[rule](w, dw, before)
        label = f"{rule}, step {step} of {steps}{start} ({where})"
        got = cmp.array(f"next_w of {label}", res[0].get(), shape)
        for key in STATE[rule]:
            cmp.close(
                f"config[{key!r}] after {label}",
                res[1][key].get(),
                ours[key],
                hints=wrong.get(key, ()),
                nan_hint=wrong.get("nan", ""),
            )
        cmp.close(
            f"the step next_w - w of {label}",
            got - w,
            expected - w,
            rtol,
            hints=wrong.get("step", ()),
            nan_hint=wrong.get("nan", ""),
        )
        theirs, w = res[1], expected


def _sgd_mistakes(w, dw, c) -> dict:
    lr = c["learning_rate"]
    step = [(dg.SGD_WITH_W, -lr * w), (dg.SGD_SIGN, lr * dw)]
    if lr != DEFAULTS["sgd"]["learning_rate"]:
        step.append((dg.SGD_IGNORES_LR, -DEFAULTS["sgd"]["learning_rate"] * dw))
    return {"step": step}


def _momentum_mistakes(w, dw, c) -> dict:
    lr, mu = c["learning_rate"], c["momentum"]
    v_old = c.get("velocity", np.zeros_like(w))
    v = mu * v_old - lr * dw
    return {
        "velocity": [
            (dg.MOMENTUM_VELOCITY_SIGN, -v),
            (dg.MOMENTUM_NO_VELOCITY, -lr * dw),
        ],
        "step": [(dg.MOMENTUM_OLD_VELOCITY, v_old), (dg.MOMENTUM_NO_VELOCITY, -lr * dw)],
    }


def _rmsprop_mistakes(w, dw, c) -> dict:
    lr, d, eps = c["learning_rate"], c["decay_rate"], c["epsilon"]
    old = c.get("cache", np.zeros_like(w))
    cache = d * old + (1 - d) * dw**2
    return {
        "cache": [(dg.RMSPROP_DECAY_SWAPPED, (1 - d) * old + d * dw**2)],
        "step": [
            (dg.EPS_IN_SQRT, -lr * dw / np.sqrt(cache + eps)),
            (dg.RMSPROP_NO_SQRT, -lr * dw / (cache + eps)),
            (dg.EPS_MISSING, -lr * dw / np.sqrt(cache)),
        ],
    }


def _adam_mistakes(w, dw, c) -> dict:
    """What the classic Adam mistakes give, from the state before the step."""
    lr, b1, b2, eps = c["learning_rate"], c["beta1"], c["beta2"], c["epsilon"]
    m_prev, v_prev = c.get("m", np.zeros_like(w)), c.get("v", np.zeros_like(w))
    t_old = c.get("t", 0)
    t = t_old + 1
    m = b1 * m_prev + (1 - b1) * dw
    v = b2 * v_prev + (1 - b2) * dw**2
    m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
    step = [
        (dg.ADAM_NO_BIAS_CORRECTION, -lr * m / (np.sqrt(v) + eps)),
        (dg.EPS_IN_SQRT, -lr * m_hat / np.sqrt(v_hat + eps)),
        (dg.EPS_MISSING, -lr * m_hat / np.sqrt(v_hat)),
    ]
    if t_old > 0:  # with t = 0, using t before its increment divides by zero: the nan hint
        late_m, late_v = m / (1 - b1**t_old), v / (1 - b2**t_old)
        step.append((dg.ADAM_T_AFTER_USE, -lr * late_m / (np.sqrt(late_v) + eps)))
    return {
        "t": [(dg.ADAM_T_NEVER, t_old)],
        "m": [(dg.ADAM_STORES_HAT, m_hat)],
        "v": [
            (dg.ADAM_STORES_HAT, v_hat),
            (dg.ADAM_V_NOT_SQUARED, b2 * v_prev + (1 - b2) * dw),
        ],
        "step": step,
        "nan": dg.ADAM_T_AFTER_USE if t_old == 0 else "",
    }


MISTAKES = {
    "sgd": _sgd_mistakes,
    "sgd_momentum": _momentum_mistakes,
    "rmsprop": _rmsprop_mistakes,
    "adam": _adam_mistakes,
}


def sgd_step(worker: Worker, rng: np.random.Generator) -> None:
    config = {"learning_rate": float(rng.uniform(0.05, 0.5))}
    _run(worker, rng, "sgd", config, 2, (3, 5))


def sgd_default(worker: Worker, rng: np.random.Generator) -> None:
    _run(worker, rng, "sgd", None, 1, (4, 2))


def momentum_steps(worker: Worker, rng: np.random.Generator) -> None:
    config = {
        "learning_rate": float(rng.uniform(0.01, 0.2)),
        "momentum": float(rng.uniform(0.5, 0.95)),
    }
    _run(worker, rng, "sgd_momentum", config, 4, (3, 5))


def momentum_default(worker: Worker, rng: np.random.Generator) -> None:
    _run(worker, rng, "sgd_momentum", None, 2, (4, 2))


def rmsprop_steps(worker: Worker, rng: np.random.Generator) -> None:
    config = {
        "learning_rate": float(rng.uniform(0.01, 0.1)),
        "decay_rate": float(rng.uniform(0.8, 0.99)),
    }
    _run(worker, rng, "rmsprop", config, 4, (3, 5), tiny_rows=1)


def rmsprop_default(worker: Worker, rng: np.random.Generator) -> None:
    _run(worker, rng, "rmsprop", None, 2, (4, 2), tiny_rows=1)


def _adam_config(rng: np.random.Generator) -> dict:
    return {
        "learning_rate": float(rng.uniform(1e-3, 1e-1)),
        "beta1": float(rng.uniform(0.8, 0.95)),
        "beta2": float(rng.uniform(0.9, 0.999)),
    }


def adam_steps(worker: Worker, rng: np.random.Generator) -> None:
    """Five steps resuming from a saved state (t = 5), so a late t shows in finite numbers."""
    config = _adam_config(rng)
    shape = (3, 5)
    config.update(m=cmp.normal(rng, *shape, scale=0.1), v=cmp.away(rng, shape, 0.2, 1.0) ** 2, t=5)
    _run(worker, rng, "adam", config, 5, shape, rtol=ADAM_RTOL)


def adam_small(worker: Worker, rng: np.random.Generator) -> None:
    """Three steps of gradients about 1e-4, resuming from t = 10000: epsilon's place shows.

    So late in a run ``1 - beta2**t`` is 1 to 5e-5, so the Adam paper's step form agrees
    with the API's to 1e-8, while epsilon inside the square root (40%) or left out (1e-4)
    does not.
    """
    config = _adam_config(rng)
    shape = (3, 4)
    config.update(
        m=cmp.away(rng, shape, 0.8e-4, 1.2e-4),
        v=cmp.away(rng, shape, 0.8e-4, 1.2e-4) ** 2,
        t=10_000,
    )
    _run(worker, rng, "adam", config, 3, shape, tiny_rows=shape[0], rtol=ADAM_SMALL_RTOL)


def adam_default(worker: Worker, rng: np.random.Generator) -> None:
    _run(worker, rng, "adam", None, 3, (4, 2), rtol=ADAM_RTOL)
