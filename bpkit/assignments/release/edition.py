"""``bpkit release``: write the student edition from the solution source.

The edition is a self-contained folder a student installs with ``pip install -e .``:

- ``bpkit/``: the package files named in :data:`SHIP`, with the solution regions of the
  released exercises turned into stubs (:mod:`.stubs`); the others keep their reference
  code. Grading code and hidden checks are never in :data:`SHIP`.
- ``notebooks/``: every ``*.ipynb`` with code regions stubbed and markdown answers blanked
  (stored outputs kept, the student compares against them), and nothing else: the folder a
  learner browses in JupyterLab holds only notebooks.
- ``tests/nbval_sanitize.cfg``: the nbval sanitizer that checking the notebooks uses.
  Notebook regions are stubbed in every release, whatever ``--exercises`` says: notebook
  cells are course work, not graded exercises (the grader reads only the modules), so no
  notebook region belongs to an exercise and none keeps its reference text.
- ``tests/exercises/``: the public tests.
- ``README.md``, ``pyproject.toml``, ``environment.yml``, ``edition.json``
  (:mod:`.student_files`).

The whole edition is rendered in memory first, in the order of :data:`STEPS`, and written
only when every step succeeded, so a marker error leaves nothing half-written; it is written
to a temporary folder beside the target and renamed into place, so a write error leaves no
half edition either, and ``--overwrite`` replaces an earlier edition only once the new one
is complete. Walks are
sorted, nothing reads a clock and notebook JSON is written one canonical way, so the same
source gives byte-identical editions.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser ships as the tomli package
    import tomli as tomllib

from bpkit.assignments.release import markers, nbfiles, stubs, student_files
from bpkit.assignments.release.source import (
    ReleaseError,
    default_source,
    matches,
    selected,
    walk,
)
from bpkit.assignments.student import collect
from bpkit.assignments.student import exercises as registry

# Package files that ship, as /-separated patterns matched part by part from the source root.
SHIP: tuple[str, ...] = (
    "bpkit/__init__.py",
    "bpkit/__main__.py",
    "bpkit/_scratch.py",
    "bpkit/_validate.py",
    "bpkit/cli.py",
    "bpkit/layers.py",
    "bpkit/fast_layers.py",
    "bpkit/layer_utils.py",
    "bpkit/optim.py",
    "bpkit/models.py",
    "bpkit/solver.py",
    "bpkit/gradcheck.py",
    "bpkit/data/*.py",
    "bpkit/data/*.npz",
    "bpkit/assignments/__init__.py",
    "bpkit/assignments/student/*.py",
)
# Everything else under this folder is tooling (release, grading, hidden checks): withheld.
TOOLING = "bpkit/assignments/"
NOTEBOOK_FILES = ("notebooks/*.ipynb",)
# nbval's settings for checking the notebooks, kept out of notebooks/.
NBVAL_FILES = ("tests/nbval_sanitize.cfg",)
PUBLIC_TESTS = ("tests/exercises/*.py",)
# --- steps: each takes the source root, the released names and the files rendered so far ---

Files = dict[str, bytes]


def package(source: Path, released: list[str], files: Files) -> None:
    """Ship the allow-listed package files, stubbing the released exercises' regions."""
    found: dict[str, list[stubs.OwnedRegion]] = {}
    for rel in walk(source, "bpkit"):
        if _ships(rel):
            files[rel] = _render_package_file(source, rel, released, found)
    for name in released:
        _check_regions(registry.get(name), found)


def _ships(rel: str) -> bool:
    """Whether a package file ships; tooling does not, and a file on neither list is an error."""
    if matches(rel, SHIP):
        return True
    if rel.startswith(TOOLING):
        return False
    raise ReleaseError(
        f"{rel}: not in the ship list of bpkit/assignments/release/edition.py; add it to "
        "SHIP if students get it, or move it under bpkit/assignments/ if they must not"
    )


def _render_package_file(source: Path, rel: str, released: list[str], found: dict) -> bytes:
    """A package file as it ships; for a module, its regions go into ``found``."""
    data = (source / rel).read_bytes()
    if not rel.endswith(".py"):
        return data
    text = data.decode("utf-8")
    module = rel[: -len(".py")].replace("/", ".")
    found[module] = stubs.module_regions(text, rel, module)
    return stubs.render_module(text, rel, module, released).encode("utf-8")


def _check_regions(ex: registry.Exercise, found: dict[str, list[stubs.OwnedRegion]]) -> None:
    """A released exercise needs its module and a region in every one of its targets."""
    if ex.module not in found:
        raise ReleaseError(f"exercise {ex.name}: its module {ex.path} is not in the source")
    have = {o.qualname for o in found[ex.module] if o.exercise == ex.name}
    for target in ex.targets:
        if target not in have:
            raise ReleaseError(
                f"exercise {ex.name}: {ex.path} has no solution region in {target}; expected "
                "at least one, between '# BEGIN SOLUTION' and '# END SOLUTION'"
            )


def notebooks(source: Path, released: list[str], files: Files) -> None:
    """Ship the notebooks with regions stubbed or blanked, and the nbval sanitizer.

    Every region is stubbed or blanked and ``released`` is not read: notebook cells are
    course work, not graded exercises, so none of them belongs to an exercise.
    """
    if not (source / "notebooks").is_dir():
        return
    for rel in walk(source, "notebooks"):
        if not matches(rel, NOTEBOOK_FILES):
            continue
        raw = (source / rel).read_bytes()
        if rel.endswith(".ipynb"):
            try:
                raw = nbfiles.render(raw, rel)
            except nbfiles.NotebookError as exc:
                raise ReleaseError(str(exc)) from None
        files[rel] = raw
    for rel in NBVAL_FILES:
        if (source / rel).is_file():
            files[rel] = (source / rel).read_bytes()


def public_tests(source: Path, released: list[str], files: Files) -> None:
    """Ship the public tests, and check that every released exercise has its file."""
    for rel in walk(source, "tests/exercises"):
        if matches(rel, PUBLIC_TESTS):
            files[rel] = (source / rel).read_bytes()
    for name in released:
        rel = registry.get(name).public_tests
        if rel not in files:
            raise ReleaseError(f"exercise {name}: no public tests; expected {rel}")


def _notebook_needs(files: Files) -> dict[str, list[str]]:
    """Notebook path -> the exercises its first cell says it needs."""
    needs = {}
    for rel, data in files.items():
        if rel.startswith("notebooks/") and rel.endswith(".ipynb"):
            cells = json.loads(data.decode("utf-8")).get("cells", [])
            if cells:
                first = cells[0].get("source", "")
                text = first if isinstance(first, str) else "".join(first)
                needs[rel] = student_files.notebook_exercises(text)
    return needs


def project_files(source: Path, released: list[str], files: Files) -> None:
    """README, pyproject.toml, environment.yml and the edition manifest."""
    project = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))
    shipped_notebooks = sorted(
        rel for rel in files if rel.startswith("notebooks/") or rel in NBVAL_FILES
    )
    submitted = sorted(rel for rel in files if collect.is_submitted(rel))
    version = project["project"]["version"]
    texts = {
        "README.md": student_files.readme(
            released, shipped_notebooks, submitted, _notebook_needs(files)
        ),
        "pyproject.toml": student_files.pyproject(project),
        "environment.yml": student_files.environment_yml(project),
        collect.MANIFEST: student_files.manifest(released, version, submitted),
    }
    files.update({rel: text.encode("utf-8") for rel, text in texts.items()})


# Order matters in two places: `package` runs first so that a marker error stops the release
# before anything else is read, and `project_files` runs last because the README and the
# manifest list the notebooks and handed-in files that the earlier steps rendered.
STEPS: tuple[Callable[[Path, list[str], Files], None], ...] = (
    package,
    notebooks,
    public_tests,
    project_files,
)


def render(source: Path, released: list[str]) -> Files:
    """Every file of the edition, relative path to bytes, without writing anything."""
    files: Files = {}
    for step in STEPS:
        step(source, released, files)
    return dict(sorted(files.items()))


def _prepare(out: Path, source: Path, overwrite: bool) -> None:
    # Checked before anything else: --overwrite empties ``out``, which must never take the
    # source with it, even when an earlier edition's manifest sits next to the source.
    if out == source or out in source.parents:
        raise ReleaseError(
            f"{out}: holds the source {source}; expected a folder outside the source "
            "(replacing it would delete the source)"
        )
    for folder in ("bpkit", "notebooks", "tests"):
        if (source / folder) in (out, *out.parents):
            raise ReleaseError(f"{out}: expected a folder outside the source's {folder}/")
    if out.exists() and any(out.iterdir()):
        if not (overwrite and (out / collect.MANIFEST).is_file()):
            raise ReleaseError(
                f"{out}: the folder exists and is not empty; expected a new folder "
                "(or an earlier edition, with --overwrite)"
            )


@dataclass(frozen=True)
class Edition:
    """What :func:`write_edition` wrote: the folder (resolved), the exercises released as
    stubs (registry order) and every file written (relative to ``path``, sorted)."""

    path: Path
    released: tuple[str, ...]
    files: tuple[str, ...]


def build(
    out_dir: str | Path,
    exercises: Iterable[str] | None = None,
    source: str | Path | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the student edition and return its folder.

    The same as :func:`write_edition`, which also says what it released and wrote.

    Parameters
    ----------
    out_dir : path
        The folder to write; it must be new or empty (or an earlier edition, when
        ``overwrite`` is set).
    exercises : iterable of str, optional
        The exercises to release as stubs; all of them when None. The others keep their
        reference code. Notebook regions are stubbed whatever this says.
    source : path, optional
        The repository root holding ``bpkit/``, ``notebooks/`` and ``tests/``; by default
        the one above the imported ``bpkit``.
    overwrite : bool
        Replace ``out_dir`` if it holds an earlier edition.

    Returns
    -------
    Path
        ``out_dir``, resolved.

    Raises
    ------
    ReleaseError
        On an unknown exercise, a marker problem (``file:line``), a package file in neither
        the ship list nor the tooling folder, a missing module or public test file, or an
        ``out_dir`` that is, or holds, the source.
    """
    return write_edition(out_dir, exercises, source, overwrite).path


def write_edition(
    out_dir: str | Path,
    exercises: Iterable[str] | None = None,
    source: str | Path | None = None,
    overwrite: bool = False,
) -> Edition:
    """Write the student edition; parameters and errors as in :func:`build`."""
    root = Path(source).resolve() if source is not None else default_source()
    out = Path(out_dir).resolve()
    released = selected(exercises)
    try:
        files = render(root, released)
    except markers.MarkerError as exc:
        raise ReleaseError(str(exc)) from None
    _prepare(out, root, overwrite)
    _write_atomically(out, files)
    return Edition(out, tuple(released), tuple(files))


def _write_atomically(out: Path, files: Files) -> None:
    """Write ``files`` into a temporary folder beside ``out``, then rename it to ``out``.

    ``out`` is either absent, empty, or an earlier edition (checked by ``_prepare``). Until
    the new edition is complete nothing at ``out`` changes: a write error part way (a full
    disk, a quota) removes the temporary folder and leaves ``out`` as it was. An earlier
    edition is moved aside, the new one renamed in, and only then the old one deleted.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    old = None
    try:
        for rel, data in files.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        mask = os.umask(0)
        os.umask(mask)
        staging.chmod(0o777 & ~mask)  # mkdtemp made it private
        if out.exists() and any(out.iterdir()):
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old)  # an empty folder is replaced by rename itself
        try:
            os.replace(staging, out)
        except OSError:
            if old is not None:
                os.replace(old, out)
                old = None
            raise
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ReleaseError(
            f"{out}: could not write the edition ({exc}); nothing was changed there"
        ) from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out_dir", metavar="OUT_DIR", help="the folder to write the edition to")
    parser.add_argument(
        "--exercises",
        nargs="+",
        metavar="NAME",
        help="exercises to release as stubs (names or comma-separated lists; default: all): "
        + ", ".join(ex.name for ex in registry.EXERCISES)
        + ". Notebook solution regions are course work, not exercises: they are stubbed in "
        "every release whatever this says.",
    )
    parser.add_argument(
        "--source", metavar="ROOT", help="repository root (default: the one above bpkit)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace OUT_DIR if it holds an earlier edition"
    )


def run(args: argparse.Namespace) -> int:
    names = None
    if args.exercises:
        names = [n for arg in args.exercises for n in arg.split(",") if n]
    try:
        edition = write_edition(args.out_dir, names, args.source, overwrite=args.overwrite)
    except ReleaseError as exc:
        print(f"bpkit release: error: {exc}", file=sys.stderr)
        return 2
    kept = [ex.name for ex in registry.EXERCISES if ex.name not in edition.released]
    print(f"wrote the student edition to {edition.path} ({len(edition.files)} files)")
    print(f"  stubs for: {', '.join(edition.released)}")
    print(f"  reference code kept for: {', '.join(kept) or 'none'}")
    return 0
