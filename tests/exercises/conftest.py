"""Fixtures and reporting shared by the public exercise tests.

The tests reach the exercise modules through the fixtures below instead of importing them at
the top of the file, so a module that fails to import shows up in the tests that need it,
never as an error that stops the collection of every test. They are session-scoped so that
hypothesis tests can use them too. A stub that is still
there (``raise NotImplementedError``) is reported as one short line naming the exercise.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from bpkit.assignments.student import exercises


@pytest.fixture(scope="session")
def layers():
    """The module :mod:`bpkit.layers` (affine, relu, softmax_loss, conv and pool exercises)."""
    return importlib.import_module("bpkit.layers")


@pytest.fixture(scope="session")
def optim():
    """The module :mod:`bpkit.optim` (the update-rule exercises)."""
    return importlib.import_module("bpkit.optim")


@pytest.fixture(scope="session")
def models():
    """The module :mod:`bpkit.models` (the two_layer_net and convnet exercises)."""
    return importlib.import_module("bpkit.models")


@pytest.fixture
def rng():
    """A seeded generator, so that every run draws the same inputs."""
    return np.random.default_rng(231)


def _not_implemented(item: pytest.Item, exc: BaseException) -> str:
    found = exercises.STUB_MESSAGE.fullmatch(str(exc))
    if found:
        name, qualname = found["exercise"], found["qualname"]
    else:
        marks = [m.name for m in item.iter_markers() if m.name != "parametrize"]
        name, qualname = (marks[0] if marks else "?"), "a function it needs"
    try:
        where = " in " + exercises.get(name).path
    except KeyError:
        where = ""
    return (
        f"exercise {name} is not implemented yet: {qualname}{where} still raises "
        f"NotImplementedError. Write the part marked TODO({name}), then run "
        f"`python -m pytest -m {name}`."
    )


# Errors that a test raises before its own message can be built, and what usually causes them.
LIKELY_CAUSES = (
    (
        TypeError,
        "cannot unpack non-iterable NoneType",
        "the function returned None: is its `return` line missing?",
    ),
    (
        AttributeError,
        "'NoneType' object has no attribute",
        "the function returned None: is its `return` line missing?",
    ),
    (
        ValueError,
        "rel_error: expected arrays of one shape",
        "an answer has the wrong shape, or is None; compare it with the shapes in the docstring",
    ),
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if not report.failed or call.excinfo is None:
        return
    if call.excinfo.errisinstance(NotImplementedError):
        report.longrepr = _not_implemented(item, call.excinfo.value)
        return
    for kind, words, cause in LIKELY_CAUSES:
        if call.excinfo.errisinstance(kind) and words in str(call.excinfo.value):
            report.sections.append(("likely cause", cause))
