"""The nbval plugin fails a cell whose error display was suppressed, and only such cells."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

SILENCE_CUSTOM_EXC = (
    "get_ipython().set_custom_exc((Exception,), "
    "lambda shell, etype, value, tb, tb_offset=None: None)"
)
SILENCE_SHOWTRACEBACK = "get_ipython().showtraceback = lambda *args, **kwargs: None"


def _notebook(path: Path, *sources: str) -> None:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def _outcomes(tmp_path: Path, plugin: bool) -> dict[str, str]:
    """Run nbval on the two notebooks; return 'notebook::cell' -> passed/failed."""
    _notebook(
        tmp_path / "custom_exc.ipynb",
        SILENCE_CUSTOM_EXC,
        "raise ValueError('nobody sees this')",
        "# NBVAL_RAISES_EXCEPTION\nraise KeyError('an error this cell expects')",
        "answer = 6 * 7",
    )
    _notebook(tmp_path / "showtraceback.ipynb", SILENCE_SHOWTRACEBACK, "1 / 0", "pass")
    report = tmp_path / "report.xml"
    # nbval, and the plugin under test when asked, are the only plugins loaded: the others
    # installed here (hypothesis, xdist, ...) take time to import and play no part.
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    args = [sys.executable, "-m", "pytest", "-p", "nbval.plugin", "-p", "no:cacheprovider"]
    args += ["--nbval-lax"]
    args += ["-p", "bpkit.assignments.student.nbreply"] if plugin else []
    args += [f"--junitxml={report}", "-o", "addopts=", "custom_exc.ipynb", "showtraceback.ipynb"]
    subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, timeout=120, check=False)
    out = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        key = f"{case.get('classname').removesuffix('.ipynb')}::{case.get('name')}"
        failed = case.find("failure") is not None or case.find("error") is not None
        out[key] = "failed" if failed else "passed"
    return out


@pytest.fixture(scope="module")
def with_plugin(tmp_path_factory) -> dict[str, str]:
    return _outcomes(tmp_path_factory.mktemp("with"), plugin=True)


def test_suppressed_errors_fail_their_cell_and_nothing_else(with_plugin):
    assert with_plugin == {
        "custom_exc::Cell 0": "passed",
        "custom_exc::Cell 1": "failed",
        "custom_exc::Cell 2": "passed",
        "custom_exc::Cell 3": "passed",
        "showtraceback::Cell 0": "passed",
        "showtraceback::Cell 1": "failed",
        "showtraceback::Cell 2": "passed",
    }


@pytest.mark.slow
def test_without_the_plugin_nbval_misses_them(tmp_path):
    # The control: this is the hole the plugin closes.
    outcomes = _outcomes(tmp_path, plugin=False)
    assert outcomes["custom_exc::Cell 1"] == "passed"
    assert outcomes["showtraceback::Cell 1"] == "passed"
