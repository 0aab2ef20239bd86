"""Put the reference code back into a student edition: the inverse of the release's stubs.

The tests and benchmarks grade an honestly filled edition, and the round trip (release,
then fill) must give back the reference modules line for line. Each stub of an exercise
is replaced by the body of its region in the source; every other line of the edition, a
student's own edits included, stays as it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from bpkit.assignments.release import markers, nbfiles, stubs
from bpkit.assignments.release.source import ReleaseError, default_source, selected
from bpkit.assignments.student import collect
from bpkit.assignments.student import exercises as registry


def fill_stubs(
    edition_dir: str | Path,
    source: str | Path | None = None,
    exercises: Iterable[str] | None = None,
) -> None:
    """Put the reference code back into a student edition, in place.

    Parameters
    ----------
    edition_dir : path
        A folder written by :func:`bpkit.assignments.release.edition.build`.
    source : path, optional
        The repository root it was built from (by default the one above ``bpkit``).
    exercises : iterable of str, optional
        The exercises to fill; every released one when None, and then the notebook cells
        too. Lines outside the stubs, a student's edits included, stay as they are.

    Raises
    ------
    ReleaseError
        On an exercise that is not a stub in the edition, or a marker problem.
    """
    root = Path(source).resolve() if source is not None else default_source()
    edition = Path(edition_dir)
    fill = _to_fill(edition, exercises)
    try:
        _fill_modules(edition, root, fill)
        if exercises is None:
            _fill_notebooks(edition, root)
    except (markers.MarkerError, nbfiles.NotebookError) as exc:
        raise ReleaseError(str(exc)) from None


def _to_fill(edition: Path, exercises: Iterable[str] | None) -> list[str]:
    """The exercises to fill: those asked for, each of them a stub in the edition."""
    manifest = json.loads((edition / collect.MANIFEST).read_text(encoding="utf-8"))
    released = manifest["released_exercises"]
    fill = released if exercises is None else selected(exercises)
    not_released = sorted(set(fill) - set(released))
    if not_released:
        raise ReleaseError(
            f"exercises {not_released} are not stubs in {edition}; expected some of {released}"
        )
    return fill


def _fill_modules(edition: Path, root: Path, fill: list[str]) -> None:
    for rel, module in sorted({(registry.get(n).path, registry.get(n).module) for n in fill}):
        path = edition / rel
        text = stubs.fill_module(
            path.read_text(encoding="utf-8"),
            (root / rel).read_text(encoding="utf-8"),
            rel,
            module,
            fill,
        )
        path.write_text(text, encoding="utf-8")


def _fill_notebooks(edition: Path, root: Path) -> None:
    for path in sorted((edition / "notebooks").glob("*.ipynb")):
        nbfiles.fill(path, root / "notebooks" / path.name, f"notebooks/{path.name}")
