"""``bpkit start DIR``: a self-learner's own edition of the course, and how to open it.

It writes the student edition with every exercise as a stub (the same files as
``bpkit release DIR``) and prints the one command that installs it in a virtual environment
of its own and opens JupyterLab there. It installs nothing itself: the learner sees, and
runs, every step.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from bpkit.assignments.release import edition


def next_command(folder: str) -> str:
    """The shell line that sets up the edition in ``folder`` and opens it in JupyterLab."""
    return (
        f"cd {shlex.quote(folder)} && python -m venv .venv && . .venv/bin/activate && "
        'python -m pip install -e ".[dev]" && jupyter lab'
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dir", metavar="DIR", help="a new (or empty) folder for your edition of the course"
    )
    parser.add_argument(
        "--source", metavar="ROOT", help="repository root (default: the one above bpkit)"
    )


def run(args: argparse.Namespace) -> int:
    folder = Path(args.dir)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        print(
            f"bpkit start: error: {folder}: exists and is not an empty folder; expected a new "
            "folder (bpkit start never replaces one: it may hold your work)",
            file=sys.stderr,
        )
        return 2
    try:
        written = edition.write_edition(args.dir, None, args.source)
    except edition.ReleaseError as exc:
        print(f"bpkit start: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote your edition of the course to {written.path}")
    print(f"  every exercise is a stub for you to write: {', '.join(written.released)}")
    print()
    print("Next, install it in a virtual environment of its own (so that `import bpkit` finds")
    print("your code, not this solved copy) and open it in JupyterLab:")
    print()
    print(f"  {next_command(args.dir)}")
    print()
    print("On Windows, activate with .venv\\Scripts\\activate instead. Then `python -m pytest`")
    print("in that folder shows your progress; its README.md says the rest.")
    return 0
