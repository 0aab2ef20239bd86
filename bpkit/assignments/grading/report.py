"""Grading results and the three ways they are written: a table, a CSV, Gradescope's JSON.

Gradescope reads ``results.json`` with a top-level ``score`` and one entry per test in
``tests``: ``name``, ``score``, ``max_score``, ``status`` (``passed``/``failed``),
``output``, ``visibility`` and ``tags``. Here a test is one hidden check, and its ``tags``
are the functions or methods that check grades (``["conv_backward_naive"]``,
``["TwoLayerNet.loss"]``).
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import re
import tempfile
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bpkit.assignments.student import exercises

if TYPE_CHECKING:
    from bpkit.assignments.grading.checks import Check


@dataclass
class CheckResult:
    """The verdict on one hidden check; ``message`` is empty when it passed."""

    check: Check
    score: float
    message: str = ""
    output: str = ""

    @property
    def passed(self) -> bool:
        return not self.message


@dataclass
class SubmissionResult:
    """All check results of one submission, in registry order.

    ``notes`` say, in words, what went wrong with the submission as a whole (it could not
    be read, copied or graded to the end); its checks then score 0 with the same words.
    """

    name: str
    checks: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def points(self, exercise: str) -> float:
        return sum(r.score for r in self.checks if r.check.exercise == exercise)

    def max_points(self, exercise: str) -> float:
        return sum(r.check.points for r in self.checks if r.check.exercise == exercise)

    def exercise_names(self) -> list[str]:
        return list(dict.fromkeys(r.check.exercise for r in self.checks))

    @property
    def total(self) -> float:
        return sum(r.score for r in self.checks)

    @property
    def max_total(self) -> float:
        return sum(r.check.points for r in self.checks)


def _num(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))


# C0 and C1 controls, DEL, zero-width and bidirectional formatting characters, line and
# paragraph separators, and the lone surrogates a non-UTF-8 file name decodes to.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_one(match: re.Match) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (os.fsdecode's surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape(text: str, keep_newlines: bool = False) -> str:
    """``text`` with every control or invisible formatting character written as an escape.

    Student code chooses its exception messages and a student the submission's name: raw,
    they could clear the instructor's terminal, move the cursor to fake a total, write the
    clipboard, or break a table row or a CSV line. ``\\x1b`` becomes the four characters
    ``\\x1b``, a newline ``\\n`` (kept as a line break with ``keep_newlines``), and a byte
    of a file name that is not UTF-8 ``\\xNN``.
    """
    if keep_newlines:
        return "\n".join(_UNSAFE.sub(_escape_one, line) for line in text.split("\n"))
    return _UNSAFE.sub(_escape_one, text)


NOT_IMPLEMENTED = "raised NotImplementedError"


def _why_lines(failed: list[CheckResult], total: int) -> list[str]:
    """One entry per distinct reason, naming its checks; the stubs folded into one entry."""
    stubs = [r for r in failed if NOT_IMPLEMENTED in r.message.split("\n", 1)[0]]
    why = []
    if stubs:
        names = ", ".join(r.check.name for r in stubs)
        why.append("not implemented yet" if len(stubs) == total else f"not implemented: {names}")
    reasons: dict[str, list[str]] = {}
    for r in failed:
        if r not in stubs:
            reasons.setdefault(escape(r.message.split("\n", 1)[0]), []).append(r.check.name)
    why += [f"{', '.join(names)}: {reason}" for reason, names in reasons.items()]
    return why


def table(result: SubmissionResult, width: int = 140) -> str:
    """The per-exercise table: points, max and what failed, in words.

    A long reason is wrapped under its column, never cut; an exercise whose checks all
    raised ``NotImplementedError`` takes one line.
    """
    lines = [f"submission: {escape(result.name)}"]
    lines += [escape(note) for note in result.notes]
    lines.append(f"{'exercise':<15}{'points':>7}{'max':>6}  what failed")
    for name in result.exercise_names():
        checks = [r for r in result.checks if r.check.exercise == name]
        why = _why_lines([r for r in checks if not r.passed], len(checks)) or ["-"]
        row = f"{name:<15}{_num(result.points(name)):>7}{_num(result.max_points(name)):>6}  "
        room = max(width - len(row), 40)
        wrapped = [part for w in why for part in _wrap(w, room)]
        lines.append(row + wrapped[0])
        lines += [" " * len(row) + w for w in wrapped[1:]]
    lines.append(f"{'total':<15}{_num(result.total):>7}{_num(result.max_total):>6}")
    return "\n".join(lines)


def _wrap(text: str, room: int) -> list[str]:
    """``text`` in lines of at most ``room`` characters; continuation lines indented."""
    return textwrap.wrap(
        text, room, subsequent_indent="  ", break_long_words=True, break_on_hyphens=False
    ) or [""]


def results_json(result: SubmissionResult, notes: Sequence[str], visibility: str = "visible"):
    """Gradescope's ``results.json`` content as a dict (student text escaped)."""
    tests = []
    for r in result.checks:
        output = "passed" if r.passed else r.message
        if r.output:
            output += "\n\nwhat the code printed (capped):\n" + r.output
        tests.append(
            {
                "name": f"{r.check.exercise}: {r.check.title}",
                "score": round(r.score, 4),
                "max_score": r.check.points,
                "status": "passed" if r.passed else "failed",
                "output": escape(output, keep_newlines=True),
                "visibility": visibility,
                "tags": list(r.check.targets),
            }
        )
    return {
        "score": round(result.total, 4),
        "execution_time": round(result.seconds, 2),
        "output": escape("\n".join([*notes, *result.notes]), keep_newlines=True),
        "visibility": visibility,
        "tests": tests,
    }


def write_results(path: str | Path, result: SubmissionResult, notes: Sequence[str]) -> None:
    """Write ``results.json`` atomically: to a temporary file of its own, then renamed.

    A reader never sees half a file, and two graders writing the same path each rename a
    complete file of their own (the last one wins).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results_json(result, notes), indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


class OutputError(Exception):
    """The ``--csv`` file cannot be used: another grader holds it, or it does not match."""


class CsvLog:
    """The ``--csv`` file: a header, then one row per submission, appended as each is graded.

    Each row is written with one ``write`` call as soon as the submission is graded, so a
    grader stopped at any point (even by SIGKILL) leaves every finished row on disk. The
    file stays locked (``flock``) while the run lasts: a second grader given the same path
    stops at once instead of interleaving with this one. With ``resume`` the rows already
    there are kept (a half-written last row, from a grader killed mid-write, is dropped)
    and :meth:`done` tells which submissions to skip.

    Raises
    ------
    OutputError
        If another grader holds the file, or ``resume`` finds columns other than this
        run's.
    """

    def __init__(self, path: str | Path, exercise_names: Sequence[str], resume: bool = False):
        self.path = Path(path)
        self.columns = ["submission", "total", "max", *exercise_names]
        self.names: set[str] = set()
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        try:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise OutputError(
                    f"{self.path} is being written by another bpkit grade right now; wait for "
                    "it to finish, or give this run another --csv"
                ) from None
            kept = self._kept_rows() if resume else []
            if not kept:
                os.ftruncate(self.fd, 0)
                self._write([self.columns])
        except BaseException:
            os.close(self.fd)
            raise

    def _kept_rows(self) -> list[list[str]]:
        size = os.fstat(self.fd).st_size
        data = os.pread(self.fd, size, 0)
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) < len(data):  # killed mid-row: drop the partial line
            os.ftruncate(self.fd, len(complete))
        rows = list(csv.reader(io.StringIO(complete.decode("utf-8", "replace"), newline="")))
        if not rows:
            return []
        if rows[0] != self.columns:
            raise OutputError(
                f"--resume: {self.path} has the columns {rows[0]}, but this run would write "
                f"{self.columns}; grade the same exercises, or give another --csv"
            )
        self.names = {row[0] for row in rows[1:] if len(row) == len(self.columns)}
        return rows

    def done(self, name: str) -> bool:
        """Whether a submission of this name already has a row."""
        return _cell(escape(name)) in self.names

    def append(self, result: SubmissionResult) -> None:
        """Write ``result``'s row now (one ``write``: a row is on disk whole or not at all)."""
        name = _cell(escape(result.name))
        points = [_num(result.points(n)) for n in self.columns[3:]]
        self._write([[name, _num(result.total), _num(result.max_total), *points]])
        self.names.add(name)

    def _write(self, rows: list[list[str]]) -> None:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        data = buf.getvalue().encode("utf-8")
        while data:
            data = data[os.write(self.fd, data) :]

    def close(self) -> None:
        os.close(self.fd)  # also releases the lock


def write_csv(path: str | Path, results: Sequence[SubmissionResult]) -> None:
    """One row per submission: name, total, max, then the points of every exercise."""
    names = [ex.name for ex in exercises.EXERCISES]
    graded = [n for n in names if any(n in r.exercise_names() for r in results)]
    log = CsvLog(path, graded)
    try:
        for result in results:
            log.append(result)
    finally:
        log.close()


def _cell(text: str) -> str:
    """``text`` as a cell that a spreadsheet shows as text, never runs as a formula.

    A submission's name is chosen by a student; one starting with ``=``, ``+``, ``-``,
    ``@`` (or a tab or carriage return) would be a formula, so it gets a leading quote.
    """
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
