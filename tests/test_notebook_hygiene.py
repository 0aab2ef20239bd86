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
from IPython.core.inputtransformer2 import TransformerManager

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


def as_python(source: str) -> str:
    """A code cell as IPython runs it: line magics such as ``%matplotlib inline`` become calls."""
    return TransformerManager().transform_cell(source)


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


IGNORE_TAG = "nbval-ignore-output"


def test_output_checks_are_switched_off_only_for_the_progress_bar(nb):
    # Learners read the code: the one switch for the tests is a cell tag, not a comment.
    for i, cell in enumerate(code_cells(nb)):
        assert not NBVAL_MARKER.search(cell.source), (i, "use the cell tag, not a comment")
        tags = cell.metadata.get("tags", [])
        if tags:
            assert tags == [IGNORE_TAG], (i, tags)
            assert "verbose=True" in cell.source, (i, "only the Solver's progress bar varies")


def test_a_stored_progress_bar_shows_a_finished_run(nb):
    for i, cell in enumerate(code_cells(nb)):
        if IGNORE_TAG not in cell.metadata.get("tags", []):
            continue
        kinds = [out.output_type for out in cell.outputs]
        assert kinds == ["stream"], (i, "one line of plain text, no widget that looks stuck", kinds)
        text = cell.outputs[0].text
        assert re.fullmatch(r"training done: \d+ epochs, \d+ iterations, .*\n", text), (i, text)
        assert "0%" not in text, (i, text)


def test_setup_cell_draws_inline_and_reloads_bpkit(nb):
    # Plots must not depend on the environment's backend (MPLBACKEND=Agg would hide them), and an
    # edit to bpkit/*.py must count on the next run of a cell, without a kernel restart.
    lines = code_cells(nb)[0].source.splitlines()
    for magic in ("%matplotlib inline", "%load_ext autoreload", "%autoreload 2"):
        assert magic in lines, magic
    assert lines.index("%autoreload 2") < next(
        i for i, x in enumerate(lines) if "bpkit" in x and x.startswith(("from", "import"))
    )


LEARNER_FACING_MACHINERY = re.compile(r"nbval|sanitiz|notebook tests?\b|is tested|conftest", re.I)


def test_no_learner_facing_text_mentions_the_test_machinery(nb):
    for i, cell in enumerate(nb.cells):
        found = LEARNER_FACING_MACHINERY.search(cell.source)
        assert found is None, (i, cell.source[max(0, found.start() - 60) : found.end() + 60])


def test_every_answer_sits_alone_in_its_markdown_cell(nb):
    # The student edition turns the region into a placeholder; alone in its cell, the learner
    # types the answer there without touching the question or the next section.
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown" or "BEGIN SOLUTION" not in cell.source:
            continue
        source = cell.source.strip()
        assert source.startswith("<!-- BEGIN SOLUTION -->"), (i, source[:80])
        assert source.endswith("<!-- END SOLUTION -->"), (i, source[-80:])
        assert source.count("BEGIN SOLUTION") == 1, i
        assert "**Inline question" in nb.cells[i - 1].source, (i, "the question comes right before")


def _defined_by_region(cell) -> list[str]:
    """Names a learner must define in a code cell with a solution region."""
    lines = cell.source.split("\n")
    regions = markers.cell_regions(cell.source, "code", str)
    tree = ast.parse(as_python(cell.source))
    names = []
    for node in tree.body:
        first, last = node.lineno - 1, node.end_lineno - 1
        if not any(first <= r.end and r.begin <= last for r in regions):
            continue
        if isinstance(node, ast.FunctionDef):
            names.append(node.name)
        else:
            stores = [n for n in ast.walk(node) if isinstance(n, ast.Name)]
            names += [n.id for n in stores if isinstance(n.ctx, ast.Store)]
    assert names, lines[0]
    return names


def test_every_exercise_cell_says_what_it_must_define(nb):
    for i, cell in enumerate(code_cells(nb)):
        if not markers.cell_regions(cell.source, "code", str):
            continue
        comment = " ".join(
            line
            for line in cell.source.split("\n")
            if line.startswith("# ") and "SOLUTION" not in line
        )
        assert comment.startswith("# Exercise: "), (i, comment)
        for name in _defined_by_region(cell):
            assert re.search(rf"\b{name}\b", comment), (i, name, comment)


def test_stored_outputs_after_an_exercise_cell_are_marked_as_the_reference(nb):
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and markers.cell_regions(cell.source, "code", str):
            note = nb.cells[i + 1]
            assert note.cell_type == "markdown", i
            assert "reference solution's expected output" in note.source, (i, note.source)
    assert (
        "outputs stored in this notebook are those of the reference solution" in nb.cells[0].source
    )


def test_the_goals_cell_names_the_exercises_the_notebook_needs(nb):
    from bpkit.assignments.release.student_files import NEEDS_LINE, notebook_exercises
    from bpkit.assignments.student import exercises

    found = NEEDS_LINE.search(nb.cells[0].source)
    assert found, "the goals cell has an **Exercises it needs:** line"
    named = notebook_exercises(nb.cells[0].source)
    listed = re.findall(r"`(\w+)`", found.group(1).split(" (in ")[0])
    assert named == listed, f"not exercises: {sorted(set(listed) - set(named))}"
    # Every package function the notebook uses belongs to an exercise it names (an update
    # rule may be named by a string, update_rule="adam"; a model's loss by its class).
    words = set()
    for cell in code_cells(nb):
        words |= set(re.findall(r"\w+", cell.source))
    for exercise in exercises.EXERCISES:
        used = [t for t in exercise.targets if t.split(".")[0] in words]
        assert not used or exercise.name in named, (exercise.name, used)


def test_every_exercise_is_needed_by_some_notebook():
    from bpkit.assignments.release.student_files import notebook_exercises
    from bpkit.assignments.student import exercises

    named = {n for name in COURSE for n in notebook_exercises(load(name).cells[0].source)}
    assert named == {e.name for e in exercises.EXERCISES}


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
            ast.parse(as_python(cell.source))
            if found:
                ast.parse(as_python(markers.render_cell(cell.source, "code", where)))
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
