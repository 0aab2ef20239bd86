"""``bpkit collect``: pack the files a student hands in into ``submission.zip``.

A student edits the package modules that hold exercises and the notebooks; those, and only
those, go in the zip. The grader takes the same files, and only them, out of a submission
and lays them over a fresh student edition of its own, so a stray ``conftest.py`` or
``numpy.py`` in a submission is never used. The zip is deterministic: sorted entries, one
fixed timestamp and file mode, so packing the same files twice gives the same bytes.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bpkit.assignments.student import exercises

MANIFEST = "edition.json"
ZIP_NAME = "submission.zip"

# The modules that hold exercises, as paths relative to an edition's root.
SUBMITTED_MODULES: tuple[str, ...] = exercises.MODULE_PATHS
NOTEBOOK_DIR = "notebooks"

# 1980-01-01, the earliest time a zip entry can hold: no clock reaches the bytes.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class CollectError(Exception):
    """Raised when there is nothing sensible to pack; the message says why and what to do."""


def is_submitted(relpath: str) -> bool:
    """Whether a path, relative to an edition's root (``/`` separated), is a handed-in file.

    True for the exercise modules and for ``notebooks/<name>.ipynb`` directly in
    ``notebooks/``; everything else in a submission is ignored.
    """
    path = PurePosixPath(relpath)
    if path.is_absolute() or ".." in path.parts:
        return False
    if str(path) in SUBMITTED_MODULES:
        return True
    return len(path.parts) == 2 and path.parts[0] == NOTEBOOK_DIR and path.suffix == ".ipynb"


def submitted_files(edition: str | Path) -> list[str]:
    """The handed-in files present in an edition, relative paths, sorted.

    Raises
    ------
    CollectError
        If an exercise module is missing.
    """
    root = Path(edition)
    missing = [m for m in SUBMITTED_MODULES if not (root / m).is_file()]
    if missing:
        raise CollectError(
            f"{root}: missing {missing}; expected every exercise module of the edition "
            "(restore a deleted file from the edition you were given)"
        )
    notebooks = sorted(
        f"{NOTEBOOK_DIR}/{p.name}" for p in (root / NOTEBOOK_DIR).glob("*.ipynb") if p.is_file()
    )
    return sorted([*SUBMITTED_MODULES, *notebooks])


def find_edition(start: str | Path) -> Path:
    """The root of the student edition holding ``start``: the nearest folder with the manifest.

    Raises
    ------
    CollectError
        When no folder from ``start`` up has ``edition.json``.
    """
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        if (folder / MANIFEST).is_file():
            return folder
    raise CollectError(
        f"no student edition found at {here} or any folder above it: expected a folder with "
        f"{MANIFEST} (every student edition has one at its top). Run `bpkit collect` inside "
        "the folder you were given, or pass --edition PATH."
    )


def unfinished(root: Path, files: list[str]) -> list[str]:
    """Exercises whose stub is still in one of ``files``, sorted."""
    names = set()
    for rel in files:
        if rel.endswith(".py"):
            for line in (root / rel).read_text(encoding="utf-8").splitlines():
                found = exercises.STUB_MESSAGE.search(line)
                if found and "raise NotImplementedError" in line:
                    names.add(found["exercise"])
    return sorted(names)


def zip_entry(zf: zipfile.ZipFile, name: str, data: bytes, mode: int = 0o644) -> None:
    """Add one entry whose bytes depend on nothing but ``name``, ``data`` and ``mode``.

    Fixed timestamp, deflated, and a Unix regular-file ``mode`` (``0o755`` for a script);
    ``bpkit autograder`` writes its zip with this too.
    """
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, so the mode below is read the same everywhere
    info.external_attr = (0o100000 | mode) << 16
    zf.writestr(info, data)


def write_zip(root: Path, files: list[str], out: Path) -> None:
    """Write ``files`` (relative to ``root``) to the zip ``out``, deterministically."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for rel in sorted(files):
            zip_entry(zf, rel, (root / rel).read_bytes())


@dataclass(frozen=True)
class Packed:
    """What :func:`pack` wrote: the zip, the edition's root and the files in the zip."""

    target: Path
    root: Path
    files: tuple[str, ...]


def pack(edition: str | Path = ".", out: str | Path | None = None) -> Packed:
    """Pack the handed-in files of the edition holding ``edition`` into a zip.

    Parameters
    ----------
    edition : path
        The edition's root or any folder inside it.
    out : path, optional
        Where to write the zip; ``submission.zip`` at the edition's root by default.

    Returns
    -------
    Packed
        The zip written, the edition's root and the relative paths packed, sorted.
    """
    root = find_edition(edition)
    try:
        json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise CollectError(f"{root / MANIFEST}: not valid JSON ({exc})") from None
    files = submitted_files(root)
    target = Path(out) if out is not None else root / ZIP_NAME
    write_zip(root, files, target)
    return Packed(target, root, tuple(files))


def collect(edition: str | Path = ".", out: str | Path | None = None) -> Path:
    """Like :func:`pack`, returning only the path of the zip written."""
    return pack(edition, out).target


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--edition",
        default=".",
        metavar="PATH",
        help="the student edition (its root or a folder inside it; default: here)",
    )
    parser.add_argument(
        "-o",
        "--output",
        default=None,
        metavar="ZIP",
        help=f"where to write the zip (default: {ZIP_NAME} at the edition's root)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        packed = pack(args.edition, args.output)
    except CollectError as exc:
        print(f"bpkit collect: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {packed.target} with {len(packed.files)} files:")
    for rel in packed.files:
        print(f"  {rel}")
    todo = unfinished(packed.root, list(packed.files))
    if todo:
        print(f"note: still not implemented: {', '.join(todo)}")
    return 0
