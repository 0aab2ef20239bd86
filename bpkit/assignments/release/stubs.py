"""Solution regions of a module: whose each is, and the module with them stubbed or filled.

A region of a module belongs to the exercise whose target (a function or method named in
:mod:`bpkit.assignments.student.exercises`) encloses it. In the student edition the region
of a released exercise becomes a stub: a ``# TODO(<exercise>)`` comment and a ``raise
NotImplementedError``, at the region's indentation. Every other line stays, so the
signature, the docstring, the input checks and the given lines around the region (which
define every name they use, ``out = None`` before it) reach the student unchanged.

The marker lines themselves are found and paired by :mod:`.markers`; errors are its
:class:`~.markers.MarkerError`, naming the file and line.
"""

from __future__ import annotations

import ast
import functools
import io
import re
import tokenize
from collections.abc import Collection
from dataclasses import dataclass

from bpkit.assignments.release.markers import (
    PYTHON,
    MarkerError,
    Region,
    find_regions,
    looks_like_marker,
    near_miss,
)
from bpkit.assignments.student import exercises


@dataclass(frozen=True)
class OwnedRegion:
    """A region of a module with the exercise and target (qualified name) it belongs to."""

    region: Region
    exercise: str
    qualname: str


@functools.lru_cache(maxsize=64)
def _comment_lines(text: str, path: str) -> frozenset[int]:
    """0-based indices of the lines of a module that hold nothing but a comment.

    A comment after code that :func:`looks_like_marker` is an error: a marker there would
    not be seen, and the solution below it would ship. Cached: a release reads each module
    twice (its regions, then its stubbed text), and tokenizing is most of a release's time.
    """
    found = set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type != tokenize.COMMENT:
                continue
            if not tok.line[: tok.start[1]].strip():
                found.add(tok.start[0] - 1)
            elif looks_like_marker(tok.string):
                raise near_miss(f"{path}:{tok.start[0]}", tok.line.strip(), PYTHON)
    except (tokenize.TokenError, SyntaxError) as exc:
        raise MarkerError(f"{path}:1", f"cannot tokenize the file: {exc}") from None
    return frozenset(found)


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
    return [_owner(r, _function_chain(r, lines, functions, where), module, where) for r in regions]


def _function_chain(region: Region, lines: list[str], functions, where) -> list[str]:
    """The functions around the region's code, innermost first; one chain for all of it."""
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
    return chain


def _owner(region: Region, chain: list[str], module: str, where) -> OwnedRegion:
    """The region with the exercise whose target is the innermost registered function."""
    for name in chain:
        ex = exercises.owner_of(module, name)
        if ex is not None:
            return OwnedRegion(region, ex.name, name)
    targets = sorted(t for ex in exercises.EXERCISES if ex.module == module for t in ex.targets)
    inside = f"inside {chain[0]!r}" if chain else "at module level"
    raise MarkerError(
        where(region.begin),
        f"solution region {inside}, which is not an exercise target; expected it "
        f"inside one of the targets of {module}: {targets or 'none registered'}",
    )


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


def _reference_bodies(
    source_text: str, path: str, module: str, fill: Collection[str]
) -> dict[str, list[list[str]]]:
    """Target -> the bodies of its regions in the source, in order, for exercises in ``fill``."""
    source_lines = source_text.split("\n")
    bodies: dict[str, list[list[str]]] = {}
    for owned in module_regions(source_text, path, module):
        if owned.exercise in fill:
            bodies.setdefault(owned.qualname, []).append(owned.region.body(source_lines))
    return bodies


def fill_module(
    edition_text: str, source_text: str, path: str, module: str, fill: Collection[str]
) -> str:
    """Put the reference code of the exercises in ``fill`` back into a student's module.

    Each stub of an exercise in ``fill`` is replaced by the body of the matching region of
    the source (the k-th stub of a target by its k-th region); every other line of
    ``edition_text``, including a student's own edits elsewhere, stays as it is.
    """
    pending = _reference_bodies(source_text, path, module, fill)
    out: list[str] = []
    for line in edition_text.split("\n"):
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
