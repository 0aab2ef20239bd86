"""The hidden checks: what the grader runs for each exercise, and what each check is worth.

Never shipped to students (``bpkit release`` withholds everything in ``bpkit/assignments``
but the registry, ``collect`` and ``diagnose``). Each check is a function
``check(worker, rng)`` that drives the submission's code in the worker through
:class:`~bpkit.assignments.remote.Remote` proxies, computes the expected values here with the
reference implementation, and raises
:class:`~bpkit.assignments.hidden.compare.CheckFailed` on a mismatch. The points of an
exercise's checks add up to its points in :mod:`bpkit.assignments.exercises`; ``targets``
are the functions or methods a check grades (the Gradescope ``tags``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bpkit.assignments.hidden import conv, dense, model, optim
from bpkit.assignments.hidden.compare import CheckFailed
from bpkit.assignments.remote import Worker

__all__ = ["CHECKS", "Check", "CheckFailed"]


@dataclass(frozen=True)
class Check:
    """One hidden check.

    Attributes
    ----------
    exercise : str
        The exercise's name in the registry.
    name : str
        Short id, unique within the exercise.
    title : str
        What it verifies, in words (the Gradescope test name).
    points : float
    targets : tuple of str
        Functions or methods graded, as in the registry's targets.
    run : callable
        ``run(worker, rng)``; returns None or raises ``CheckFailed``.
    """

    exercise: str
    name: str
    title: str
    points: float
    targets: tuple[str, ...]
    run: Callable[[Worker, np.random.Generator], None]


def _checks(exercise: str, *rows: tuple) -> list[Check]:
    return [Check(exercise, *row) for row in rows]


FWD, BWD = "affine_forward", "affine_backward"
CONV_F, CONV_B = "conv_forward_naive", "conv_backward_naive"
POOL_F, POOL_B = "max_pool_forward_naive", "max_pool_backward_naive"
NET = ("TwoLayerNet.loss",)

CHECKS: dict[str, list[Check]] = {
    "affine": _checks(
        "affine",
        ("forward", "affine_forward on random 3-d inputs", 3, (FWD,), dense.affine_forward),
        (
            "backward",
            "affine_backward from its own forward's cache",
            5,
            (BWD,),
            dense.affine_backward,
        ),
        (
            "float32",
            "float32 stays float32; inputs left unchanged",
            2,
            (FWD, BWD),
            dense.affine_float32,
        ),
    ),
    "relu": _checks(
        "relu",
        ("forward", "relu_forward on mixed-sign inputs", 2, ("relu_forward",), dense.relu_forward),
        (
            "backward",
            "relu_backward from its own forward's cache",
            2,
            ("relu_backward",),
            dense.relu_backward,
        ),
        (
            "float32",
            "float32 stays float32; x left unchanged",
            1,
            ("relu_forward", "relu_backward"),
            dense.relu_float32,
        ),
    ),
    "softmax_loss": _checks(
        "softmax_loss",
        ("values", "loss and dx on random scores", 5, ("softmax_loss",), dense.softmax_values),
        (
            "large",
            "loss and dx for scores of magnitude 1e4",
            3,
            ("softmax_loss",),
            dense.softmax_large_scores,
        ),
        (
            "float32",
            "float32 dx; x and y left unchanged",
            2,
            ("softmax_loss",),
            dense.softmax_float32,
        ),
    ),
    "two_layer_net": _checks(
        "two_layer_net",
        ("scores", "scores when y is None", 3, NET, model.scores),
        ("loss", "loss and gradients, reg = 0", 5, NET, model.loss_no_reg),
        ("reg", "loss and gradients, reg > 0", 5, NET, model.loss_with_reg),
        ("unchanged", "X, y and params left unchanged", 2, NET, model.inputs_unchanged),
    ),
    "sgd": _checks(
        "sgd",
        ("step", "two steps with a given learning rate", 4, ("sgd",), optim.sgd_step),
        (
            "default",
            "one step from config=None (learning_rate 1e-2)",
            1,
            ("sgd",),
            optim.sgd_default,
        ),
    ),
    "sgd_momentum": _checks(
        "sgd_momentum",
        ("steps", "four steps carrying the velocity", 4, ("sgd_momentum",), optim.momentum_steps),
        ("default", "two steps from config=None", 1, ("sgd_momentum",), optim.momentum_default),
    ),
    "rmsprop": _checks(
        "rmsprop",
        ("steps", "four steps carrying the cache", 4, ("rmsprop",), optim.rmsprop_steps),
        ("default", "two steps from config=None", 1, ("rmsprop",), optim.rmsprop_default),
    ),
    "adam": _checks(
        "adam",
        ("steps", "five steps carrying m, v and t", 7, ("adam",), optim.adam_steps),
        ("default", "three steps from config=None", 3, ("adam",), optim.adam_default),
    ),
    "conv_forward": _checks(
        "conv_forward",
        ("basic", "stride 1, pad 1", 3, (CONV_F,), conv.conv_forward_basic),
        (
            "strided",
            "stride 2-3 with padding, non-square filters",
            5,
            (CONV_F,),
            conv.conv_forward_strided,
        ),
        (
            "float32",
            "float32 stays float32; inputs left unchanged",
            2,
            (CONV_F,),
            conv.conv_forward_float32,
        ),
    ),
    "conv_backward": _checks(
        "conv_backward",
        (
            "basic",
            "stride 1, pad 1, from its own forward's cache",
            5,
            (CONV_B,),
            conv.conv_backward_basic,
        ),
        (
            "strided",
            "stride 2-3 with padding, non-square filters",
            7,
            (CONV_B,),
            conv.conv_backward_strided,
        ),
        ("float32", "float32 gradients stay float32", 3, (CONV_B,), conv.conv_backward_float32),
    ),
    "max_pool": _checks(
        "max_pool",
        ("forward", "forward, separate and overlapping windows", 3, (POOL_F,), conv.pool_forward),
        ("backward", "backward, separate 2x2 windows", 2, (POOL_B,), conv.pool_backward),
        (
            "overlap",
            "backward, overlapping windows sharing a maximum",
            4,
            (POOL_B,),
            conv.pool_backward_overlap,
        ),
        (
            "float32",
            "float32 stays float32; x left unchanged",
            1,
            (POOL_F, POOL_B),
            conv.pool_float32,
        ),
    ),
}
