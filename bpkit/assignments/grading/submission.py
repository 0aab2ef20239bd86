"""Reading a submission: only the handed-in modules, from a folder or a zip, never more.

A submission is a student edition folder, a zip made by ``bpkit collect``, or a folder that
holds one such zip (Gradescope's ``/autograder/submission``). From it the grader reads the
modules that hold exercises (``bpkit/layers.py``, ``bpkit/optim.py``, ``bpkit/models.py``)
as bytes -- nothing is imported or executed here -- and lays them over a pristine student
edition. Every other file (a ``conftest.py``, a ``numpy.py``, a ``sitecustomize.py``) is
ignored. Symbolic links are refused, so a submission cannot point the grader at the
instructor's files; sizes are capped, so a zip bomb costs nothing.

Notebooks are not graded: the grade comes from the hidden checks of the modules alone.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from bpkit.assignments.student import exercises

MODULES: tuple[str, ...] = exercises.MODULE_PATHS
MAX_BYTES = 2 * 2**20


class SubmissionError(Exception):
    """The path given is neither a folder nor a file."""


@dataclass
class Submission:
    """The handed-in modules of one submission.

    Attributes
    ----------
    name : str
        Label for reports: the folder's or the zip's name.
    files : dict
        Relative path (``bpkit/layers.py``) -> content, for the modules found.
    problems : dict
        Relative path -> why it is missing or unusable, in words.
    """

    name: str
    files: dict[str, bytes] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)


def load(path: str | Path) -> Submission:
    """Read the handed-in modules of a submission folder or zip.

    Raises
    ------
    SubmissionError
        If ``path`` does not exist.
    """
    path = Path(path)
    if path.is_dir():
        zips = sorted(p for p in path.iterdir() if p.suffix == ".zip" and p.is_file())
        if len(zips) == 1 and not any(_find_in_dir(path, rel) for rel in MODULES):
            return _from_zip(zips[0], name=path.name)
        return _from_dir(path)
    if path.is_file():
        return _from_zip(path, name=path.name)
    raise SubmissionError(f"{path}: no such folder or zip file")


def _find_in_dir(root: Path, rel: str) -> Path | None:
    # Gradescope flattens uploaded files, so bpkit/layers.py may arrive as layers.py.
    for candidate in (root / rel, root / PurePosixPath(rel).name):
        if os.path.lexists(candidate):
            return candidate
    return None


def _from_dir(root: Path) -> Submission:
    sub = Submission(root.name)
    real_root = os.path.realpath(root)
    for rel in MODULES:
        found = _find_in_dir(root, rel)
        if found is None:
            sub.problems[rel] = f"{rel} is not in the submission"
            continue
        inside = os.path.relpath(found, root)
        if os.path.realpath(found) != os.path.join(real_root, inside) or found.is_symlink():
            sub.problems[rel] = f"{rel} is a symbolic link (refused)"
            continue
        try:
            data = _read_regular(found)
        except OSError as exc:
            sub.problems[rel] = f"{rel} could not be read ({exc.strerror})"
            continue
        if data is None:
            sub.problems[rel] = f"{rel} is not a regular file (refused)"
            continue
        _accept(sub, rel, data)
    return sub


def _read_regular(path: Path) -> bytes | None:
    """The first ``MAX_BYTES + 1`` bytes of a regular file; None for anything else.

    Opened without blocking and checked on the open descriptor, so a FIFO or a device in
    place of a module can neither hang the grader nor be swapped in after a check.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return fh.read(MAX_BYTES + 1)


def _from_zip(path: Path, name: str) -> Submission:
    sub = Submission(name)
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            for rel in MODULES:
                member = _pick_member(names, rel)
                if member is None:
                    sub.problems[rel] = f"{rel} is not in {path.name}"
                    continue
                with zf.open(member) as fh:
                    _accept(sub, rel, fh.read(MAX_BYTES + 1))
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
        for rel in MODULES:
            sub.files.pop(rel, None)
            sub.problems[rel] = f"{path.name} could not be read as a zip file ({exc})"
    return sub


def _pick_member(names: list[str], rel: str) -> str | None:
    if rel in names:
        return rel
    # A zip of the edition folder itself holds <folder>/bpkit/layers.py.
    nested = [n for n in names if n.endswith("/" + rel) and ".." not in n.split("/")]
    return nested[0] if len(nested) == 1 else None


def _accept(sub: Submission, rel: str, data: bytes) -> None:
    if len(data) > MAX_BYTES:
        sub.problems[rel] = f"{rel} is larger than {MAX_BYTES // 2**20} MiB (refused)"
    else:
        sub.files[rel] = data


def lay_over(sub: Submission, pristine: Path, dest: Path) -> Path:
    """Copy the pristine edition's ``bpkit/`` to ``dest`` and put the submitted modules in.

    Returns the folder that holds the resulting ``bpkit`` package (``dest``).
    """
    shutil.copytree(
        pristine / "bpkit", dest / "bpkit", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    for rel, data in sub.files.items():
        (dest / rel).write_bytes(data)
    return dest
