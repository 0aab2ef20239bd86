"""Private names of an exercise module are the student's: renaming or deleting them costs
only the exercises whose functions stop working.

The grader lays a student's ``layers.py``, ``optim.py`` and ``models.py`` over the pristine
edition, so no other module may lean on a private name there (``tests/test_layout.py``
checks the imports). These submissions are graded for real, once, in one ``bpkit grade`` run.
"""

from __future__ import annotations

import re
from pathlib import Path

import grading_fixtures as fx
import pytest

from bpkit.assignments.student import exercises

LAYERS, MODELS, OPTIM = (exercises.get(n).path for n in ("affine", "two_layer_net", "sgd"))


def rename(path: Path, old: str, new: str) -> None:
    """Rename the identifier ``old`` to ``new`` everywhere in a file (at least once)."""
    text = path.read_text()
    renamed, count = re.subn(rf"\b{re.escape(old)}\b", new, text)
    assert count >= 2, f"{old!r} is not defined and used in {path}"
    path.write_text(renamed)


def delete_function(path: Path, name: str) -> None:
    """Remove the module-level ``def name`` (up to the next top-level statement)."""
    text = path.read_text()
    found = re.search(rf"^def {re.escape(name)}\(.*?(?=^\S)", text, re.S | re.M)
    assert found, f"no top-level def {name} in {path}"
    path.write_text(text[: found.start()] + text[found.end() :])


def renamed_submission(honest: Path, dest: Path) -> Path:
    """Every private name of the exercise modules renamed consistently, helpers added."""
    sub = fx.copy_submission(honest, dest)
    rename(sub / MODELS, "_check_sizes", "_sizes_are_positive")
    rename(sub / MODELS, "_check_scale", "_scale_is_valid")
    rename(sub / OPTIM, "_start", "_shared_checks")
    rename(sub / LAYERS, "_validate", "_v")  # `from bpkit import _validate as _v`
    fx.edit(sub / LAYERS, "from bpkit import _v\n", "from bpkit import _validate as _v\n")
    # The names fast_layers once imported from here, now the student's own, unrelated code.
    fx.append(
        sub / LAYERS,
        "def _conv_out_shape(*args, **kwargs):\n"
        "    raise RuntimeError('a helper of my own, not the reference one')\n\n\n"
        "_pool_out_shape = None\n",
    )
    return sub


def deleted_submission(honest: Path, dest: Path) -> Path:
    """Private helpers deleted while their callers still use them."""
    sub = fx.copy_submission(honest, dest)
    delete_function(sub / MODELS, "_check_scale")
    delete_function(sub / OPTIM, "_start")
    return sub


# Which exercises each submission breaks: its own functions call what was deleted.
BROKEN = {
    "renamed": set(),
    "deleted": {ex.name for ex in exercises.EXERCISES if ex.path in (MODELS, OPTIM)},
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("private_names")
    honest = fx.honest_edition(root / "honest")
    subs = [
        renamed_submission(honest, root / "renamed"),
        deleted_submission(honest, root / "deleted"),
    ]
    csv_path = root / "grades.csv"
    proc = fx.run_grade(*map(str, subs), "--csv", str(csv_path))
    assert proc.returncode == 0, proc.stderr
    return proc, fx.read_csv(csv_path)


def test_the_deleted_helpers_break_exactly_the_expected_exercises():
    # The premise of the next test: the deletion hits models and optim, not layers.
    assert BROKEN["deleted"] >= {"two_layer_net", "convnet", "sgd", "adam"}
    assert not {ex.name for ex in exercises.EXERCISES if ex.path == LAYERS} & BROKEN["deleted"]


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_private_names_cost_only_the_exercises_whose_functions_they_broke(graded, name):
    proc, rows = graded
    row = rows[name]
    for ex in exercises.EXERCISES:
        if ex.name in BROKEN[name]:
            assert row[ex.name] == 0, (name, ex.name, row[ex.name])
        else:
            assert row[ex.name] == ex.points, (name, ex.name, row[ex.name])
    lost = sum(exercises.get(n).points for n in BROKEN[name])
    assert row["total"] == row["max"] - lost == sum(ex.points for ex in exercises.EXERCISES) - lost


def test_a_deleted_helper_is_reported_where_it_was_used(graded):
    proc, _ = graded
    deleted = proc.stdout[proc.stdout.index("submission: deleted") :]
    assert "NameError" in deleted and "_check_scale" in deleted and "_start" in deleted
