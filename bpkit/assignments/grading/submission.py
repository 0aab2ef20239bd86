"""Reading a submission: only the handed-in modules, from a folder or a zip, never more.

A submission is a student edition folder, a zip made by ``bpkit collect``, or a folder that
holds one such zip (Gradescope's ``/autograder/submission``). From it the grader reads the
modules that hold exercises (``bpkit/layers.py``, ``bpkit/optim.py``, ``bpkit/models.py``)
as bytes -- nothing is imported or executed here -- and lays them over a pristine student
edition. Every other file (a ``conftest.py``, a ``numpy.py``, a ``sitecustomize.py``) is
ignored. Symbolic links are refused, so a submission cannot point the grader at the
instructor's files; sizes are capped, so a zip bomb costs nothing.

One layout rule holds for folders and zips alike (:func:`locate`): the modules at the top
(Gradescope flattens an upload), or in one folder named ``bpkit`` at any depth; two such
places are refused with "two copies found at ...". A damaged zip (a bad deflate or LZMA
stream, a name flagged UTF-8 that is not) makes every module a problem of that submission,
in words; nothing here raises for a bad hand-in.

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

    Whatever goes wrong while reading (a damaged zip, a name that is not UTF-8, a file that
    vanished) becomes a problem of this submission in words; only a path that does not
    exist raises.

    Raises
    ------
    SubmissionError
        If ``path`` does not exist.
    """
    path = Path(path)
    name = display_name(path)
    if path.is_dir():
        zips = sorted(p for p in path.iterdir() if p.suffix == ".zip" and p.is_file())
        if len(zips) == 1 and not _dir_has_modules(path):
            return _from_zip(zips[0], name=name)
        return _from_dir(path, name)
    if path.is_file():
        return _from_zip(path, name=name)
    raise SubmissionError(f"{path}: no such folder or zip file")


# The layout rule, the same for folders and zips: the modules at the top (Gradescope
# flattens uploads: bpkit/layers.py arrives as layers.py), or in one folder named bpkit at
# any depth (a student edition, a zip of it or of its parent folder). Folders whose names
# start with a dot, __pycache__ and __MACOSX (a macOS zip's resource forks) are not searched.
BASENAMES = frozenset(PurePosixPath(rel).name for rel in MODULES)
SKIPPED = ("__pycache__", "__MACOSX")
MAX_ENTRIES = 100_000


class LayoutError(Exception):
    """The modules are not where the layout rule says, or are there twice."""


def locate(files: list[str]) -> str | None:
    """The folder (``""`` for the top, else ``a/b/bpkit``) holding the modules among ``files``.

    ``files`` are relative POSIX paths. Returns None when no module is anywhere allowed.

    Raises
    ------
    LayoutError
        If two places hold modules ("two copies found at ...").
    """
    places = set()
    for rel in files:
        folder, _, base = rel.rpartition("/")
        if base not in BASENAMES:
            continue
        parts = folder.split("/") if folder else []
        if any(p.startswith(".") or p in SKIPPED or p == ".." for p in parts):
            continue
        if not parts or parts[-1] == "bpkit":
            places.add(folder)
    if len(places) > 1:
        shown = ", ".join(f"{p}/" if p else "the top level" for p in sorted(places))
        raise LayoutError(
            f"two copies found at {shown}: hand in one edition (the modules at the top, or "
            "one bpkit/ folder)"
        )
    return places.pop() if places else None


def _walk(root: Path) -> list[str]:
    """Relative paths of the files under ``root``, without following links (iterative)."""
    found, stack, seen = [], [""], 0
    while stack:
        rel = stack.pop()
        with os.scandir(root / rel if rel else root) as entries:
            for entry in entries:
                seen += 1
                if seen > MAX_ENTRIES:
                    raise LayoutError(f"more than {MAX_ENTRIES} files and folders; not searched")
                sub = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_dir(follow_symlinks=False):
                    if not (entry.name.startswith(".") or entry.name in SKIPPED):
                        stack.append(sub)
                else:
                    found.append(sub)
    return found


def _dir_has_modules(root: Path) -> bool:
    try:
        return locate(_walk(root)) is not None
    except (LayoutError, OSError):
        return True  # let _from_dir say what is wrong


def display_name(path: str | Path) -> str:
    """The submission's label in reports: the folder's or the zip's own name."""
    return Path(os.path.abspath(path)).name or str(path)


def _from_dir(root: Path, name: str) -> Submission:
    sub = Submission(name)
    try:
        place = locate(_walk(root))
    except (LayoutError, OSError) as exc:
        return _unusable(sub, str(exc) if isinstance(exc, LayoutError) else _oserror(exc))
    real_root = os.path.realpath(root)
    for rel in MODULES:
        inside = _inside(place, rel)
        found = root / inside if place is not None else None
        if found is None or not os.path.lexists(found):
            sub.problems[rel] = f"{rel} is not in the submission"
            continue
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


def _inside(place: str | None, rel: str) -> str:
    base = PurePosixPath(rel).name
    return f"{place}/{base}" if place else base


def _oserror(exc: OSError) -> str:
    return f"could not be read ({exc.strerror or exc})"


def _unusable(sub: Submission, why: str) -> Submission:
    for rel in MODULES:
        sub.files.pop(rel, None)
        sub.problems[rel] = why
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
            members = {i.filename: i for i in zf.infolist() if not i.is_dir()}
            place = locate(list(members))
            for rel in MODULES:
                member = members.get(_inside(place, rel)) if place is not None else None
                if member is None:
                    sub.problems[rel] = f"{rel} is not in {path.name}"
                    continue
                if member.file_size > MAX_BYTES:
                    sub.problems[rel] = f"{rel} is larger than {MAX_BYTES // 2**20} MiB (refused)"
                    continue
                with zf.open(member) as fh:
                    _accept(sub, rel, fh.read(MAX_BYTES + 1))
    except LayoutError as exc:
        return _unusable(sub, str(exc))
    except Exception as exc:  # noqa: BLE001  (a damaged zip may raise zlib.error, LZMAError, ...)
        return _unusable(
            sub, f"{path.name} could not be read as a zip file ({type(exc).__name__}: {exc})"
        )
    return sub


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
