"""The one registry of exercises: what each covers, what it is worth, and where its tests live.

Everything that needs to know about exercises reads this table, and everything derived from
an exercise is derived here, once: the path of its module (:attr:`Exercise.path`, what a
student hands in and the grader reads), its public test file (:attr:`Exercise.public_tests`),
its pytest marker text (:attr:`Exercise.marker`; :func:`pytest_markers` is the list that both
the repository's ``pyproject.toml`` and the edition's carry) and its targets, the functions
whose solution regions the release stubs and whose names tag the grader's checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Exercise:
    """One exercise of the course.

    Attributes
    ----------
    name : str
        Short id; also the pytest marker and the ``--exercises`` name.
    module : str
        Module of the package that holds the student's code, e.g. ``"bpkit.layers"``.
    targets : tuple of str
        Qualified names of the functions or methods graded (``"TwoLayerNet.loss"``), in
        that module. Every solution region inside one of them belongs to this exercise.
    points : int
        Points for the whole exercise.
    title : str
        One line for tables and reports.
    """

    name: str
    module: str
    targets: tuple[str, ...]
    points: int
    title: str

    @property
    def public_tests(self) -> str:
        """Path, relative to the repository root, of the exercise's public test file."""
        return f"tests/exercises/test_{self.name}.py"

    @property
    def path(self) -> str:
        """Path, relative to the repository root, of the module that holds the exercise."""
        return self.module.replace(".", "/") + ".py"

    @property
    def marker(self) -> str:
        """The exercise's pytest marker line: ``name: description``."""
        where = f"{self.module}: {', '.join(self.targets)}"
        return f"{self.name}: exercise {self.name}, {self.title} ({where})"


EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        "affine",
        "bpkit.layers",
        ("affine_forward", "affine_backward"),
        10,
        "Affine layer forward and backward",
    ),
    Exercise(
        "relu", "bpkit.layers", ("relu_forward", "relu_backward"), 5, "ReLU forward and backward"
    ),
    Exercise(
        "softmax_loss",
        "bpkit.layers",
        ("softmax_loss",),
        10,
        "Softmax cross-entropy loss and gradient",
    ),
    Exercise(
        "two_layer_net",
        "bpkit.models",
        ("TwoLayerNet.loss",),
        15,
        "Two-layer net: scores, loss with L2, gradients",
    ),
    Exercise("sgd", "bpkit.optim", ("sgd",), 5, "Vanilla SGD update"),
    Exercise(
        "conv_forward", "bpkit.layers", ("conv_forward_naive",), 10, "Naive convolution forward"
    ),
    Exercise(
        "conv_backward", "bpkit.layers", ("conv_backward_naive",), 15, "Naive convolution backward"
    ),
    Exercise(
        "max_pool",
        "bpkit.layers",
        ("max_pool_forward_naive", "max_pool_backward_naive"),
        10,
        "Naive max pooling forward and backward",
    ),
    Exercise("sgd_momentum", "bpkit.optim", ("sgd_momentum",), 5, "SGD with momentum"),
    Exercise("rmsprop", "bpkit.optim", ("rmsprop",), 5, "RMSProp"),
    Exercise("adam", "bpkit.optim", ("adam",), 10, "Adam with bias correction"),
    Exercise(
        "convnet",
        "bpkit.models",
        ("ThreeLayerConvNet.loss",),
        10,
        "Three-layer ConvNet: scores, loss with L2, gradients",
    ),
)

BY_NAME: dict[str, Exercise] = {ex.name: ex for ex in EXERCISES}


def get(name: str) -> Exercise:
    """Return the exercise called ``name`` or raise naming the known ones."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown exercise {name!r}; expected one of {sorted(BY_NAME)}") from None


def owner_of(module: str, qualname: str) -> Exercise | None:
    """Return the exercise that grades ``module.qualname``, or None if no exercise does."""
    for ex in EXERCISES:
        if ex.module == module and qualname in ex.targets:
            return ex
    return None


# The stub of a released exercise raises NotImplementedError with this message: the release
# writes it, the public tests turn it into one line naming the exercise, and `bpkit collect`
# lists the exercises still stubbed. Names are identifiers, so the text needs no escaping.
STUB_MESSAGE = re.compile(r"(?P<exercise>\w+): (?P<qualname>[\w.]+) is not implemented yet")


def stub_message(exercise: str, qualname: str) -> str:
    """The message of the ``NotImplementedError`` that the stub of ``qualname`` raises."""
    return f"{exercise}: {qualname} is not implemented yet"


# The modules that hold exercises, relative to the repository root: what a student hands in
# and what the grader takes from a submission.
MODULE_PATHS: tuple[str, ...] = tuple(sorted({ex.path for ex in EXERCISES}))
# Dotted module name -> that path, for messages about a module of the submission.
MODULE_FILES: dict[str, str] = {ex.module: ex.path for ex in EXERCISES}

SLOW_MARKER = "slow: takes more than a few seconds"


def pytest_markers() -> list[str]:
    """The pytest ``markers`` lines: one per exercise, in registry order, then ``slow``.

    The edition's ``pyproject.toml`` is generated with them, and a test holds the
    repository's to the same lines word for word.
    """
    return [ex.marker for ex in EXERCISES] + [SLOW_MARKER]
