"""No solution line and no withheld file reaches the student edition.

A solution line is a line of a released exercise's region in a module, or of any region in
a notebook. Lines that say nothing on their own (blank, ``pass``, a bare ``return``, lone
brackets, ``else:``) are not counted, nor are lines that the edition ships anyway: lines the
source has outside every region (``stride, pad = conv_param["stride"], conv_param["pad"]``
opens an input check too) and lines of the regions of exercises not released, which keep
their reference code (``two_layer_net`` and ``convnet`` share their loss line).
"""

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from bpkit.assignments.release import edition as release
from bpkit.assignments.release import markers, stubs
from bpkit.assignments.student import exercises

REPO = Path(__file__).resolve().parents[2]
TRIVIAL = re.compile(r"^(|pass|return|else:|try:|[()\[\]{},:]+)$")


def cell_lines(nb: dict, with_outputs: bool) -> list[str]:
    lines = []
    for cell in nb.get("cells", []):
        src = cell.get("source", "")
        lines += ("".join(src) if isinstance(src, list) else src).split("\n")
        for out in cell.get("outputs", []) if with_outputs else []:
            for text in [out.get("text", "")] + list(out.get("data", {}).values()):
                lines += ("".join(text) if isinstance(text, list) else str(text)).split("\n")
    return lines


def solution_lines(source: Path, released: list[str]) -> set[str]:
    """Stripped, non-trivial region lines that the source has nowhere outside a region."""
    inside, outside = set(), set()
    for rel in release.walk(source, "bpkit"):
        if not (rel.endswith(".py") and release.matches(rel, release.SHIP)):
            continue
        text = (source / rel).read_text(encoding="utf-8")
        lines = text.split("\n")
        owned = stubs.module_regions(text, rel, rel[:-3].replace("/", "."))
        region_rows = set()
        for o in owned:
            rows = range(o.region.begin, o.region.end + 1)
            body = {lines[i].strip() for i in rows[1:-1]}
            if o.exercise in released:
                region_rows.update(rows)
                inside.update(body)
            else:
                region_rows.update((rows[0], rows[-1]))  # ships as reference code: public
        outside.update(line.strip() for i, line in enumerate(lines) if i not in region_rows)
    for path in sorted((source / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb.get("cells", []):
            src = "".join(cell.get("source", ""))
            kind = cell.get("cell_type")
            if kind not in ("code", "markdown"):
                continue
            lines = src.split("\n")
            rows = set()
            for r in markers.cell_regions(src, kind, str):
                rows.update(range(r.begin, r.end + 1))
                inside.update(lines[i].strip() for i in range(r.begin + 1, r.end))
            outside.update(line.strip() for i, line in enumerate(lines) if i not in rows)
    return {line for line in inside - outside if not TRIVIAL.match(line)}


def edition_lines(edition: Path) -> dict[str, set[str]]:
    """Stripped lines of every text file of an edition (notebook cells and outputs decoded)."""
    found = {}
    for path in sorted(edition.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(edition).as_posix()
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # the packaged data (digits.npz)
        lines = text.split("\n")
        if rel.endswith(".ipynb"):
            lines += cell_lines(json.loads(text), with_outputs=True)
        found[rel] = {line.strip() for line in lines}
    return found


def find_leaks(source: Path, edition: Path, released: list[str]) -> list[str]:
    secret = solution_lines(source, released)
    leaks = []
    for rel, lines in edition_lines(edition).items():
        leaks += [f"{rel}: {line}" for line in sorted(secret & lines)]
    return leaks


def withheld(source: Path) -> list[str]:
    """Files of the source that must never ship: grading tooling, hidden checks, other tests."""
    tooling = [
        rel
        for rel in release.walk(source, "bpkit")
        if rel.startswith(release.TOOLING) and not release.matches(rel, release.SHIP)
    ]
    tests = [
        rel
        for rel in release.walk(source, "tests")
        if not rel.startswith("tests/exercises/") and rel not in release.NBVAL_FILES
    ]
    return tooling + tests


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """The repository's sources plus a notebook with a code and a markdown solution."""
    root = tmp_path_factory.mktemp("source")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
    for folder in ("bpkit", "tests", "notebooks"):
        if (REPO / folder).is_dir():
            shutil.copytree(REPO / folder, root / folder, ignore=ignore)
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    nb = new_notebook(
        cells=[
            new_markdown_cell(
                "Why shift?\n<!-- BEGIN SOLUTION -->\n"
                "exp overflows past 709.\n<!-- END SOLUTION -->"
            ),
            new_code_cell("# BEGIN SOLUTION\nbest_lr_for_digits = 3e-3\n# END SOLUTION"),
        ]
    )
    nbformat.write(nb, root / "notebooks" / "zz_leak_check.ipynb")
    return root


@pytest.mark.parametrize(
    "released",
    # Released together: convnet's reference code would show two_layer_net's softmax line.
    [[ex.name for ex in exercises.EXERCISES], ["affine", "adam", "two_layer_net", "convnet"]],
    ids=["all", "some"],
)
def test_no_solution_line_reaches_the_edition(source, tmp_path, released):
    edition = release.build(tmp_path / "student", released, source=source)
    secret = solution_lines(source, released)
    assert "best_lr_for_digits = 3e-3" in secret and "exp overflows past 709." in secret
    for name in released:
        assert solution_lines(source, [name]) - solution_lines(source, []), name
    assert find_leaks(source, edition, released) == []


def test_the_leak_check_catches_a_leak(source, tmp_path):
    edition = release.build(tmp_path / "student", ["adam"], source=source)
    layer = edition / "bpkit" / "optim.py"
    layer.write_text(layer.read_text(encoding="utf-8") + '\nconfig["t"] += 1\n')
    notebook = edition / "notebooks" / "zz_leak_check.ipynb"
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    said = {"output_type": "stream", "name": "stdout", "text": ["exp overflows past 709.\n"]}
    nb["cells"].append(new_code_cell("print(1)", outputs=[said]))
    notebook.write_text(json.dumps(nb))
    leaks = find_leaks(source, edition, ["adam"])
    assert len(leaks) == 2, leaks
    assert any(leak.startswith("bpkit/optim.py") for leak in leaks)


def test_no_withheld_file_reaches_the_edition(source, tmp_path):
    edition = release.build(tmp_path / "student", source=source)
    shipped = {
        p.relative_to(edition).as_posix(): p.read_bytes() for p in edition.rglob("*") if p.is_file()
    }
    secret = withheld(source)
    assert (
        "bpkit/assignments/release/edition.py" in secret
        and "tests/release/test_release_leaks.py" in secret
    )
    contents = set(shipped.values())
    for rel in secret:
        data = (source / rel).read_bytes()
        assert rel not in shipped, rel
        assert not data.strip() or data not in contents, f"{rel} ships under another name"
