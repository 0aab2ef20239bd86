"""Release, then fill the stubs back in: the public tests and the notebooks pass in the edition.

One edition, released with every exercise as a stub and then filled, is shared by the tests
that only read it or run pytest in it (the ``filled`` fixture): releasing and filling once per
module instead of once per test.
"""

import ast
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from edition_runs import run_in
from IPython.core.inputtransformer2 import TransformerManager
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from bpkit.assignments.release import edition as release
from bpkit.assignments.release import fill, markers, nbfiles, stubs
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
# The notebook the edition's nbval command is run on end to end: the quickest of the five.
SMALLEST = "01_gradient_checking.ipynb"


def reference(module: str, rel: str) -> str:
    """A module of the source with every region kept and its markers removed."""
    return stubs.render_module((REPO / rel).read_text(encoding="utf-8"), rel, module, ())


@pytest.fixture(scope="module")
def filled(tmp_path_factory) -> Path:
    """An edition released with every exercise as a stub, then filled back in (read only)."""
    edition = release.build(tmp_path_factory.mktemp("roundtrip") / "student", source=REPO)
    assert sorted(p.name for p in (edition / "notebooks").glob("*.ipynb")) == list(NOTEBOOKS)
    fill.fill_stubs(edition, source=REPO)
    return edition


def test_filling_every_stub_gives_back_the_reference_modules(filled):
    for module, rel in sorted({(ex.module, ex.path) for ex in exercises.EXERCISES}):
        assert (filled / rel).read_text(encoding="utf-8") == reference(module, rel), rel


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
def test_the_public_tests_pass_once_the_stubs_are_filled(filled):
    done = run_in(filled, "-m", "pytest", "-q", "-p", "no:cacheprovider", timeout=600)
    summary = done.stdout.strip().splitlines()[-1]
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "passed" in summary and "failed" not in summary and "error" not in summary, summary


def test_the_course_notebooks_are_all_there():
    assert sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb")) == list(NOTEBOOKS)


# Why the filled notebooks are not all run again under nbval here. The main suite runs every
# notebook of the repository under strict nbval (its pytest settings, checked below). After
# filling, an edition notebook is the repository's notebook less its solution marker lines:
# the same metadata, cells and stored outputs, and code cells whose Python is the same
# statement for statement (the markers are whole-line comments). The bpkit/ files the
# notebooks import are the repository's, the exercise modules again less their marker lines
# only, and so is the sanitizer file. So an edition notebook computes what the repository's
# computes and is compared with the same stored outputs under the same rules: it passes
# exactly when the repository's does. What that argument does not cover is the edition's own
# setup (its pytest settings, plugins and paths, the README's command): the last test runs
# that command end to end on one notebook. (In this test environment the kernels that nbval
# starts import bpkit from the installed package, not from the edition folder; the file
# comparison is what ties the edition's bpkit/ to what runs, as in a learner's environment,
# where the edition itself is installed.)

MARKER_LINES = {*markers.PYTHON, *markers.MARKDOWN}


def without_markers(source: str) -> str:
    return "\n".join(line for line in source.split("\n") if line.strip() not in MARKER_LINES)


def python_of(cell_source: str) -> str:
    """The statements of a code cell, IPython syntax (magics) turned into Python first."""
    return ast.dump(ast.parse(TransformerManager().transform_cell(cell_source)))


def test_the_main_suite_runs_the_repositorys_notebooks_under_strict_nbval():
    # The premise of the argument above: `python -m pytest` in the repository collects
    # notebooks/ and checks every output strictly, with the sanitizer the edition ships.
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    options = project["tool"]["pytest"]["ini_options"]
    assert "notebooks" in options["testpaths"]
    addopts = options["addopts"].split()
    assert "--nbval" in addopts and "--nbval-lax" not in addopts, addopts
    assert "--nbval-current-env" in addopts, addopts
    sanitizer = addopts[addopts.index("--nbval-sanitize-with") + 1]
    assert sanitizer == "tests/nbval_sanitize.cfg", addopts


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_a_filled_notebook_is_the_repositorys_less_its_marker_lines(filled, name):
    ours = json.loads((REPO / "notebooks" / name).read_text(encoding="utf-8"))
    theirs = json.loads((filled / "notebooks" / name).read_text(encoding="utf-8"))
    ours_cells, theirs_cells = ours.pop("cells"), theirs.pop("cells")
    assert theirs == ours, "the notebook metadata differ"
    assert len(theirs_cells) == len(ours_cells)
    stripped = 0
    for index, (mine, edition) in enumerate(zip(ours_cells, theirs_cells, strict=True)):
        mine, edition = dict(mine), dict(edition)
        mine_src, edition_src = nbfiles.source_text(mine), nbfiles.source_text(edition)
        mine.pop("source"), edition.pop("source")
        # Everything but the source, the stored outputs and execution counts included.
        assert edition == mine, f"cell {index}"
        assert edition_src == without_markers(mine_src), f"cell {index}"
        if mine["cell_type"] == "code":
            assert python_of(edition_src) == python_of(mine_src), f"cell {index}"
        stripped += edition_src != mine_src
    assert stripped > 0, "no cell had a solution region: is this the filled edition?"


def test_what_the_filled_notebooks_import_is_the_repositorys(filled):
    exercise_modules = {ex.path for ex in exercises.EXERCISES}
    files = sorted(
        p.relative_to(filled).as_posix()
        for p in (filled / "bpkit").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert "bpkit/data/digits.npz" in files and "bpkit/layers.py" in files
    for rel in files:
        theirs, ours = (filled / rel).read_bytes(), (REPO / rel).read_bytes()
        if rel in exercise_modules:
            # Filled: the reference text (first test), which is the same Python as ours.
            assert ast.dump(ast.parse(theirs)) == ast.dump(ast.parse(ours)), rel
        else:
            assert theirs == ours, rel
    sanitizer = "tests/nbval_sanitize.cfg"
    assert (filled / sanitizer).read_bytes() == (REPO / sanitizer).read_bytes()


@pytest.mark.slow
def test_a_filled_notebook_reproduces_its_stored_outputs_with_the_readmes_nbval_command(filled):
    # The command the student README gives, run in the edition on one notebook: the edition's
    # pytest settings, plugins and sanitizer path at work end to end.
    readme = (filled / "README.md").read_text(encoding="utf-8")
    command = next(line for line in readme.splitlines() if "--nbval" in line).split()
    assert command[:3] == ["python", "-m", "pytest"], command
    assert command.count("notebooks") == 1, command
    args = [*command[1:], "-q", "-p", "no:cacheprovider"]
    assert "--nbval-sanitize-with" in args, "the repository has notebooks but no sanitizer file"
    args[args.index("notebooks")] = f"notebooks/{SMALLEST}"
    done = run_in(filled, *args, timeout=600)
    summary = done.stdout.strip().splitlines()[-1]
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    code_cells = sum(
        c["cell_type"] == "code"
        for c in json.loads((filled / "notebooks" / SMALLEST).read_text(encoding="utf-8"))["cells"]
    )
    assert re.search(rf"\b{code_cells} passed\b", summary), summary
    assert "failed" not in summary and "error" not in summary, summary
