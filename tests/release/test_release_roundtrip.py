"""Release, then fill the stubs back in: the public tests and the notebooks pass in the edition."""

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from edition_runs import run_in
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from bpkit.assignments.release import edition as release
from bpkit.assignments.release import fill, stubs
from bpkit.assignments.student import exercises

REPO = Path(__file__).resolve().parents[2]
# Named, not globbed: a notebook that goes missing fails here instead of shrinking the run.
NOTEBOOKS = (
    "01_gradient_checking.ipynb",
    "02_two_layer_net.ipynb",
    "03_convolution.ipynb",
    "04_update_rules.ipynb",
    "05_convnet.ipynb",
)


def reference(module: str, rel: str) -> str:
    """A module of the source with every region kept and its markers removed."""
    return stubs.render_module((REPO / rel).read_text(encoding="utf-8"), rel, module, ())


def test_filling_every_stub_gives_back_the_reference_modules(tmp_path):
    edition = release.build(tmp_path / "student", source=REPO)
    fill.fill_stubs(edition, source=REPO)
    for module, rel in sorted({(ex.module, ex.path) for ex in exercises.EXERCISES}):
        assert (edition / rel).read_text(encoding="utf-8") == reference(module, rel), rel


def test_filling_some_exercises_keeps_the_other_stubs_and_the_students_edits(tmp_path):
    edition = release.build(tmp_path / "student", source=REPO)
    path = edition / "bpkit" / "layers.py"
    path.write_text("# my notes\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    fill.fill_stubs(edition, source=REPO, exercises=["affine"])
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# my notes\n")
    assert 'NotImplementedError("affine:' not in text
    assert 'raise NotImplementedError("relu: relu_forward is not implemented yet")' in text
    with pytest.raises(release.ReleaseError, match="no stub left"):
        fill.fill_stubs(edition, source=REPO, exercises=["affine"])


def test_filling_an_exercise_that_was_not_released_is_an_error(tmp_path):
    edition = release.build(tmp_path / "student", ["sgd"], source=REPO)
    with pytest.raises(release.ReleaseError, match=r"\['adam'\] are not stubs"):
        fill.fill_stubs(edition, source=REPO, exercises=["adam"])


def test_notebook_cells_get_their_reference_text_back(tmp_path):
    source = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "bpkit", source / "bpkit", ignore=ignore)
    shutil.copytree(REPO / "tests" / "exercises", source / "tests" / "exercises", ignore=ignore)
    shutil.copy(REPO / "pyproject.toml", source / "pyproject.toml")
    (source / "notebooks").mkdir()
    nb = new_notebook(
        cells=[
            new_code_cell("x = 2\n# BEGIN SOLUTION\ny = x * x\n# END SOLUTION\nprint(y)"),
            new_markdown_cell("Q\n<!-- BEGIN SOLUTION -->\nA\n<!-- END SOLUTION -->"),
            new_code_cell("print('untouched')"),
        ]
    )
    nbformat.write(nb, source / "notebooks" / "lab.ipynb")
    edition = release.build(tmp_path / "student", source=source)
    fill.fill_stubs(edition, source=source)
    cells = json.loads((edition / "notebooks" / "lab.ipynb").read_text(encoding="utf-8"))["cells"]
    assert ["".join(c["source"]) for c in cells] == [
        "x = 2\ny = x * x\nprint(y)",
        "Q\nA",
        "print('untouched')",
    ]


@pytest.mark.slow
def test_the_public_tests_pass_once_the_stubs_are_filled(tmp_path):
    edition = release.build(tmp_path / "student", source=REPO)
    fill.fill_stubs(edition, source=REPO)
    done = run_in(edition, "-m", "pytest", "-q", "-p", "no:cacheprovider", timeout=600)
    summary = done.stdout.strip().splitlines()[-1]
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "passed" in summary and "failed" not in summary and "error" not in summary, summary


def test_the_course_notebooks_are_all_there():
    assert sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb")) == list(NOTEBOOKS)


@pytest.mark.slow
def test_filled_notebooks_reproduce_their_stored_outputs_under_strict_nbval(tmp_path):
    edition = release.build(tmp_path / "student", source=REPO)
    assert sorted(p.name for p in (edition / "notebooks").glob("*.ipynb")) == list(NOTEBOOKS)
    fill.fill_stubs(edition, source=REPO)
    # The command the student README gives, run in the edition.
    readme = (edition / "README.md").read_text(encoding="utf-8")
    command = next(line for line in readme.splitlines() if "--nbval" in line).split()
    assert command[:3] == ["python", "-m", "pytest"], command
    args = [*command[1:], "-q", "-p", "no:cacheprovider"]
    assert "--nbval-sanitize-with" in args, "the repository has notebooks but no sanitizer file"
    done = run_in(edition, *args, timeout=1800)
    summary = done.stdout.strip().splitlines()[-1]
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "passed" in summary and "failed" not in summary, summary
