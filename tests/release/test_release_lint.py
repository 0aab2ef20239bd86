"""A fresh student edition lints clean with the repository's rules and no exemptions.

``test_release.py`` runs ruff on a fresh edition; these tests make sure it does so with
every rule on in the exercise modules. The stubs keep the given code valid (``out = None``
before a region, ``loss, grads = None, {}`` before the backward half of a model), so the
edition needs no per-file ignores, and a student's own undefined name in an exercise
module is flagged like anywhere else.
"""

from __future__ import annotations

import re

import pytest
from edition_runs import run_in

from bpkit.assignments.release import edition as release
from bpkit.assignments.student import exercises


@pytest.fixture(scope="module")
def stubbed(tmp_path_factory):
    """An edition with every exercise a stub."""
    return release.build(tmp_path_factory.mktemp("lint") / "edition")


def ruff(folder, *args):
    return run_in(folder, "-m", "ruff", *args, "--no-cache", timeout=120)


def test_the_edition_checks_the_exercise_modules_with_every_rule(stubbed):
    text = (stubbed / "pyproject.toml").read_text(encoding="utf-8")
    assert "per-file-ignores" not in text
    for rel in exercises.MODULE_PATHS:
        assert "raise NotImplementedError" in (stubbed / rel).read_text(encoding="utf-8"), rel


def test_a_students_undefined_name_in_an_exercise_module_is_flagged(stubbed, tmp_path):
    # A typo in a filled-in region: `outt` where `out` was meant.
    folder = tmp_path / "typo"
    release.build(folder, exercises=["relu"])
    layers = folder / exercises.get("relu").path
    text = layers.read_text(encoding="utf-8")
    stub = re.search(r"^( +)raise NotImplementedError\(\"relu: relu_forward .*$", text, re.M)
    assert stub, "no relu_forward stub in the edition"
    indent = stub.group(1)
    layers.write_text(text.replace(stub.group(0), f"{indent}out = np.maximum(outt, 0)"))
    done = ruff(folder, "check", "--output-format", "concise", ".")
    assert done.returncode == 1
    flagged = re.findall(r"^(\S+):\d+:\d+: (F\d+)", done.stdout, re.M)
    assert flagged == [(exercises.get("relu").path, "F821")], done.stdout
