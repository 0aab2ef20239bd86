"""Release step ``notebooks``: regions stubbed, answers blanked, outputs kept, one JSON form."""

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from bpkit.assignments.release import edition as release
from bpkit.assignments.release import markers


def code_cell(source, outputs=(), count=None):
    return new_code_cell(source, outputs=list(outputs), execution_count=count)


def answer_cell(question, answer):
    return new_markdown_cell(
        f"{question}\n<!-- BEGIN SOLUTION -->\n{answer}\n<!-- END SOLUTION -->"
    )


def lab(*cells):
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def write_source(root, notebooks, extra=()):
    folder = root / "notebooks"
    folder.mkdir(parents=True, exist_ok=True)
    for name, nb in notebooks.items():
        nbformat.write(nb, folder / name)
    for rel in extra:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("regex: \\d+\nreplace: N\n")
    return root


def render(root):
    files = {}
    release.notebooks(root, [], files)
    return files


def cells_of(data: bytes):
    return json.loads(data.decode("utf-8"))["cells"]


def test_code_regions_are_stubbed_and_outputs_kept(tmp_path):
    output = new_output("stream", name="stdout", text="rel_error 1.2e-10 < 1e-7: OK\n")
    nb = lab(
        code_cell("import numpy as np", count=1),
        code_cell(
            "def norm(v):\n    # BEGIN SOLUTION\n    return np.sqrt(v @ v)\n    # END SOLUTION\n"
            "print(norm(np.ones(4)))",
            outputs=[output],
            count=2,
        ),
    )
    files = render(write_source(tmp_path, {"lab.ipynb": nb}))
    cells = cells_of(files["notebooks/lab.ipynb"])
    stored = cells_of((tmp_path / "notebooks" / "lab.ipynb").read_bytes())
    assert "".join(cells[0]["source"]) == "import numpy as np"
    assert "".join(cells[1]["source"]) == (
        f"def norm(v):\n    {markers.CELL_TODO}\n    {markers.CELL_RAISE}\nprint(norm(np.ones(4)))"
    )
    assert cells[1]["outputs"] == stored[1]["outputs"]
    assert "".join(cells[1]["outputs"][0]["text"]) == output["text"]
    assert cells[1]["execution_count"] == 2


def test_markdown_answers_are_blanked(tmp_path):
    nb = lab(answer_cell("Why subtract the max?", "So that exp cannot overflow."))
    files = render(write_source(tmp_path, {"q.ipynb": nb}))
    (cell,) = cells_of(files["notebooks/q.ipynb"])
    assert "".join(cell["source"]) == f"Why subtract the max?\n{markers.MARKDOWN_ANSWER}"


def test_json_is_written_one_way_whatever_the_input_layout(tmp_path):
    nb = lab(code_cell("x = 1\ny = 2", count=1), answer_cell("Q", "A"))
    write_source(tmp_path / "a", {"lab.ipynb": nb})
    raw = json.loads(nbformat.writes(nb))
    for cell in raw["cells"]:
        cell["source"] = "".join(cell["source"])  # the string form nbformat also accepts
    folder = tmp_path / "b" / "notebooks"
    folder.mkdir(parents=True)
    (folder / "lab.ipynb").write_text(json.dumps(raw, indent=4))
    first, second = render(tmp_path / "a"), render(tmp_path / "b")
    assert first == second
    data = first["notebooks/lab.ipynb"]
    assert data.endswith(b"}\n") and data.startswith(b'{\n "cells": [\n')
    assert cells_of(data)[0]["source"] == ["x = 1\n", "y = 2"]


def test_notebooks_and_the_sanitizer_ship_and_nothing_else(tmp_path):
    # notebooks/ holds only notebooks; the sanitizer lives in tests/, next to the public tests.
    nb = lab(code_cell("1 + 1"))
    extra = ["tests/nbval_sanitize.cfg", "notebooks/old_sanitize.cfg"]
    root = write_source(tmp_path, {"lab.ipynb": nb}, extra=extra)
    (root / "notebooks" / "scratch.txt").write_text("notes\n")
    (root / "notebooks" / "sub").mkdir()
    nbformat.write(nb, root / "notebooks" / "sub" / "draft.ipynb")
    assert sorted(render(root)) == ["notebooks/lab.ipynb", "tests/nbval_sanitize.cfg"]


def test_a_marker_error_in_a_notebook_names_cell_and_line(tmp_path):
    nb = lab(code_cell("x = 1"), code_cell("y = 2\n# BEGIN SOLUTION\nz = 3"))
    with pytest.raises(
        markers.MarkerError, match=r"notebooks/bad\.ipynb, cell 2, line 2: .*never closed"
    ):
        render(write_source(tmp_path, {"bad.ipynb": nb}))


def test_a_notebook_that_is_not_json_is_named(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "broken.ipynb").write_text("{ not json")
    with pytest.raises(
        release.ReleaseError, match=r"notebooks/broken\.ipynb: not a valid notebook"
    ):
        render(tmp_path)
