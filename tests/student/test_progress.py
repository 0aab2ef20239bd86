"""The progress table that ends ``python -m pytest`` in a student edition.

One edition is released with every exercise as a stub, then worked on the way a learner
would: ``affine`` and ``sgd`` done, ``relu`` written with a mistake in ``relu_backward``, the
rest untouched. The edition's own pytest run must end with one table whose counts agree
with the per-test outcomes pytest itself reports (JUnit XML), and leave the tracebacks out
only of a plain run.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from xml.etree import ElementTree

import pytest
from edition_runs import run_in

from bpkit.assignments.release import edition as release
from bpkit.assignments.release import fill
from bpkit.assignments.student import exercises, progress
from bpkit.assignments.student.progress import Tally, status

DONE = ("affine", "sgd")
TABLE_ROW = re.compile(r"^(\w+) +(\d+)/(\d+)  (done|failing|not started)(?: \((.*)\))?$")


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("progress") / "edition"
    release.write_edition(out)
    fill.fill_stubs(out, exercises=[*DONE, "relu"])
    layers = out / "bpkit" / "layers.py"
    text = layers.read_text()
    assert text.count("    dx = dout * (x > 0)\n") == 1
    layers.write_text(text.replace("    dx = dout * (x > 0)\n", "    dx = dout * 1.0\n"))
    return out


@pytest.fixture(scope="module")
def junit(edition):
    return edition.parent / "plain.xml"


@pytest.fixture(scope="module")
def plain(edition, junit):
    return run_in(edition, "-m", "pytest", f"--junitxml={junit}")


@pytest.fixture(scope="module")
def outcomes(plain, junit):
    """exercise -> [passed, total], from pytest's own report of the plain run (JUnit XML)."""
    found = {ex.name: [0, 0] for ex in exercises.EXERCISES}
    for case in ElementTree.parse(junit).iter("testcase"):
        name = case.get("classname").rsplit(".", 1)[1].removeprefix("test_")
        if case.find("skipped") is not None:
            continue
        found[name][1] += 1
        found[name][0] += case.find("failure") is None and case.find("error") is None
    assert sum(t for _, t in found.values()) > 50, plain.stdout[-2000:]
    return found


def table(stdout: str) -> dict[str, tuple[int, int, str, str]]:
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "your progress" in line)
    rows = {}
    for line in lines[start + 2 :]:
        found = TABLE_ROW.match(line)
        if not found:
            break
        name, passed, total, state, note = found.groups()
        rows[name] = (int(passed), int(total), state, note or "")
    return rows


def test_one_table_ends_the_run_with_the_right_counts(plain, outcomes):
    assert plain.returncode == 1, plain.stdout[-2000:]
    out = plain.stdout
    assert out.count("your progress") == 1
    rows = table(out)
    assert list(rows) == [ex.name for ex in exercises.EXERCISES]
    for name, (passed, total, *_) in rows.items():
        assert [passed, total] == outcomes[name], name
    for name in DONE:
        assert rows[name][2] == "done" and rows[name][0] == rows[name][1] > 0
    passed, total, state, _ = rows["relu"]
    assert state == "failing" and 0 < passed < total
    for name in ("softmax_loss", "conv_forward", "max_pool", "adam", "convnet"):
        assert rows[name][0] == 0 and rows[name][2] == "not started", name
    # After the table only the hint and pytest's own count of failures and passes.
    tail = out[out.index("your progress") :].splitlines()
    # Other plugins of the environment may add ", N warnings" (pytest-benchmark under xdist).
    assert re.fullmatch(r"=+ \d+ failed, \d+ passed(, \d+ \w+)* in .*=+", tail[-1]), tail[-3:]
    assert "python -m pytest -m relu" in out


def test_a_plain_run_leaves_the_tracebacks_out(plain):
    assert "FAILURES" not in plain.stdout
    assert "short test summary" not in plain.stdout
    lines = without_warnings_summary(plain.stdout.splitlines())
    assert len(lines) < 60, "one screen, not a wall of failures"


def without_warnings_summary(lines: list[str]) -> list[str]:
    """The output less pytest's warnings summary, which plugins of the environment fill."""
    if not any("warnings summary" in line for line in lines):
        return lines
    start = next(i for i, line in enumerate(lines) if "warnings summary" in line)
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("-- Docs:")), start)
    return lines[:start] + lines[end + 1 :]


def test_the_warnings_summary_is_left_out_of_the_line_count():
    lines = ["a", "=== warnings summary ===", "w1", "w2", "-- Docs: https://x", "b"]
    assert without_warnings_summary(lines) == ["a", "b"]
    assert without_warnings_summary(["a", "b"]) == ["a", "b"]


@pytest.mark.parametrize(
    ("source", "option", "quiet"),
    [
        ("TESTPATHS", {}, True),
        ("TESTPATHS", {"failures": True}, False),
        ("TESTPATHS", {"verbose": 1}, False),
        ("TESTPATHS", {"markexpr": "relu"}, False),
        ("TESTPATHS", {"keyword": "backward"}, False),
        ("ARGS", {}, False),
    ],
)
def test_tracebacks_are_left_out_only_of_a_plain_run(source, option, quiet):
    defaults = {"markexpr": "", "keyword": "", "verbose": 0, "failures": False}
    config = SimpleNamespace(
        args_source=getattr(pytest.Config.ArgsSource, source),
        option=SimpleNamespace(**{**defaults, **option}),
    )
    assert progress._quiet(config) is quiet


@pytest.mark.parametrize(
    ("outcomes", "stubs", "expected"),
    [
        ({"a": "passed", "b": "passed"}, {}, ("done", "")),
        ({"a": "passed", "b": "failed"}, {}, ("failing", "")),
        ({"a": "failed", "b": "failed"}, {"a": "x", "b": "x"}, ("not started", "")),
        ({"a": "failed", "b": "failed"}, {"a": "x", "b": "y"}, ("not started", "needs y")),
        ({"a": "failed", "b": "failed"}, {"a": "x"}, ("failing", "")),
        ({"a": "passed", "b": "failed"}, {"b": "y"}, ("failing", "needs y")),
    ],
)
def test_status_of_an_exercise(outcomes, stubs, expected):
    tally = Tally(outcomes=dict(outcomes), stubs=dict(stubs))
    assert status("x", tally) == expected


def test_an_edition_runs_hypothesis_derandomized_without_database_or_explain():
    from hypothesis import Phase, settings

    assert progress.register_hypothesis_profile()
    profile = settings.get_profile(progress.HYPOTHESIS_PROFILE)
    assert profile.derandomize and profile.database is None and profile.deadline is None
    assert Phase.explain not in profile.phases and Phase.shrink in profile.phases


def test_the_suites_default_profile_is_derandomized_without_database_or_explain():
    from hypothesis import Phase, settings

    profile = settings.get_profile("default")
    assert profile.derandomize and profile.database is None and profile.deadline is None
    assert Phase.explain not in profile.phases
