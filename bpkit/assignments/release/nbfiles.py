"""Notebook files in the release: each cell through the marker rules, one JSON form out.

:func:`render` gives the notebook a student edition ships (code regions stubbed, markdown
answers blanked, stored outputs kept); :func:`fill` puts the reference cells back into an
edition's notebook. Both parse the notebook as plain JSON, so nothing needs nbformat, and
write it one canonical way (:func:`notebook_json`), so the same source gives the same bytes.
Every region of a notebook is handled the same way: notebook cells are course work, not
graded exercises, so no region belongs to an exercise.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from bpkit.assignments.release import markers


class NotebookError(ValueError):
    """A notebook that cannot be read or filled; the message starts with its path."""


def notebook_json(nb: dict) -> bytes:
    """Notebook JSON written one way only: nbformat's layout (indent 1, sorted keys)."""
    return (json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def source_text(cell: dict) -> str:
    """A cell's source as one string (the JSON holds a string or a list of lines)."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def map_cells(raw: bytes, rel: str, change: Callable[[str, str, Callable], str]) -> dict:
    """Parse a notebook and pass each code and markdown cell's text through ``change``.

    ``change(text, cell_type, where)`` is one of the cell functions of
    :mod:`bpkit.assignments.release.markers`; ``where`` names the notebook, cell and line in errors.
    """
    try:
        nb = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        raise NotebookError(f"{rel}: not a valid notebook ({exc})") from None
    for index, cell in enumerate(nb.get("cells", []), start=1):
        if cell.get("cell_type") not in ("code", "markdown"):
            continue

        def where(i: int, index: int = index) -> str:
            return f"{rel}, cell {index}, line {i + 1}"

        text = change(source_text(cell), cell["cell_type"], where)
        cell["source"] = text.splitlines(keepends=True)
    return nb


def render(raw: bytes, rel: str) -> bytes:
    """The notebook as the student edition ships it: every region stubbed or blanked."""
    return notebook_json(map_cells(raw, rel, markers.render_cell))


def fill(path: Path, source_path: Path, rel: str) -> None:
    """Give every stubbed or blanked cell of an edition notebook its reference text back.

    Raises
    ------
    NotebookError
        If the edition's cells are not those of the source notebook (kinds, in order).
    """
    filled = map_cells(source_path.read_bytes(), rel, markers.strip_cell)
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells, reference = nb.get("cells", []), filled.get("cells", [])
    if [c.get("cell_type") for c in cells] != [c.get("cell_type") for c in reference]:
        raise NotebookError(f"{rel}: the cells differ from the source notebook's; cannot fill")
    stubs = (markers.CELL_RAISE, markers.MARKDOWN_ANSWER)
    for cell, ref in zip(cells, reference, strict=True):
        if any(stub in source_text(cell) for stub in stubs):
            cell["source"] = ref["source"]
    path.write_bytes(notebook_json(nb))
