"""Release step ``project_files``: the student's pyproject, environment, README and manifest."""

import json
from pathlib import Path

import pytest
import tomllib

from bpkit.assignments import collect, exercises, release

REPO = Path(__file__).resolve().parents[1]
RELEASED = ["affine", "sgd", "two_layer_net"]


@pytest.fixture(scope="module")
def files():
    rendered = {
        "bpkit/layers.py": b"",
        "bpkit/models.py": b"",
        "bpkit/optim.py": b"",
        "bpkit/solver.py": b"",
        "notebooks/intro.ipynb": b"{}",
        "notebooks/nbval_sanitize.cfg": b"",
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
        assert f"  - {dep.replace(' ', '')}\n" in text
    assert "      - -e .\n" in text


def test_readme_gives_install_self_check_notebook_check_and_hand_in(files):
    text = files["README.md"]
    for command in (
        'python -m pip install -e ".[dev]"',
        "python -m pytest\n",
        "python -m pytest -m affine",
        (
            "python -m pytest --nbval --nbval-current-env notebooks "
            "--nbval-sanitize-with notebooks/nbval_sanitize.cfg"
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
