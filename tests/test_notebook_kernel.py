"""A notebook's setup cell in a real kernel, the way a learner works in JupyterLab.

Two promises of the setup cells are checked against a running kernel rather than read off
the source: plots are drawn inline even when the environment says ``MPLBACKEND=Agg`` (as on
headless servers and CI images), and an edit to ``bpkit/layers.py`` counts the next time a
cell runs, without restarting the kernel. The kernel works on a copy of the package in a
temporary folder, so the edit never touches this checkout.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
SETUP_PREFIX = "# Setup:"

PLOT = "# A plot.\nplt.plot([0, 1], [1, 0])\nplt.title('a line')\nplt.show()"
AFFINE = (
    "# The learner's check cell.\n"
    "from bpkit import layers\n"
    "out, _ = layers.affine_forward(np.ones((1, 3)), np.eye(3, 2), np.array([0.5, -0.5]))\n"
    "print(layers.__file__)\n"
    "print('affine_forward', out.tolist())"
)


def _setup_cell(notebook: str) -> str:
    nb = nbformat.read(ROOT / "notebooks" / notebook, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code")
    assert cell.source.startswith(SETUP_PREFIX)
    return cell.source


def _text(cell) -> str:
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
    return "".join(parts)


def _touch_later(path: Path, source: str, seconds: int) -> None:
    """Write ``source`` with a modification time ``seconds`` later than before (autoreload
    compares modification times, and a fast edit can land within the same second)."""
    before = path.stat().st_mtime
    path.write_text(source)
    os.utime(path, (before + seconds, before + seconds))


@pytest.mark.parametrize("notebook", ["02_two_layer_net.ipynb"])
def test_plots_show_under_agg_and_an_edit_counts_without_a_restart(notebook, tmp_path, monkeypatch):
    shutil.copytree(
        ROOT / "bpkit", tmp_path / "bpkit", ignore=shutil.ignore_patterns("__pycache__")
    )
    layers_py = tmp_path / "bpkit" / "layers.py"
    original = layers_py.read_text()
    # A learner's stub: affine_forward raises until it is written.
    begin = original.index("# BEGIN SOLUTION", original.index("def affine_forward"))
    stub = original[:begin] + "raise NotImplementedError  # " + original[begin:]

    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("PYTHONPATH", raising=False)
    cells = [nbformat.v4.new_code_cell(s) for s in (_setup_cell(notebook), PLOT, AFFINE)]
    nb = nbformat.v4.new_notebook(cells=cells)
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    setup, plot, check = cells
    with client.setup_kernel():
        client.execute_cell(setup, 0)
        assert _text(setup) == "", _text(setup)

        client.execute_cell(plot, 1)
        kinds = [set(out.get("data", {})) for out in plot.outputs]
        assert any("image/png" in k for k in kinds), f"no inline figure under Agg: {kinds}"

        _touch_later(layers_py, stub, 2)
        client.execute_cell(check, 2)
        assert "NotImplementedError" in _text(check), _text(check)

        _touch_later(layers_py, original, 4)
        client.execute_cell(check, 2)
        text = _text(check)
        assert str(tmp_path / "bpkit" / "layers.py") in text, "the kernel imported another copy"
        assert "affine_forward [[1.5, 0.5]]" in text, text
