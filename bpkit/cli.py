"""The ``bpkit`` command line: ``bpkit start | release | grade | collect | autograder``.

Each subcommand lives in its own module under :mod:`bpkit.assignments` and exposes two
functions, ``add_arguments(parser)`` and ``run(args) -> int``; this file only wires them up.
A subcommand whose module is absent (the student edition ships only ``collect``) is not offered.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "start": (
        "bpkit.assignments.release.start",
        "write your own edition of the course, every exercise a stub, and say how to open it",
    ),
    "release": (
        "bpkit.assignments.release.edition",
        "write the student edition from the solution source",
    ),
    "grade": ("bpkit.assignments.grading.grade", "grade student editions or submission zips"),
    "collect": ("bpkit.assignments.student.collect", "pack the files a student hands in"),
    "autograder": ("bpkit.assignments.grading.autograder", "build a Gradescope autograder zip"),
}


def available_commands() -> dict[str, tuple[str, str]]:
    """Subcommands whose module is present (a student edition ships only ``collect``)."""
    found = {}
    for name, (module, text) in COMMANDS.items():
        try:
            present = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # the subcommand's package is absent too
            present = False
        if present:
            found[name] = (module, text)
    return found


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported to add its options.

    Importing every subcommand would make ``bpkit collect`` pay for the grader's imports,
    and fail where one of them cannot load (the grader's sandbox needs Linux).
    """
    commands = available_commands()
    parser = argparse.ArgumentParser(
        prog="bpkit", description=f"The bpkit course kit: {', '.join(commands)}."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, text) in commands.items():
        p = sub.add_parser(name, help=text, description=text)
        p.set_defaults(_module=module)
        if name == command:
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``bpkit COMMAND ...`` and return its exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    return importlib.import_module(args._module).run(args)


if __name__ == "__main__":
    sys.exit(main())
