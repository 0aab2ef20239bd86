"""Modules laid over a worker's copy of the submission for the exercise it grades.

- While a model exercise is graded, ``bpkit/layers.py`` and ``bpkit/layer_utils.py`` are
  served by the grading process (:mod:`.layer_service`): the model is graded on its own
  code, on the reference layers, which never enter the worker.
- While an exercise that computes a gradient is graded, ``bpkit/gradcheck.py`` refuses to
  run: a numerical gradient cannot stand in for a backward pass.

(The fast layers' stand-in for the naive conv and pool exercises is in :mod:`.checks`.)
"""

from __future__ import annotations

import os
from pathlib import Path

from bpkit.assignments.grading import layer_service
from bpkit.assignments.student import exercises

MODEL_EXERCISES = frozenset(ex.name for ex in exercises.EXERCISES if ex.module == "bpkit.models")
GRADIENT_EXERCISES = frozenset(
    {"affine", "relu", "softmax_loss", "conv_backward", "max_pool"} | MODEL_EXERCISES
)
GRADCHECK_NAMES = (
    "rel_error",
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "grad_check_sparse",
)
GRADCHECK_MESSAGE = (
    "bpkit.gradcheck is not available while a gradient is graded: "
    "compute the backward pass analytically"
)
GRADCHECK_STAND_IN = (
    '"""Stand-in for bpkit.gradcheck while a gradient is graded: every call raises."""\n\n'
    f"MESSAGE = {GRADCHECK_MESSAGE!r}\n"
    + "".join(
        f"\n\ndef {name}(*args, **kwargs):\n    raise RuntimeError(MESSAGE)\n"
        for name in GRADCHECK_NAMES
    )
)


def lay_over(run_dir: Path, exercise: str) -> None:
    """Replace files of the worker's copy ``run_dir`` for grading ``exercise``.

    For a model exercise the submission's own ``bpkit/layers.py`` is kept as
    ``bpkit/_submitted_layers.py``, where the stand-in finds any helper a model imports
    from ``bpkit.layers`` besides the layers themselves.
    """
    if exercise in GRADIENT_EXERCISES:
        (run_dir / "bpkit/gradcheck.py").write_text(GRADCHECK_STAND_IN, encoding="utf-8")
    if exercise in MODEL_EXERCISES:
        own = run_dir / "bpkit/layers.py"
        if own.is_file():
            os.replace(own, run_dir / layer_service.SUBMITTED_LAYERS)
        for rel, text in layer_service.stand_ins().items():
            (run_dir / rel).write_text(text, encoding="utf-8")


def layer_service_for(exercise: str) -> layer_service.LayerService | None:
    """The layer service a model exercise's worker needs, or None."""
    return layer_service.LayerService() if exercise in MODEL_EXERCISES else None
