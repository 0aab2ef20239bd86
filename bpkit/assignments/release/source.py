"""The course source a release reads: where it is, which files a pattern names, which exercises.

Shared by :mod:`.edition` (writing an edition) and :mod:`.fill` (filling one back in).
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from pathlib import Path

import bpkit
from bpkit.assignments.student import exercises as registry

_SKIP_NAMES = ("__pycache__", "*.pyc", ".*", "*.egg-info")


class ReleaseError(ValueError):
    """The source cannot be released as asked; the message says what and where."""


def matches(rel: str, patterns: Iterable[str]) -> bool:
    """Whether ``rel`` matches one of the patterns part by part (no ``*`` crosses a ``/``)."""
    parts = rel.split("/")
    for pattern in patterns:
        pat = pattern.split("/")
        if len(pat) == len(parts) and all(
            fnmatchcase(a, b) for a, b in zip(parts, pat, strict=True)
        ):
            return True
    return False


def walk(root: Path, folder: str) -> list[str]:
    """Relative paths of the files under ``root/folder``, sorted, caches and dotfiles left out."""
    found = []
    for path in sorted((root / folder).rglob("*")):
        rel = path.relative_to(root).as_posix()
        if any(matches(part, _SKIP_NAMES) for part in rel.split("/")) or not path.is_file():
            continue
        found.append(rel)
    return found


def default_source() -> Path:
    """The repository root above the imported ``bpkit`` package (an editable install)."""
    root = Path(bpkit.__file__).resolve().parent.parent
    if not (root / "notebooks").is_dir():
        raise ReleaseError(
            f"cannot find the course source: bpkit is imported from {root / 'bpkit'}, but "
            f"{root / 'notebooks'} does not exist; expected a repository checkout installed "
            "with `pip install -e .`, or pass the repository root as --source"
        )
    return root


def selected(names: Iterable[str] | None) -> list[str]:
    """Check exercise names against the registry; None means all of them."""
    if names is None:
        return [ex.name for ex in registry.EXERCISES]
    chosen = []
    for name in names:
        try:
            chosen.append(registry.get(name).name)
        except KeyError as exc:
            raise ReleaseError(exc.args[0]) from None
    if not chosen:
        raise ReleaseError("--exercises: expected at least one exercise name, got none")
    return sorted(set(chosen), key=[ex.name for ex in registry.EXERCISES].index)
