"""Hidden checks of the update rules: sgd, sgd_momentum, rmsprop, adam.

Rules run for several steps with their state carried over: each step hands the submission
the config its own previous step returned (it never leaves the worker) and the reference
its own, and compares the step taken, ``next_w - w``, and the state. Comparing the step
rather than ``next_w`` keeps the tolerance relative to the update, so a small error in a
small learning rate's step is not hidden by the size of ``w``.

Gradients are drawn away from zero (``0.2 <= |dw| <= 2``). For Adam this bounds
``epsilon / sqrt(v)`` by 2e-6, so the step form of the Adam paper -- bias corrections folded
into the learning rate, which moves ``epsilon`` by a factor ``sqrt(1 - beta2^t)`` -- stays
within ``ADAM_RTOL``, while a missing bias correction or a late ``t`` is off by 10% or more.
"""

from __future__ import annotations

import copy

import numpy as np

from bpkit import optim as ref
from bpkit.assignments.grading.checks import compare as cmp
from bpkit.assignments.grading.worker_client import Remote, Worker

OPTIM = "bpkit.optim"
ADAM_RTOL = 1e-5
STATE = {"sgd": (), "sgd_momentum": ("velocity",), "rmsprop": ("cache",), "adam": ("m", "v", "t")}


def _run(
    worker: Worker,
    rng: np.random.Generator,
    rule: str,
    config: dict | None,
    steps: int,
    hints=None,
) -> None:
    """Take ``steps`` steps with the submission's rule and the reference's, comparing each."""
    shape = (int(rng.integers(2, 5)), int(rng.integers(2, 6)))
    func = worker.function(f"{OPTIM}.{rule}")
    theirs: Remote | dict | None = copy.deepcopy(config)
    ours = copy.deepcopy(config)
    w = cmp.normal(rng, *shape)
    for step in range(1, steps + 1):
        dw = rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.2, 2.0, size=shape)
        res = func(w.copy(), dw.copy(), theirs)
        before = copy.deepcopy(ours)
        expected, ours = getattr(ref, rule)(w.copy(), dw.copy(), ours)
        label = f"{rule}, step {step} of {steps}" + (" from config=None" if config is None else "")
        wrong = hints(w, dw, before, step) if hints else ()
        got = cmp.array(f"next_w of {label}", res[0].get(), shape)
        rtol = ADAM_RTOL if rule == "adam" else cmp.RTOL
        cmp.close(f"the step next_w - w of {label}", got - w, expected - w, rtol, wrong)
        for key in STATE[rule]:
            cmp.close(f"config[{key!r}] after {label}", res[1][key].get(), ours[key])
        theirs, w = res[1], expected


def sgd_step(worker: Worker, rng: np.random.Generator) -> None:
    def hints(w, dw, config, step):
        return [("stepping with w instead of dw", -config["learning_rate"] * w)]

    _run(worker, rng, "sgd", {"learning_rate": float(rng.uniform(0.05, 0.5))}, 2, hints)


def sgd_default(worker: Worker, rng: np.random.Generator) -> None:
    _run(worker, rng, "sgd", None, 1)


def momentum_steps(worker: Worker, rng: np.random.Generator) -> None:
    config = {
        "learning_rate": float(rng.uniform(0.01, 0.2)),
        "momentum": float(rng.uniform(0.5, 0.95)),
    }
    _run(worker, rng, "sgd_momentum", config, 4)


def momentum_default(worker: Worker, rng: np.random.Generator) -> None:
    _run(worker, rng, "sgd_momentum", None, 2)


def rmsprop_steps(worker: Worker, rng: np.random.Generator) -> None:
    config = {
        "learning_rate": float(rng.uniform(0.01, 0.1)),
        "decay_rate": float(rng.uniform(0.8, 0.99)),
    }
    _run(worker, rng, "rmsprop", config, 4)


def rmsprop_default(worker: Worker, rng: np.random.Generator) -> None:
    _run(worker, rng, "rmsprop", None, 2)


def _adam_hints(w, dw, config, step):
    """Steps of the two classic Adam mistakes, from the state before the step."""
    c = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
    c.update(config or {})
    m_prev = c.get("m", np.zeros_like(w))
    v_prev = c.get("v", np.zeros_like(w))
    lr, b1, b2, eps = c["learning_rate"], c["beta1"], c["beta2"], c["epsilon"]
    m = b1 * m_prev + (1 - b1) * dw
    v = b2 * v_prev + (1 - b2) * dw**2
    out = [("Adam without bias correction", -lr * m / (np.sqrt(v) + eps))]
    t_old = c.get("t", 0)
    if t_old > 0:  # t used before its increment: t = 0 divides by zero on the first step
        m_hat, v_hat = m / (1 - b1**t_old), v / (1 - b2**t_old)
        out.append(("incrementing t after using it", -lr * m_hat / (np.sqrt(v_hat) + eps)))
    return out


def adam_steps(worker: Worker, rng: np.random.Generator) -> None:
    config = {
        "learning_rate": float(rng.uniform(1e-3, 1e-1)),
        "beta1": float(rng.uniform(0.8, 0.95)),
        "beta2": float(rng.uniform(0.9, 0.999)),
    }
    _run(worker, rng, "adam", config, 5, _adam_hints)


def adam_default(worker: Worker, rng: np.random.Generator) -> None:
    _run(worker, rng, "adam", None, 3, _adam_hints)
