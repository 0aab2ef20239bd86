"""Submissions for the grading tests, made from real student editions plus small edits.

``bpkit release`` builds the pristine edition (every exercise a stub) and ``fill_stubs``
puts the reference bodies back, which gives an honest, fully filled submission. Edits
append code to a module (a later ``def`` replaces an earlier one at import) so that they do
not depend on how the reference bodies are written.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import bpkit
from bpkit.assignments.release import edition as release
from bpkit.assignments.release import fill
from bpkit.assignments.student import exercises

REPO = Path(bpkit.__file__).resolve().parent.parent
MODULES = exercises.MODULE_PATHS


def stub_edition(dest: Path) -> Path:
    """A fresh student edition: every exercise is a stub."""
    return release.build(dest)


def honest_edition(dest: Path) -> Path:
    """A student edition with every exercise filled in with the reference code."""
    release.build(dest)
    fill.fill_stubs(dest)
    return dest


def copy_submission(src: Path, dest: Path) -> Path:
    """Copy the handed-in modules of an edition into a new submission folder."""
    for rel in MODULES:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, dest / rel)
    return dest


def append(path: Path, code: str) -> None:
    """Append module-level code to a file."""
    path.write_text(path.read_text() + "\n\n" + code.strip("\n") + "\n")


def wrap(path: Path, name: str, before: str) -> None:
    """Redefine function ``name`` to run ``before`` (indented body) and then the original."""
    body = "\n".join("    " + line for line in before.strip("\n").splitlines())
    append(
        path,
        f"_original_{name} = {name}\n\n\n"
        f"def {name}(*args, **kwargs):\n{body}\n"
        f"    return _original_{name}(*args, **kwargs)\n",
    )


def edit(path: Path, old: str, new: str) -> None:
    """Replace the first ``old`` by ``new`` in a file, failing loudly if ``old`` is absent."""
    text = path.read_text()
    assert old in text, f"{old!r} not found in {path}"
    path.write_text(text.replace(old, new, 1))


def run_grade(*args: str, cwd: Path | None = None, timeout: float = 600):
    """Run the real ``bpkit grade`` command line; return the completed process."""
    cmd = [sys.executable, "-m", "bpkit", "grade", *args]
    return subprocess.run(
        cmd, cwd=cwd or REPO, capture_output=True, text=True, timeout=timeout, check=False
    )


def read_csv(path: Path) -> dict[str, dict[str, float]]:
    """``submission -> {column: points}`` from a ``--csv`` file."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {r.pop("submission"): {k: float(v) for k, v in r.items()} for r in rows}
