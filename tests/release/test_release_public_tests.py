"""Release step ``public_tests``: tests/exercises ships, nothing else from tests/ does."""

import shutil
from pathlib import Path

import pytest

from bpkit.assignments.release import edition as release
from bpkit.assignments.student import exercises

REPO = Path(__file__).resolve().parents[2]


def render(source, released):
    files = {}
    release.public_tests(source, released, files)
    return files


def test_ships_exactly_the_public_tests():
    files = render(REPO, [ex.name for ex in exercises.EXERCISES])
    expected = sorted(
        p.relative_to(REPO).as_posix() for p in (REPO / "tests" / "exercises").glob("*.py")
    )
    assert sorted(files) == expected
    assert "tests/exercises/conftest.py" in files
    for ex in exercises.EXERCISES:
        assert ex.public_tests in files
    assert not [rel for rel in files if not rel.startswith("tests/exercises/")]


def test_every_public_test_module_carries_its_exercise_marker():
    for ex in exercises.EXERCISES:
        text = (REPO / ex.public_tests).read_text(encoding="utf-8")
        assert f"pytestmark = pytest.mark.{ex.name}\n" in text, ex.public_tests


def test_a_released_exercise_without_public_tests_stops_the_release(tmp_path):
    shutil.copytree(REPO / "tests" / "exercises", tmp_path / "tests" / "exercises")
    (tmp_path / "tests" / "exercises" / "test_adam.py").unlink()
    with pytest.raises(release.ReleaseError, match=r"exercise adam: no public tests"):
        render(tmp_path, ["affine", "adam"])
    assert "tests/exercises/test_adam.py" not in render(tmp_path, ["affine"])
