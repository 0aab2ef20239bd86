"""A failed notebook cell's report says where the cell is, in terms a JupyterLab reader can use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output


def _notebook(path: Path) -> None:
    nb = new_notebook(
        cells=[
            new_markdown_cell("# A lab\n\nIntro."),
            new_code_cell("x = 1", execution_count=1),
            new_markdown_cell("## 2. The affine layer\n\nSome text, then an equation."),
            new_code_cell("y = x + 1", execution_count=2),
            new_code_cell(
                "\n# check the sum\nprint(x + y)",
                execution_count=3,
                outputs=[new_output("stream", name="stdout", text="4\n")],
            ),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def test_a_failed_cell_names_its_place_heading_and_first_line(tmp_path):
    _notebook(tmp_path / "lab.ipynb")
    # nbval and the plugin under test only: no other installed plugin to import.
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    args = [sys.executable, "-m", "pytest", "-p", "nbval.plugin", "-p", "no:cacheprovider"]
    args += ["-o", "addopts=", "-p", "bpkit.assignments.student.nbreply", "--nbval", "lab.ipynb"]
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout[-3000:]
    # The stored output says 4, the cell prints 3: only the third code cell fails.
    assert "1 failed, 2 passed" in done.stdout, done.stdout[-3000:]
    assert "where in the notebook" in done.stdout, done.stdout[-3000:]
    section = done.stdout.split("where in the notebook", 1)[1].split("\n=", 1)[0]
    assert "code cell 3 of 3 (nbval's Cell 2), stored with the prompt [3]" in section
    assert "under the heading: 2. The affine layer" in section
    assert "first line: # check the sum" in section
