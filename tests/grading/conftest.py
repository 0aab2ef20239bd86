"""Fixtures of the grading tests that drive one submission at a time through real workers.

``ctx`` is one grading run's context per module (pristine edition, worker runtime, a
probe of the sandbox); ``honest`` the reference edition's exercise modules, as text, for
tests that lay a variant of one function over them.
"""

from __future__ import annotations

import grading_fixtures as fx
import pytest

from bpkit.assignments.grading import one_submission
from bpkit.assignments.grading.runtime.sandbox import Limits


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    ctx = one_submission.make_context(tmp_path_factory.mktemp("grading"), Limits(timeout=30))
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def honest(tmp_path_factory) -> dict[str, str]:
    edition = fx.honest_edition(tmp_path_factory.mktemp("honest") / "edition")
    return {rel: (edition / rel).read_text() for rel in fx.MODULES}
