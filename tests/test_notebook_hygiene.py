"""The committed course notebooks are clean, executed, in order, and ready for the release.

nbval re-runs the notebooks and compares outputs; these tests check what it does not: that the
stored run is one clean top-to-bottom execution without warnings or errors, that nothing
machine- or user-specific leaked into the files, and that the course conventions hold (learning
goals first, a seeded setup cell, a comment opening every code cell, verdicts instead of bare
numbers, well-formed solution regions that the release can stub).

After a change to the package, refresh the stored outputs from the repository root with

    jupyter nbconvert --to notebook --execute --inplace \
        --ExecutePreprocessor.record_timing=False --ExecutePreprocessor.store_widget_state=False \
        notebooks/*.ipynb

(the two options keep execution timestamps and widget ids out of the metadata).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from bpkit.assignments.release import markers

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
COURSE = [
    "01_gradient_checking.ipynb",
    "02_two_layer_net.ipynb",
    "03_convolution.ipynb",
    "04_update_rules.ipynb",
    "05_convnet.ipynb",
]
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
# Paths of a particular machine or user; base64 image data is left out of the search, since
# its alphabet contains "/" and could spell these by chance.
ABSOLUTE_PATH = re.compile(r"(/root\b|/home/|/work\b|/tmp\b|/Users/|/private/|[A-Za-z]:\\)")
NBVAL_MARKER = re.compile(r"^\s*#\s*NBVAL_\w+", re.MULTILINE)


def load(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK_DIR / name, as_version=nbformat.NO_CONVERT)


def code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def texts(nb) -> list[tuple[str, str]]:
    """(where, text) for every source, every non-image output and the metadata."""
    found = [("notebook metadata", str(nb.metadata))]
    for i, cell in enumerate(nb.cells):
        found.append((f"cell {i} source", cell.source))
        found.append((f"cell {i} metadata", str(cell.metadata)))
        for out in cell.get("outputs", []):
            if "text" in out:
                found.append((f"cell {i} {out.get('name')}", out["text"]))
            for mime, data in out.get("data", {}).items():
                if not mime.startswith("image/"):
                    found.append((f"cell {i} {mime}", str(data)))
    return found


def test_the_course_is_these_notebooks_in_this_order():
    assert sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb")) == COURSE


@pytest.fixture(params=COURSE)
def nb(request):
    return load(request.param)


def test_valid_notebook_with_a_neutral_kernel_and_no_widget_state(nb):
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec") == KERNELSPEC
    assert set(nb.metadata) <= {"kernelspec", "language_info"}, sorted(nb.metadata)
    for i, cell in enumerate(nb.cells):
        # Execution timestamps, collapsed/scrolled state and the like are one user's view.
        assert set(cell.metadata) <= {"tags"}, (i, dict(cell.metadata))


def test_one_clean_run_from_top_to_bottom(nb):
    cells = code_cells(nb)
    assert [c.execution_count for c in cells] == list(range(1, len(cells) + 1))
    for i, cell in enumerate(cells):
        for out in cell.outputs:
            assert out.output_type != "error", (i, out.get("ename"), out.get("evalue"))
            assert not (out.output_type == "stream" and out.name == "stderr"), (i, out.text)
            if out.output_type == "execute_result":
                assert out.execution_count == cell.execution_count, i


def test_every_verdict_passes_and_none_hides_in_a_bare_repr(nb):
    for i, cell in enumerate(code_cells(nb)):
        for out in cell.outputs:
            text = out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
            assert "FAIL" not in text, (i, text)
            assert not re.search(r"at 0x[0-9a-fA-F]+", text), (i, text)
            # A plot cell ends with plt.show(), not with an artist that prints as a repr.
            assert not text.startswith(("[<matplotlib", "<matplotlib", "Text(")), (i, text)


def test_no_absolute_paths(nb):
    for where, text in texts(nb):
        match = ABSOLUTE_PATH.search(text)
        assert match is None, (where, match and text[max(0, match.start() - 40) : match.end() + 40])


def test_learning_goals_come_first(nb):
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    assert first.source.startswith("# "), "the first cell opens with the notebook's title"
    goals = first.source.split("**Learning goals**", 1)
    assert len(goals) == 2, "the first cell lists the learning goals"
    bullets = [line for line in goals[1].splitlines() if line.startswith("- ")]
    assert len(bullets) >= 3, bullets


def test_the_setup_cell_seeds_everything_and_defines_check(nb):
    setup = code_cells(nb)[0].source
    assert "np.random.seed(" in setup
    assert "np.random.default_rng(" in setup
    assert re.search(r"^def check\(name, value, threshold", setup, re.MULTILINE)


def test_every_code_cell_opens_with_a_one_line_comment(nb):
    for i, cell in enumerate(code_cells(nb)):
        first = cell.source.split("\n", 1)[0]
        assert re.match(r"# \S.{10,}", first), (i, first)
        assert not NBVAL_MARKER.match(first), (i, "describe the cell before any nbval marker")


def test_output_checks_are_switched_off_only_for_the_progress_bar(nb):
    for i, cell in enumerate(code_cells(nb)):
        found = NBVAL_MARKER.findall(cell.source)
        if found:
            assert [m.strip() for m in found] == ["# NBVAL_IGNORE_OUTPUT"], (i, found)
            assert "verbose=True" in cell.source, (i, "only the Solver's progress bar varies")
        assert not cell.metadata.get("tags"), (i, "nbval tags would hide a cell's outputs")


def test_solution_regions_are_well_formed_and_stub_to_valid_python(nb):
    regions = 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type not in ("code", "markdown"):
            continue

        def where(line, i=i):
            return f"cell {i}, line {line + 1}"

        found = markers.cell_regions(cell.source, cell.cell_type, where)
        regions += len(found)
        if cell.cell_type == "code":
            ast.parse(cell.source)
            if found:
                ast.parse(markers.render_cell(cell.source, "code", where))
    assert regions >= 2, "every notebook has exercises or inline questions"


def test_the_course_has_code_exercises_and_inline_questions():
    code_regions = markdown_regions = 0
    for name in COURSE:
        for cell in load(name).cells:
            if cell.cell_type not in ("code", "markdown"):
                continue
            found = markers.cell_regions(cell.source, cell.cell_type, str)
            if cell.cell_type == "code":
                code_regions += len(found)
            else:
                markdown_regions += len(found)
    assert code_regions >= 5, code_regions
    assert markdown_regions >= 8, markdown_regions
