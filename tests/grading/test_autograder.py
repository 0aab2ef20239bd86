"""``bpkit autograder``: the zip's contents, and run_autograder in a Gradescope-like folder."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import grading_fixtures as fx
import pytest

from bpkit.assignments.grading import autograder
from bpkit.assignments.student import collect, exercises
from bpkit.cli import main

TOTAL = sum(ex.points for ex in exercises.EXERCISES)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("zip") / "autograder.zip"
    assert main(["autograder", str(out), "--timeout", "10", "--memory", "1024"]) == 0
    return out


def test_the_zip_holds_the_scripts_the_kit_and_a_stubbed_edition(built):
    with zipfile.ZipFile(built) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        names = set(infos)
        for script in ("setup.sh", "run_autograder"):
            assert (infos[script].external_attr >> 16) & 0o111, script
        assert {"kit/pyproject.toml", "kit/bpkit/layers.py"} <= names
        assert "kit/bpkit/assignments/grading/checks/__init__.py" in names
        pristine = zf.read("pristine/bpkit/layers.py").decode()
        run = zf.read("run_autograder").decode()
    assert not any("__pycache__" in n for n in names)
    assert not re.search(r"^\s*# BEGIN SOLUTION\s*$", pristine, re.M)
    assert "NotImplementedError" in pristine
    assert "--timeout 10.0 --memory 1024" in run
    assert "/autograder/results/results.json" not in run  # built from the overridable root


def _container(tmp_path: Path, built: Path, submission: Path | None) -> Path:
    """A folder laid out like Gradescope's /autograder, with the zip unpacked in source/."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(built) as zf:
        zf.extractall(root / "source")
    (root / "submission").mkdir()
    if submission is not None:
        os.replace(submission, root / "submission" / submission.name)
    return root


def _run(root: Path) -> dict:
    env = {
        "PATH": os.environ["PATH"],
        autograder.ROOT_VARIABLE: str(root),
        "BPKIT_PYTHON": sys.executable,
    }
    proc = subprocess.run(
        ["bash", str(root / "source" / "run_autograder")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads((root / "results" / "results.json").read_text())


def test_run_autograder_grades_a_collected_submission(built, tmp_path):
    edition = fx.honest_edition(tmp_path / "edition")
    zipped = collect.collect(edition, tmp_path / "submission.zip")
    results = _run(_container(tmp_path, built, zipped))
    assert results["score"] == TOTAL
    assert all(t["status"] == "passed" for t in results["tests"])
    assert {tuple(t["tags"]) for t in results["tests"]} >= {("adam",), ("TwoLayerNet.loss",)}


def test_an_empty_submission_scores_zero_with_reasons(built, tmp_path):
    results = _run(_container(tmp_path, built, None))
    assert results["score"] == 0
    assert all("is not in the submission" in t["output"] for t in results["tests"])


def test_when_grading_cannot_run_the_student_is_told(built, tmp_path):
    root = _container(tmp_path, built, None)
    (root / "source" / "pristine" / "bpkit" / "layers.py").unlink()
    results = _run(root)
    assert results["score"] == 0
    assert "could not run" in results["output"]


def test_the_kit_and_its_pyproject_come_from_the_source_given(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(
        fx.REPO / "bpkit", source / "bpkit", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copyfile(fx.REPO / "pyproject.toml", source / "pyproject.toml")
    fx.append(source / "bpkit" / "__init__.py", "SOURCE_TREE_MARK = 1")
    edition = fx.stub_edition(tmp_path / "edition")
    out = autograder.build(tmp_path / "autograder.zip", edition=edition, source=source)
    with zipfile.ZipFile(out) as zf:
        assert b"SOURCE_TREE_MARK" in zf.read("kit/bpkit/__init__.py")
        assert zf.read("kit/pyproject.toml") == (source / "pyproject.toml").read_bytes()


@pytest.mark.parametrize("allow", [False, True], ids=["confined only", "allow unconfined"])
def test_unconfined_grading_is_an_explicit_choice_written_into_run_autograder(tmp_path, allow):
    out = tmp_path / "autograder.zip"
    args = ["autograder", str(out)] + (["--allow-unconfined"] if allow else [])
    assert main(args) == 0
    with zipfile.ZipFile(out) as zf:
        run = zf.read("run_autograder").decode()
    assert ("--allow-unconfined" in run) is allow
