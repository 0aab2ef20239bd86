"""Solution markers: find them, pair them into regions, and stub or strip notebook cells.

A solution region is the block of lines between two marker lines, ``# BEGIN SOLUTION`` and
``# END SOLUTION`` in Python code (modules and notebook code cells), or
``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->`` in notebook markdown cells. The two
markers of a region share one indentation, and regions never nest. A comment or markdown
line that says SOLUTION together with BEGIN or END but is not exactly a marker is an error,
never silently plain text: a mistyped marker would ship the solution it was meant to hide.

Which exercise a region of a module belongs to, and the module with its regions stubbed or
filled back, is :mod:`.stubs`; notebook cells are stubbed here. Everything works on text,
one file at a time, and raises :class:`MarkerError` naming the file and line of the first
problem it meets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

# Marker spellings by cell or file kind: (begin, end).
PYTHON = ("# BEGIN SOLUTION", "# END SOLUTION")
MARKDOWN = ("<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->")

# What a stubbed notebook cell region becomes; fill_notebook_cell looks for these.
CELL_TODO = "# TODO: write this part yourself, then run the cell."
CELL_RAISE = 'raise NotImplementedError("this cell is not filled in yet: replace the TODO")'
MARKDOWN_ANSWER = "*Your answer here.*"

# A line that says SOLUTION together with BEGIN or END but is not exactly a marker is taken
# for a mistyped one (``# BEGIN_SOLUTION``, ``## BEGIN SOLUTION``, ``# END SOLUTIONS``): better
# to stop than to ship the solution that the typo left outside every region. BEGIN and END
# count when no letter comes before them, so "depends on the solution" is still prose.
_BEGIN_OR_END = re.compile(r"(?<![a-z])(begin|end)", re.IGNORECASE)


class MarkerError(ValueError):
    """A problem with solution markers, located by file and line.

    Parameters
    ----------
    where : str
        ``"path:line"`` for a module, ``"path, cell i, line j"`` for a notebook (both 1-based).
    message : str
        What is wrong and what was expected.
    """

    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


@dataclass(frozen=True)
class Region:
    """One solution region: 0-based indices of its marker lines and their indentation."""

    begin: int
    end: int
    indent: str

    def body(self, lines: Sequence[str]) -> list[str]:
        """The lines strictly between the two markers."""
        return list(lines[self.begin + 1 : self.end])


def looks_like_marker(text: str) -> bool:
    """Whether a line mentions SOLUTION (any case) together with BEGIN or END."""
    return "solution" in text.lower() and _BEGIN_OR_END.search(text) is not None


def near_miss(where: str, text: str, markers: tuple[str, str]) -> MarkerError:
    """The error for a line taken for a mistyped marker."""
    begin_text, end_text = markers
    return MarkerError(
        where,
        f"malformed solution marker {text!r}; expected exactly {begin_text!r} or "
        f"{end_text!r} alone on its line (a comment or markdown line that says SOLUTION with "
        "BEGIN or END is taken for a mistyped marker: fix it or reword it)",
    )


def find_regions(
    lines: Sequence[str],
    markers: tuple[str, str],
    where: Callable[[int], str],
    candidates: Collection[int] | None = None,
) -> list[Region]:
    """Pair up the marker lines of one file or cell.

    Parameters
    ----------
    lines : sequence of str
        The text split on newlines, without the newline characters.
    markers : (str, str)
        :data:`PYTHON` or :data:`MARKDOWN`.
    where : callable
        Maps a 0-based line index to the location used in errors.
    candidates : collection of int, optional
        Indices of the lines that may hold a marker (for modules: the comment-only lines,
        so that marker text inside a docstring is ignored). All lines when None.

    Among the candidates, a line that :func:`looks_like_marker` but is not exactly one is
    an error: any line with :data:`MARKDOWN` markers; with :data:`PYTHON` markers, a line
    starting with ``<!--`` or whose text from its first ``#`` on does (a comment alone or
    after code), so code that merely holds the words is left alone.

    Returns
    -------
    list of Region
        In file order.

    Raises
    ------
    MarkerError
        On a misspelt marker, an END without a BEGIN, a BEGIN inside an open region, a
        BEGIN never closed, or an END indented differently from its BEGIN.
    """
    regions: list[Region] = []
    open_at: int | None = None
    indices = range(len(lines)) if candidates is None else sorted(candidates)
    for i in indices:
        if not _is_marker(lines[i], markers, where(i)):
            continue
        if lines[i].strip() == markers[0]:
            _check_not_open(open_at, markers, where, i)
            open_at = i
        else:
            regions.append(_close(lines, open_at, i, markers, where))
            open_at = None
    if open_at is not None:
        raise MarkerError(where(open_at), f"{markers[0]!r} is never closed by {markers[1]!r}")
    return regions


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _is_marker(line: str, markers: tuple[str, str], where: str) -> bool:
    """Whether ``line`` is exactly a marker; raise if it looks like a mistyped one."""
    text = line.strip()
    if text in markers:
        return True
    if markers == MARKDOWN or text.startswith("<!--"):
        comment = text
    else:
        comment = text[text.find("#") :] if "#" in text else ""
    if looks_like_marker(comment):
        raise near_miss(where, text, markers)
    return False


def _check_not_open(open_at: int | None, markers: tuple[str, str], where, i: int) -> None:
    if open_at is not None:
        raise MarkerError(
            where(i),
            f"nested {markers[0]!r}: the region opened at {where(open_at)} is not "
            f"closed yet; expected {markers[1]!r} first",
        )


def _close(lines, open_at: int | None, i: int, markers: tuple[str, str], where) -> Region:
    """The region that the END marker on line ``i`` closes."""
    begin_text, end_text = markers
    if open_at is None:
        raise MarkerError(where(i), f"{end_text!r} without a {begin_text!r} before it")
    indent, open_indent = _indent(lines[i]), _indent(lines[open_at])
    if indent != open_indent:
        raise MarkerError(
            where(i),
            f"{end_text!r} is indented {len(indent)} characters but its "
            f"{begin_text!r} at {where(open_at)} is indented {len(open_indent)}; "
            "expected the same indentation",
        )
    return Region(open_at, i, indent)


def cell_regions(source: str, cell_type: str, where: Callable[[int], str]) -> list[Region]:
    """Regions of one notebook cell (code: ``#`` markers; markdown: ``<!-- -->`` markers)."""
    markers = MARKDOWN if cell_type == "markdown" else PYTHON
    return find_regions(source.split("\n"), markers, where)


def render_cell(source: str, cell_type: str, where: Callable[[int], str]) -> str:
    """A notebook cell as the student edition ships it: code regions stubbed, answers blanked."""
    lines = source.split("\n")
    for r in reversed(cell_regions(source, cell_type, where)):
        if cell_type == "markdown":
            new = [r.indent + MARKDOWN_ANSWER]
        else:
            new = [r.indent + CELL_TODO, r.indent + CELL_RAISE]
        lines[r.begin : r.end + 1] = new
    return "\n".join(lines)


def strip_cell(source: str, cell_type: str, where: Callable[[int], str]) -> str:
    """A notebook cell with its reference answers kept and only the marker lines removed."""
    lines = source.split("\n")
    for r in reversed(cell_regions(source, cell_type, where)):
        lines[r.begin : r.end + 1] = r.body(lines)
    return "\n".join(lines)
