"""A pytest plugin for the student edition: one progress table instead of a wall of failures.

The edition's ``pyproject.toml`` loads it (``-p bpkit.assignments.student.progress``). After
the public tests ran, it prints one table: each exercise, how many of its public tests pass,
and whether it is done, failing or not started (nothing passes and every failure is a
stub's ``NotImplementedError``; "needs relu" when the stub is another exercise's). A test
belongs to the exercise whose marker it carries.

A plain ``python -m pytest`` (no test paths, ``-m`` or ``-k``, no ``-v``) shows the test
dots and the table and leaves out the tracebacks of the failures. Asking about something
in particular shows them in full, as pytest always does: ``python -m pytest -m relu`` for
one exercise, ``-v`` or ``--failures`` for all of them.

It also makes hypothesis derandomized and keeps it from writing an example database, so that
every run of the public tests tries the same examples on every machine and a failure found
once is not replayed from a ``.hypothesis/`` folder forever after. A ``--hypothesis-profile``
given on the command line wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from bpkit.assignments.student import exercises

EXERCISE = "bpkit_exercise"
STUB = "bpkit_stub"  # the exercise whose stub raised NotImplementedError
HYPOTHESIS_PROFILE = "bpkit-edition"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--failures",
        action="store_true",
        default=False,
        help="show every failure in full after the progress table's test run",
    )


def _quiet(config: pytest.Config) -> bool:
    """A plain run of the whole suite: show the table, not every traceback."""
    plain = config.args_source == pytest.Config.ArgsSource.TESTPATHS
    selected = config.option.markexpr or config.option.keyword
    return plain and not selected and config.option.verbose <= 0 and not config.option.failures


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(Progress(), "bpkit-progress")
    if _quiet(config):
        # Read by the terminal reporter when it starts, hence tryfirst.
        config.option.tbstyle = "no"
        config.option.reportchars = ""
    _derandomize_hypothesis(config)


def _derandomize_hypothesis(config: pytest.Config) -> None:
    if register_hypothesis_profile() and not config.getoption("hypothesis_profile", None):
        from hypothesis import settings

        settings.load_profile(HYPOTHESIS_PROFILE)


def register_hypothesis_profile() -> bool:
    """Register the edition's hypothesis profile; False if hypothesis is not installed."""
    try:
        from hypothesis import Phase, settings
    except ImportError:  # pragma: no cover  (hypothesis is a dev dependency)
        return False
    settings.register_profile(
        HYPOTHESIS_PROFILE,
        derandomize=True,
        database=None,
        deadline=None,
        # Without the explain phase: it re-runs a failing test many times to annotate the
        # example (seconds per test), and a stub fails on every input anyway.
        phases=[p for p in Phase if p is not Phase.explain],
    )
    return True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    names = [m.name for m in item.iter_markers() if m.name in exercises.BY_NAME]
    if not names:
        return
    report.user_properties.append((EXERCISE, names[0]))
    if call.excinfo is not None and call.excinfo.errisinstance(NotImplementedError):
        found = exercises.STUB_MESSAGE.fullmatch(str(call.excinfo.value))
        report.user_properties.append((STUB, found["exercise"] if found else names[0]))


@dataclass
class Tally:
    """The public tests of one exercise: test id -> outcome, and the stubs that stopped them."""

    outcomes: dict[str, str] = field(default_factory=dict)
    stubs: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> int:
        return sum(o == "passed" for o in self.outcomes.values())

    @property
    def total(self) -> int:
        return sum(o in ("passed", "failed") for o in self.outcomes.values())


def status(name: str, tally: Tally) -> tuple[str, str]:
    """``(status, note)`` of exercise ``name``: done, failing or not started."""
    failed = [t for t, o in tally.outcomes.items() if o == "failed"]
    if tally.total and not failed:
        return "done", ""
    stubs = [tally.stubs.get(t) for t in failed]
    others = sorted({s for s in stubs if s is not None and s != name})
    note = f"needs {', '.join(others)}" if others else ""
    # Nothing passes and only stubs fail (its own, or those of exercises it builds on).
    if tally.passed == 0 and None not in stubs:
        return "not started", note
    return "failing", note


class Progress:
    """Collects the outcome of every public test and prints the table at the end."""

    def __init__(self) -> None:
        self.tallies: dict[str, Tally] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        name = props.get(EXERCISE)
        if name is None:
            return
        tally = self.tallies.setdefault(name, Tally())
        if STUB in props:
            tally.stubs[report.nodeid] = props[STUB]
        if report.failed:
            tally.outcomes[report.nodeid] = "failed"
        elif report.when == "call" and tally.outcomes.get(report.nodeid) != "failed":
            tally.outcomes[report.nodeid] = "skipped" if report.skipped else "passed"
        elif report.skipped and report.nodeid not in tally.outcomes:
            tally.outcomes[report.nodeid] = "skipped"

    def rows(self) -> list[tuple[str, int, int, str, str]]:
        """``(exercise, passed, total, status, note)`` in the registry's order."""
        out = []
        for ex in exercises.EXERCISES:
            tally = self.tallies.get(ex.name)
            if tally is not None and tally.total:
                out.append((ex.name, tally.passed, tally.total, *status(ex.name, tally)))
        return out

    def table(self) -> list[str]:
        rows = self.rows()
        width = max(len("exercise"), *(len(r[0]) for r in rows))
        lines = [f"{'exercise':<{width}}  {'public tests':>12}  status"]
        for name, passed, total, state, note in rows:
            tests = f"{passed}/{total}"
            lines.append(f"{name:<{width}}  {tests:>12}  {state}{f' ({note})' if note else ''}")
        counts = {s: sum(r[3] == s for r in rows) for s in ("done", "failing", "not started")}
        passed, total = sum(r[1] for r in rows), sum(r[2] for r in rows)
        summary = ", ".join(f"{n} {s}" for s, n in counts.items())
        lines.append(f"{'total':<{width}}  {f'{passed}/{total}':>12}  {summary}")
        return lines

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter, exitstatus, config) -> None:
        rows = self.rows()
        if not rows:
            return
        tr = terminalreporter
        tr.write_sep("=", "your progress")
        for line in self.table():
            tr.write_line(line)
        unfinished = [r[0] for r in rows if r[3] != "done"]
        if unfinished and _quiet(config):
            tr.write_line("")
            tr.write_line(
                f"Why an exercise fails: python -m pytest -m {unfinished[0]}   "
                "(every failure in full: python -m pytest --failures)"
            )
