"""A pytest plugin for nbval: a failed cell says where it is, and fails even if nothing showed it.

nbval names a cell ``Cell N``, counting code cells only and from 0, which matches no
number JupyterLab shows. A failed cell's report therefore gets a section saying which
code cell it is counting from 1, its prompt number in the notebook as stored, the heading
it sits under and its first line: enough to find it by eye or with Ctrl+F.

nbval decides that a cell failed when the kernel publishes an ``error`` message. Code in
a notebook can suppress that message -- ``get_ipython().set_custom_exc((Exception,),
handler)`` or a patched ``showtraceback`` -- and then a cell that raised passes. The
kernel's ``execute_reply`` still says ``status: "error"``: this plugin records that reply
for every cell and fails the cell when it says so, unless the cell is marked
``# NBVAL_RAISES_EXCEPTION``.

Load it with ``-p bpkit.assignments.student.nbreply`` (in ``addopts`` or on the command line). It
does nothing when nbval is not installed or ``--nbval``/``--nbval-lax`` is not used.
"""

from __future__ import annotations

import re
import sys

import pytest

# nbval imports nbformat, which imports jsonschema, which imports rfc3987_syntax if it is
# installed (Jupyter's dependencies install it) for its optional "iri" format check; that
# module builds 38 parsers when imported, about 2 s in every pytest process. Notebook
# validation checks no IRI, so a test run does without it. Loaded with -p from addopts,
# this module comes before nbval's own entry point.
sys.modules.setdefault("rfc3987_syntax", None)

try:
    from nbval.kernel import RunningKernel
    from nbval.plugin import IPyNbCell
except ImportError:  # pragma: no cover  (nbval is a dev dependency)
    RunningKernel = IPyNbCell = None

_REPLY = "_bpkit_last_execute_reply"


def _recording(original):
    """Wrap ``RunningKernel.get_message`` to remember the last ``execute_reply``."""

    def get_message(self, *args, **kwargs):
        msg = original(self, *args, **kwargs)
        if isinstance(msg, dict) and msg.get("msg_type") == "execute_reply":
            setattr(self, _REPLY, msg.get("content", {}))
        return msg

    get_message._bpkit_recording = True
    return get_message


def pytest_configure(config: pytest.Config) -> None:
    if RunningKernel is not None and not getattr(
        RunningKernel.get_message, "_bpkit_recording", False
    ):
        RunningKernel.get_message = _recording(RunningKernel.get_message)


def failed_reply(item: pytest.Item) -> dict | None:
    """The ``execute_reply`` content of the cell just run if it reports an error, else None."""
    kernel = getattr(item.parent, "kernel", None)
    reply = getattr(kernel, _REPLY, None) or {}
    if reply.get("status") != "error" or item.options.get("check_exception"):
        return None
    return reply


_HEADING = re.compile(r"#{1,6}\s")


def _outside_fences(markdown: str) -> list[str]:
    """The lines of a markdown cell that are not inside a fenced code block."""
    lines, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def where(item: pytest.Item) -> str:
    """Where the code cell of ``item`` is, in words a notebook reader can follow."""
    cells = item.parent.nb.cells
    index = next(i for i, c in enumerate(cells) if c is item.cell)
    code = [c for c in cells if c.cell_type == "code"]
    heading = next(
        (
            line.lstrip("#").strip()
            for cell in reversed(cells[:index])
            if cell.cell_type == "markdown"
            for line in reversed(_outside_fences(cell.source))
            if _HEADING.match(line)
        ),
        None,
    )
    first = next((line for line in item.cell.source.splitlines() if line.strip()), "")
    lines = [f"code cell {item.cell_num + 1} of {len(code)} (nbval's Cell {item.cell_num})"]
    if item.cell.get("execution_count"):
        lines[0] += f", stored with the prompt [{item.cell.execution_count}]"
    if heading:
        lines.append(f"under the heading: {heading}")
    lines.append(f"first line: {first[:100]}")
    return "\n".join(lines)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    report = yield
    if IPyNbCell is not None and isinstance(item, IPyNbCell) and report.failed:
        try:
            report.sections.append(("where in the notebook", where(item)))
        except (AttributeError, StopIteration):  # not a cell nbval collected from a file
            pass
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    if IPyNbCell is None or not isinstance(item, IPyNbCell):
        return (yield)
    kernel = getattr(item.parent, "kernel", None)
    if kernel is not None:
        setattr(kernel, _REPLY, None)
    result = yield
    reply = failed_reply(item)
    if reply is not None:
        name, value = reply.get("ename", "an exception"), reply.get("evalue", "")
        pytest.fail(
            f"nbval's Cell {item.cell_num} raised {name}: {value}; the kernel reported the "
            "error even though no traceback was displayed (was the error display suppressed?)",
            pytrace=False,
        )
    return result
