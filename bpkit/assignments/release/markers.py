"""Solution regions: find them, say whose they are, and turn them into stubs or back.

A solution region is the block of lines between two marker lines, ``# BEGIN SOLUTION`` and
``# END SOLUTION`` in Python code (modules and notebook code cells), or
``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->`` in notebook markdown cells. The two
markers of a region share one indentation, and regions never nest. A comment or markdown
line that says SOLUTION together with BEGIN or END but is not exactly a marker is an error,
never silently plain text: a mistyped marker would ship the solution it was meant to hide.

In a module, a region belongs to the exercise whose target (a function or method named in
:mod:`bpkit.assignments.student.exercises`) encloses it. In the student edition the region of a
released exercise becomes a stub: a ``# TODO(<exercise>)`` comment and a
``raise NotImplementedError``, at the region's indentation. Every other line stays, so the
signature, the docstring and the input checks reach the student unchanged.

Everything here works on text, one file at a time, and raises :class:`MarkerError` naming the
file and line of the first problem it meets.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from bpkit.assignments.student import exercises

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


@dataclass(frozen=True)
class OwnedRegion:
    """A region of a module with the exercise and target (qualified name) it belongs to."""

    region: Region
    exercise: str
    qualname: str


def looks_like_marker(text: str) -> bool:
    """Whether a line mentions SOLUTION (any case) together with BEGIN or END."""
    return "solution" in text.lower() and _BEGIN_OR_END.search(text) is not None


def _near_miss(where: str, text: str, markers: tuple[str, str]) -> MarkerError:
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
    begin_text, end_text = markers
    regions: list[Region] = []
    open_at: int | None = None
    indices = range(len(lines)) if candidates is None else sorted(candidates)
    for i in indices:
        line = lines[i]
        text = line.strip()
        if text not in (begin_text, end_text):
            if markers == MARKDOWN or text.startswith("<!--"):
                comment = text
            else:
                comment = text[text.find("#") :] if "#" in text else ""
            if looks_like_marker(comment):
                raise _near_miss(where(i), text, markers)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        if text == begin_text:
            if open_at is not None:
                raise MarkerError(
                    where(i),
                    f"nested {begin_text!r}: the region opened at {where(open_at)} is not "
                    f"closed yet; expected {end_text!r} first",
                )
            open_at = i
        elif open_at is None:
            raise MarkerError(where(i), f"{end_text!r} without a {begin_text!r} before it")
        else:
            opening = lines[open_at]
            open_indent = opening[: len(opening) - len(opening.lstrip())]
            if indent != open_indent:
                raise MarkerError(
                    where(i),
                    f"{end_text!r} is indented {len(indent)} characters but its "
                    f"{begin_text!r} at {where(open_at)} is indented {len(open_indent)}; "
                    "expected the same indentation",
                )
            regions.append(Region(open_at, i, indent))
            open_at = None
    if open_at is not None:
        raise MarkerError(where(open_at), f"{begin_text!r} is never closed by {end_text!r}")
    return regions


def _comment_lines(text: str, path: str) -> set[int]:
    """0-based indices of the lines of a module that hold nothing but a comment.

    A comment after code that :func:`looks_like_marker` is an error: a marker there would
    not be seen, and the solution below it would ship.
    """
    found = set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type != tokenize.COMMENT:
                continue
            if not tok.line[: tok.start[1]].strip():
                found.add(tok.start[0] - 1)
            elif looks_like_marker(tok.string):
                raise _near_miss(f"{path}:{tok.start[0]}", tok.line.strip(), PYTHON)
    except (tokenize.TokenError, SyntaxError) as exc:
        raise MarkerError(f"{path}:1", f"cannot tokenize the file: {exc}") from None
    return found


def _functions(tree: ast.Module) -> list[tuple[str, int, int]]:
    """Every function and method as (qualified name, first line, last line), 1-based."""
    found = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    found.append((name, child.lineno, child.end_lineno or child.lineno))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def _enclosing(functions: list[tuple[str, int, int]], lineno: int) -> list[str]:
    """Qualified names of the functions around a 1-based line, innermost first."""
    around = [(first, name) for name, first, last in functions if first < lineno <= last]
    return [name for _, name in sorted(around, reverse=True)]


def module_regions(text: str, path: str, module: str) -> list[OwnedRegion]:
    """Find the regions of a module and the exercise each belongs to.

    Parameters
    ----------
    text : str
        The module's source.
    path : str
        Its path, for error messages (``bpkit/layers.py``).
    module : str
        Its dotted name (``bpkit.layers``), to look targets up in the registry.

    Raises
    ------
    MarkerError
        On any marker problem, or a region outside every registered target of the module,
        or a region that spans two functions.
    """
    lines = text.split("\n")

    def where(i: int) -> str:
        return f"{path}:{i + 1}"

    regions = find_regions(lines, PYTHON, where, _comment_lines(text, path))
    if not regions:
        return []
    try:
        functions = _functions(ast.parse(text, filename=path))
    except SyntaxError as exc:
        raise MarkerError(f"{path}:{exc.lineno}", f"not valid Python: {exc.msg}") from None
    targets = sorted(t for ex in exercises.EXERCISES if ex.module == module for t in ex.targets)
    owned = []
    for region in regions:
        code = [
            i
            for i in range(region.begin + 1, region.end)
            if lines[i].strip() and not lines[i].lstrip().startswith("#")
        ]
        first, last = (code[0], code[-1]) if code else (region.begin, region.begin)
        chain = _enclosing(functions, first + 1)
        if chain != _enclosing(functions, last + 1):
            raise MarkerError(
                where(region.begin), "the region spans more than one function; expected one"
            )
        owner = next(
            ((ex, name) for name in chain if (ex := exercises.owner_of(module, name)) is not None),
            None,
        )
        if owner is None:
            inside = f"inside {chain[0]!r}" if chain else "at module level"
            raise MarkerError(
                where(region.begin),
                f"solution region {inside}, which is not an exercise target; expected it "
                f"inside one of the targets of {module}: {targets or 'none registered'}",
            )
        owned.append(OwnedRegion(region, owner[0].name, owner[1]))
    return owned


_RAISE_OPEN, _RAISE_CLOSE = 'raise NotImplementedError("', '")'


def stub_lines(indent: str, exercise: str, qualname: str) -> list[str]:
    """The two lines that replace a released exercise's region.

    The message is :func:`bpkit.assignments.student.exercises.stub_message`, the one spelling that
    the public tests and ``bpkit collect`` read back.
    """
    message = exercises.stub_message(exercise, qualname)
    return [
        f"{indent}# TODO({exercise}): write this part of {qualname} (see its docstring).",
        f"{indent}{_RAISE_OPEN}{message}{_RAISE_CLOSE}",
    ]


def _stub_in(line: str) -> re.Match | None:
    """The message of a stub's ``raise`` line, matched by the registry's pattern, or None."""
    text = line.strip()
    if not (text.startswith(_RAISE_OPEN) and text.endswith(_RAISE_CLOSE)):
        return None
    return exercises.STUB_MESSAGE.fullmatch(text[len(_RAISE_OPEN) : -len(_RAISE_CLOSE)])


def render_module(text: str, path: str, module: str, stubbed: Collection[str]) -> str:
    """The module as the student edition ships it.

    Regions of exercises in ``stubbed`` become stubs; every other region keeps its reference
    code and loses only its two marker lines.

    Raises
    ------
    MarkerError
        On any problem :func:`module_regions` finds, or if the result is not valid Python
        (a region that cuts a statement in two).
    """
    lines = text.split("\n")
    out = list(lines)
    # Back to front so that earlier indices stay valid while later regions change length.
    for owned in reversed(module_regions(text, path, module)):
        r = owned.region
        if owned.exercise in stubbed:
            new = stub_lines(r.indent, owned.exercise, owned.qualname)
        else:
            new = r.body(lines)
        out[r.begin : r.end + 1] = new
    result = "\n".join(out)
    try:
        ast.parse(result, filename=path)
    except SyntaxError as exc:
        raise MarkerError(
            f"{path}:{exc.lineno}",
            f"the stubbed module is not valid Python ({exc.msg}); a region probably cuts a "
            "statement or block in two",
        ) from None
    return result


def fill_module(
    edition_text: str, source_text: str, path: str, module: str, fill: Collection[str]
) -> str:
    """Put the reference code of the exercises in ``fill`` back into a student's module.

    Each stub of an exercise in ``fill`` is replaced by the body of the matching region of
    the source (the k-th stub of a target by its k-th region); every other line of
    ``edition_text``, including a student's own edits elsewhere, stays as it is.
    """
    source_lines = source_text.split("\n")
    pending: dict[str, list[list[str]]] = {}
    for owned in module_regions(source_text, path, module):
        if owned.exercise in fill:
            pending.setdefault(owned.qualname, []).append(owned.region.body(source_lines))
    lines = edition_text.split("\n")
    out: list[str] = []
    for line in lines:
        match = _stub_in(line)
        if match and match["exercise"] in fill and pending.get(match["qualname"]):
            if out and out[-1].strip().startswith(f"# TODO({match['exercise']})"):
                out.pop()
            out.extend(pending[match["qualname"]].pop(0))
        else:
            out.append(line)
    left = sorted(name for name, bodies in pending.items() if bodies)
    if left:
        raise MarkerError(
            f"{path}:1", f"no stub left in the edition's module for {left}; expected one per region"
        )
    return "\n".join(out)


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
