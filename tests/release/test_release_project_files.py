"""Release step ``project_files``: the student's pyproject, environment, README and manifest."""

import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest

from bpkit.assignments.release import edition as release
from bpkit.assignments.release import student_files
from bpkit.assignments.student import collect, exercises

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]
RELEASED = ["affine", "sgd", "two_layer_net"]


def repo_project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def files():
    rendered = {
        "bpkit/layers.py": b"",
        "bpkit/models.py": b"",
        "bpkit/optim.py": b"",
        "bpkit/solver.py": b"",
        "notebooks/intro.ipynb": b"{}",
        "tests/nbval_sanitize.cfg": b"",
    }
    release.project_files(REPO, RELEASED, rendered)
    return {rel: data.decode("utf-8") for rel, data in rendered.items()}


def test_pyproject_keeps_dependencies_and_generates_markers(files):
    student = tomllib.loads(files["pyproject.toml"])
    repo = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert student["project"]["dependencies"] == repo["project"]["dependencies"]
    assert (
        student["project"]["optional-dependencies"]["dev"]
        == repo["project"]["optional-dependencies"]["dev"]
    )
    assert student["project"]["scripts"] == {"bpkit": "bpkit.cli:main"}
    pytest_options = student["tool"]["pytest"]["ini_options"]
    assert "--strict-markers" in pytest_options["addopts"].split()
    assert pytest_options["testpaths"] == ["tests"]
    names = [line.split(":")[0] for line in pytest_options["markers"]]
    assert names == [ex.name for ex in exercises.EXERCISES] + ["slow"]


def test_environment_lists_the_same_packages(files):
    text = files["environment.yml"]
    repo = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for dep in repo["dependencies"] + repo["optional-dependencies"]["dev"]:
        assert f"  - {dep.split(';')[0].replace(' ', '')}\n" in text
    assert "      - -e .\n" in text


def test_readme_gives_install_self_check_notebook_check_and_hand_in(files):
    text = files["README.md"]
    for command in (
        'python -m pip install -e ".[dev]"',
        "python -m pytest\n",
        "python -m pytest -m affine",
        (
            "python -m pytest --nbval --nbval-current-env notebooks "
            "--nbval-sanitize-with tests/nbval_sanitize.cfg"
        ),
        "bpkit collect",
    ):
        assert command in text, command
    for name in RELEASED:
        assert f"| `{name}` |" in text
    assert "| `adam` |" not in text
    assert "- `notebooks/intro.ipynb`" in text


def test_manifest_lists_released_exercises_and_handed_in_files(files):
    manifest = json.loads(files[collect.MANIFEST])
    assert manifest["released_exercises"] == sorted(RELEASED)
    assert manifest["submitted_files"] == [
        "bpkit/layers.py",
        "bpkit/models.py",
        "bpkit/optim.py",
        "notebooks/intro.ipynb",
    ]


def test_pyproject_carries_the_ruff_settings_and_exempts_no_module(files):
    repo = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["ruff"]
    student = tomllib.loads(files["pyproject.toml"])["tool"]["ruff"]
    assert student["line-length"] == repo["line-length"]
    assert student["lint"]["select"] == repo["lint"]["select"]
    assert student["format"] == repo["format"]
    # The stubs keep the given code valid, so no rule is turned off in the exercise modules.
    assert "per-file-ignores" not in student["lint"]
    kept = student_files.pyproject(
        {**repo_project(), "tool": {"ruff": {"lint": {"per-file-ignores": {"x.py": ["E501"]}}}}}
    )
    assert tomllib.loads(kept)["tool"]["ruff"]["lint"]["per-file-ignores"] == {"x.py": ["E501"]}


def test_environment_leaves_out_the_markers_conda_cannot_read():
    project = repo_project()
    project["project"]["dependencies"] = ["numpy>=1.24", "tomli>=2; python_version < '3.11'"]
    text = student_files.environment_yml(project)
    assert "  - tomli>=2\n" in text and "  - numpy>=1.24\n" in text
    assert "python_version" not in text


def test_the_release_reads_pyproject_with_tomli_before_python_3_11(monkeypatch):
    # Load a private copy of the module as Python 3.10 would: no tomllib, tomli installed.
    stand_in = types.ModuleType("tomli")
    stand_in.loads = tomllib.loads
    monkeypatch.setitem(sys.modules, "tomllib", None)
    monkeypatch.setitem(sys.modules, "tomli", stand_in)
    spec = importlib.util.spec_from_file_location("release_on_310", release.__file__)
    on_310 = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, on_310)  # dataclasses look their module up
    spec.loader.exec_module(on_310)
    assert on_310.tomllib is stand_in
    rendered = {"bpkit/layers.py": b""}
    on_310.project_files(REPO, ["affine"], rendered)
    assert tomllib.loads(rendered["pyproject.toml"].decode("utf-8"))["project"]["name"] == "bpkit"
