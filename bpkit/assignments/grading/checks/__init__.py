"""The hidden checks: what the grader runs for each exercise, and what each check is worth.

Never shipped to students (``bpkit release`` withholds everything in ``bpkit/assignments``
but the registry, ``collect`` and ``diagnose``). Each check is a function
``check(worker, rng)`` that drives the submission's code in the worker through
:class:`~..worker_client.Remote` proxies, computes the expected values here with the
reference implementation, and raises
:class:`~bpkit.assignments.grading.checks.compare.CheckFailed` on a mismatch. The points of an
exercise's checks are its points (:func:`points`); the registry,
:mod:`bpkit.assignments.student.exercises`, ships without the checks and states the same
sums for the student's table, which a test keeps equal. ``targets`` are exactly the
functions or methods whose mistakes can fail a check (the Gradescope ``tags``).

A check raises ``CheckFailed`` (or lets the worker's ``StudentError`` through) only about
what the submission did; any other exception is a fault of the check itself, and stops the
grading run rather than cost a student points.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bpkit.assignments.grading.checks import conv, dense, model, optim
from bpkit.assignments.grading.checks.compare import CheckFailed
from bpkit.assignments.grading.worker_client import Worker

__all__ = [
    "CHECKS",
    "FAST_LAYERS_STAND_IN",
    "NAIVE_ONLY",
    "Check",
    "CheckFailed",
    "points",
]

# Exercises whose naive layers must not call the fast ones, which the student edition ships
# complete: while they are graded, the worker's bpkit/fast_layers.py is the stand-in below.
NAIVE_ONLY = frozenset({"conv_forward", "conv_backward", "max_pool"})
_FAST = (
    "conv_forward_fast",
    "conv_backward_fast",
    "max_pool_forward_fast",
    "max_pool_backward_fast",
)
FAST_LAYERS_STAND_IN = (
    '"""Stand-in for bpkit.fast_layers while the naive layers are graded: every call raises."""'
    '\n\nMESSAGE = "fast layers are not available while grading the naive layers"\n'
    + "".join(
        f"\n\ndef {name}(*args, **kwargs):\n    raise RuntimeError(MESSAGE)\n" for name in _FAST
    )
)


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
CONVNET = ("ThreeLayerConvNet.loss",)


class _Checks(dict):
    """The table of hidden checks; an exercise without an entry is named, not a bare KeyError."""

    def __missing__(self, name: str) -> list[Check]:
        raise KeyError(
            f"exercise {name!r} is in the registry (bpkit/assignments/student/exercises.py) "
            "but has no hidden checks in bpkit/assignments/grading/checks/__init__.py"
        )


def points(name: str) -> float:
    """The points of exercise ``name``: the sum of its checks' points."""
    return sum(check.points for check in CHECKS[name])


CHECKS: dict[str, list[Check]] = _Checks(
    {
        "affine": _checks(
            "affine",
            ("forward", "affine_forward on 2-, 3- and 4-d inputs", 3, (FWD,), dense.affine_forward),
            (
                "backward",
                "affine_backward on its forward's cache (the given layout if the forward raises)",
                4,
                (BWD,),
                dense.affine_backward,
            ),
            (
                "pair",
                "affine_forward's output, then its own cache through affine_backward",
                1,
                (FWD, BWD),
                dense.affine_pair,
            ),
            (
                "float32",
                "float32 stays float32 with the right values; inputs left unchanged",
                2,
                (FWD, BWD),
                dense.affine_float32,
            ),
        ),
        "relu": _checks(
            "relu",
            (
                "forward",
                "relu_forward on mixed signs and exact zeros",
                2,
                ("relu_forward",),
                dense.relu_forward,
            ),
            (
                "backward",
                "relu_backward on its forward's cache (the given layout if the forward raises)",
                1,
                ("relu_backward",),
                dense.relu_backward,
            ),
            (
                "pair",
                "relu_forward's output, then its own cache through relu_backward",
                1,
                ("relu_forward", "relu_backward"),
                dense.relu_pair,
            ),
            (
                "float32",
                "float32 stays float32 with the right values; x left unchanged",
                1,
                ("relu_forward", "relu_backward"),
                dense.relu_float32,
            ),
        ),
        "softmax_loss": _checks(
            "softmax_loss",
            ("values", "loss and dx, N = 1 and N != C", 5, ("softmax_loss",), dense.softmax_values),
            (
                "large",
                "loss and dx for scores of magnitude 1e4 (rows of either sign)",
                3,
                ("softmax_loss",),
                dense.softmax_large_scores,
            ),
            (
                "float32",
                "float32 dx with the right values; x and y left unchanged",
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
            (
                "unchanged",
                "right loss and gradients with X, y and params left unchanged",
                2,
                NET,
                model.inputs_unchanged,
            ),
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
            (
                "steps",
                "four steps carrying the velocity",
                4,
                ("sgd_momentum",),
                optim.momentum_steps,
            ),
            ("default", "two steps from config=None", 1, ("sgd_momentum",), optim.momentum_default),
        ),
        "rmsprop": _checks(
            "rmsprop",
            (
                "steps",
                "four steps carrying the cache, some gradients about 1e-4",
                4,
                ("rmsprop",),
                optim.rmsprop_steps,
            ),
            ("default", "two steps from config=None", 1, ("rmsprop",), optim.rmsprop_default),
        ),
        "adam": _checks(
            "adam",
            (
                "steps",
                "five steps resuming from t = 5, carrying m, v and t",
                5,
                ("adam",),
                optim.adam_steps,
            ),
            (
                "small",
                "three steps with gradients of about 1e-4, where epsilon's place shows",
                2,
                ("adam",),
                optim.adam_small,
            ),
            ("default", "three steps from config=None", 3, ("adam",), optim.adam_default),
        ),
        "conv_forward": _checks(
            "conv_forward",
            (
                "basic",
                "stride 1, pad 0 and pad 1, non-square images and kernels",
                3,
                (CONV_F,),
                conv.conv_forward_basic,
            ),
            (
                "strided",
                "strides 2 and 3, pad 0 to 2, non-square images and kernels",
                5,
                (CONV_F,),
                conv.conv_forward_strided,
            ),
            (
                "float32",
                "float32 stays float32 with the right values; inputs left unchanged",
                2,
                (CONV_F,),
                conv.conv_forward_float32,
            ),
        ),
        "conv_backward": _checks(
            "conv_backward",
            (
                "basic",
                "stride 1, pad 1 (the forward's cache, or the given layout if it raises)",
                4,
                (CONV_B,),
                conv.conv_backward_basic,
            ),
            (
                "pad0",
                "pad 0 with strides 1 and 2, non-square kernels",
                3,
                (CONV_B,),
                conv.conv_backward_pad0,
            ),
            (
                "strided",
                "strides 2 and 3, pad 1 and 2, non-square images and kernels",
                5,
                (CONV_B,),
                conv.conv_backward_strided,
            ),
            (
                "float32",
                "float32 gradients stay float32 with the right values",
                3,
                (CONV_B,),
                conv.conv_backward_float32,
            ),
        ),
        "max_pool": _checks(
            "max_pool",
            (
                "forward",
                "forward: tiling, gapped, tall and overlapping windows",
                3,
                (POOL_F,),
                conv.pool_forward,
            ),
            (
                "backward",
                "backward: tiling, gapped and tall windows",
                2,
                (POOL_B,),
                conv.pool_backward,
            ),
            (
                "overlap",
                "backward: overlapping windows sharing a maximum",
                3,
                (POOL_B,),
                conv.pool_backward_overlap,
            ),
            (
                "pair",
                "the forward's output, then its own cache through the backward",
                1,
                (POOL_F, POOL_B),
                conv.pool_pair,
            ),
            (
                "float32",
                "float32 stays float32 with the right values; x left unchanged",
                1,
                (POOL_F, POOL_B),
                conv.pool_float32,
            ),
        ),
        "convnet": _checks(
            "convnet",
            ("scores", "scores when y is None", 2, CONVNET, model.convnet_scores),
            ("loss", "loss and gradients, reg = 0", 2, CONVNET, model.convnet_loss_no_reg),
            ("reg", "loss and gradients, reg > 0", 3, CONVNET, model.convnet_loss_with_reg),
            (
                "float32",
                "a float32 model keeps float32 scores and gradients",
                2,
                CONVNET,
                model.convnet_float32,
            ),
            (
                "unchanged",
                "right loss and gradients with X, y and params left unchanged",
                1,
                CONVNET,
                model.convnet_inputs_unchanged,
            ),
        ),
    }
)
