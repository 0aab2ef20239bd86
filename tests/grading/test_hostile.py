"""Hostile submissions graded by the real ``bpkit grade``: none may score more than its stubs.

All attacks of :mod:`grading_fixtures.hostile` are graded in two runs (``--jobs 2``; see
``OPTIM_ONLY``), next to the honest edition and the bare stubs. For each, the exercises it
attacks must score no more than the stubs do, and every other exercise graded must keep the
honest score. How long grading takes is measured by ``python -m benchmarks.grading``, not
asserted in a test.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from types import SimpleNamespace

import grading_fixtures as fx
import pytest
from grading_fixtures import hostile
from grading_fixtures.hostile import ATTACKS, FORGE_RESULTS, HANDINS, OPTIM_EXERCISES, build, slug

from bpkit.assignments.grading import report
from bpkit.assignments.student import exercises

TIMEOUT = "3"
DISK_OR_DEADLINE = ("files to disk", f"did not finish within {TIMEOUT} s")
ALL = [ex.name for ex in exercises.EXERCISES]
TOTAL = sum(ex.points for ex in exercises.EXERCISES)


def tables(stdout: str) -> dict[str, str]:
    """Each submission's table, its wrapped lines joined (one space between words)."""
    blocks = stdout.split("\nsubmission: ")[1:]
    return {block.split("\n", 1)[0]: " ".join(block.split()) for block in blocks}


@pytest.fixture(scope="module")
def editions(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("editions")
    return {"honest": fx.honest_edition(root / "honest"), "stub": fx.stub_edition(root / "stub")}


# An attack appended to bpkit/optim.py runs only in a worker that imports that module, the
# optim exercises' (bpkit/__init__.py imports none of its modules). Those attacks are graded
# in a batch of their own on the optim exercises, with relu before them and conv_forward after
# them: each in a new worker that must not notice what the attack did. Every other attack,
# the honest edition and the stubs are graded on every exercise.
OPTIM_ONLY = [
    a
    for a in ATTACKS
    if a.module == hostile.OPTIM and not a.extra and set(a.affected) <= set(OPTIM_EXERCISES)
]
NEIGHBOURS = ("relu", "sgd", "conv_forward", "sgd_momentum", "rmsprop", "adam")


@pytest.fixture(scope="module")
def batch(editions, tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    subs, canary = hostile.batch(editions, root)
    optim_only = {slug(a.name) for a in OPTIM_ONLY}
    runs, rows = [], {}
    for part, exercises_args in (
        ([s for s in subs if s.name in optim_only], ["--exercises", *NEIGHBOURS]),
        ([s for s in subs if s.name not in optim_only], []),
    ):
        grades = root / f"grades-{len(runs)}.csv"
        args = [*map(str, part), "--jobs", "2", "--timeout", TIMEOUT, "--csv", str(grades)]
        runs.append(fx.run_grade(*args, *exercises_args))
        rows.update(fx.read_csv(grades) if grades.exists() else {})
    proc = SimpleNamespace(
        returncode=max(r.returncode for r in runs),
        stdout="".join(r.stdout for r in runs),
        stderr="".join(r.stderr for r in runs),
    )
    return SimpleNamespace(proc=proc, rows=rows, canary=canary)


def test_the_grader_survives_every_attack(batch):
    assert batch.proc.returncode == 0, batch.proc.stderr[-2000:]
    assert set(batch.rows) == {"honest", "stubs", *(slug(a.name) for a in ATTACKS)}
    assert batch.rows["honest"]["total"] == TOTAL
    assert len(OPTIM_ONLY) > 20  # most attacks aim at the optim module
    for attack in OPTIM_ONLY:
        assert set(NEIGHBOURS) < set(batch.rows[slug(attack.name)]), attack.name


@pytest.mark.parametrize("attack", ATTACKS, ids=[slug(a.name) for a in ATTACKS])
def test_an_attack_scores_no_more_than_stubs_and_honest_parts_still_score(batch, attack):
    row, stubs, honest = batch.rows[slug(attack.name)], batch.rows["stubs"], batch.rows["honest"]
    graded = NEIGHBOURS if attack in OPTIM_ONLY else ALL
    for name in graded:
        if name in attack.affected:
            assert row[name] <= stubs[name], name
        else:
            assert row[name] == honest[name], name


@pytest.mark.parametrize(
    ("attack", "words"),
    [
        ("infinite loop", f"did not finish within {TIMEOUT} s"),
        ("alarm and signal tampering", f"did not finish within {TIMEOUT} s"),
        ("os._exit in a function", "exit status 0"),
        ("sys.exit in a function", "SystemExit"),
        ("exception whose __str__ raises", "could not be printed"),
        (
            "ndarray subclass with a lying __eq__ around the right values",
            "subclass of numpy.ndarray",
        ),
        ("float subclass with a lying __eq__ around the right loss", "subclass of float"),
        ("objects with __array__ and __float__ around the right values", "is not plain data"),
        ("read the instructor's sources", "PermissionError"),
        ("fork in a loop", "PermissionError"),
        ("allocate 50 GB", "MemoryError"),
        ("a syntax error in one module", "SyntaxError"),
        ("a deleted function", "bpkit/optim.py has no sgd"),
        ("a malformed wire reply written at import", "garbled reply during importing"),
        ("folders created and deleted while the disk is watched", f"within {TIMEOUT} s"),
        # Whether the disk limit or the deadline stops the disk attacks first depends on
        # the machine's speed, so either is accepted here (their scores are asserted
        # above); tests/grading/test_grade_sandbox.py checks each disk limit with time to
        # spare.
        ("fill the disk with files", DISK_OR_DEADLINE),
        ("fast disk writes", DISK_OR_DEADLINE),
        ("deleted files held open", DISK_OR_DEADLINE),
        ("a forged huge reply", "exceeds the limit of 33554432 bytes"),
        ("a forged huge error reply", "sgd() raised ForgedError: xxxxxxxxxx"),
        ("a deeply nested reply", "nested more than 32 levels deep"),
        ("F_SETOWN and F_SETSIG", "all 4 attempts refused"),
        ("the fork server's socket found on the stack", "1 socket(s) found, none usable"),
        ("setpriority on the grader", "all 3 attempts refused"),
        ("sched_* on the grader", "all 5 attempts refused"),
    ],
)
def test_the_table_says_what_happened(batch, attack, words):
    table = tables(batch.proc.stdout)[slug(attack)]
    assert any(w in table for w in words) if type(words) is tuple else words in table


def test_the_grader_cannot_be_signalled_and_the_output_says_why(batch):
    # seccomp lets a worker signal only itself (on x86-64, where the grader refuses to run
    # without it); Landlock ABI 6+ would refuse the signal too.
    isolation = next(
        line for line in batch.proc.stdout.splitlines() if line.startswith("isolation:")
    )
    assert "signals only to itself" in isolation or "signals to other processes" in isolation
    assert "PermissionError" in tables(batch.proc.stdout)[slug("kill the parent process")]


def test_nothing_was_written_outside_the_copies(batch):
    assert sorted(os.listdir(batch.canary)) == []


def test_a_flood_of_output_is_capped(batch):
    assert len(batch.proc.stdout) + len(batch.proc.stderr) < 2**20


def test_no_worker_outlives_the_grader(batch):
    # A worker (or a child it forked) left behind would sit in a deleted temporary copy;
    # live workers of another grading run elsewhere on the machine have existing ones.
    orphans = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if b"bpkit_grader" in cmdline and cwd.endswith("(deleted)"):
            orphans.append((pid, cwd))
    assert orphans == []


def test_a_forged_huge_error_reply_is_clipped_in_results_json(editions, tmp_path):
    attack = next(a for a in ATTACKS if a.name == "a forged huge error reply")
    sub = build(attack, editions, tmp_path, tmp_path, tmp_path / "nowhere.json")
    results = tmp_path / "results.json"
    args = ("--results", str(results), "--exercises", "sgd", "--timeout", TIMEOUT)
    proc = fx.run_grade(str(sub), *args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    written = json.loads(results.read_text())
    assert written["score"] == 0
    assert "more characters]" in written["tests"][0]["output"]
    # 8 MB of forged text arrived; a few clipped texts per check are all that is kept.
    assert results.stat().st_size < 20_000 * len(written["tests"])


def test_results_json_cannot_be_forged(editions, tmp_path):
    canary = tmp_path / "canary"
    canary.mkdir()
    results = tmp_path / "results.json"
    sub = build(FORGE_RESULTS, editions, tmp_path, canary, results)
    stub = fx.copy_submission(editions["stub"], tmp_path / "stubs")
    proc = fx.run_grade(str(sub), "--results", str(results), "--timeout", TIMEOUT)
    forged = json.loads(results.read_text())
    fx.run_grade(str(stub), "--results", str(tmp_path / "stub.json"), "--timeout", TIMEOUT)
    assert proc.returncode == 0
    assert forged["score"] == json.loads((tmp_path / "stub.json").read_text())["score"] == 0
    assert len(forged["tests"]) > 0
    assert os.listdir(canary) == []


# ---------------------------------------------------------------- attacks on the batch itself
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]")


@pytest.mark.parametrize(
    ("attack", "words"),
    [
        # On a slow disk 5000 mkdir calls may outlast the deadline: either way the tree
        # (whole or in part) is left for the cleanup.
        ("a 5000-deep chain of folders left for the cleanup", ("left a deep tree", "within")),
        ("terminal escapes in an exception message", ("\\x1b[2J\\x1b[Htotal 110 110",)),
    ],
)
def test_the_table_says_what_happened_to_the_batch_attacks(batch, attack, words):
    table = tables(batch.proc.stdout)[slug(attack)]
    assert any(w in table for w in words), table


def test_no_control_character_reaches_the_terminal_or_the_csv(batch, handins):
    for text in (batch.proc.stdout, handins.proc.stdout, handins.csv_text):
        assert RAW_CONTROL.findall(text) == []
    assert "\x1b" not in batch.proc.stderr + handins.proc.stderr


@pytest.fixture(scope="module")
def handins(editions, tmp_path_factory):
    """Damaged zips, hostile names and a slow submission, next to honest and stub hand-ins."""
    root = tmp_path_factory.mktemp("handins")
    subs = hostile.handin_batch(editions, root / "subs")
    grades = root / "grades.csv"
    args = [*map(str, subs), "--jobs", "2", "--csv", str(grades)]
    args += ["--exercises", *hostile.HANDIN_EXERCISES, "--timeout", f"{hostile.CALL_TIMEOUT:g}"]
    args += ["--submission-timeout", f"{hostile.SUBMISSION_BUDGET:g}"]
    proc = fx.run_grade(*args)
    text = grades.read_text(encoding="utf-8") if grades.exists() else ""
    rows = fx.read_csv(grades) if grades.exists() else {}
    return SimpleNamespace(proc=proc, rows=rows, csv_text=text)


def _row_name(name: str) -> str:
    return report.escape(name)


def test_every_hand_in_has_a_row_and_the_honest_one_full_marks(handins):
    assert handins.proc.returncode == 0, handins.proc.stderr[-2000:]
    names = {"honest", "stubs", *(_row_name(h.name) for h in HANDINS)}
    assert set(handins.rows) == names
    total = sum(exercises.get(n).points for n in hostile.HANDIN_EXERCISES)
    assert handins.rows["honest"]["total"] == total
    assert len(handins.csv_text.splitlines()) == len(names) + 1  # no name broke a row


@pytest.mark.parametrize("handin", HANDINS, ids=[_row_name(h.name) for h in HANDINS])
def test_a_hand_in_attack_gains_nothing_and_says_what_happened(handins, handin):
    row, stubs = handins.rows[_row_name(handin.name)], handins.rows["stubs"]
    for name in handin.lost:
        assert row[name] <= stubs[name], name
    for name in handin.kept:
        assert row[name] == handins.rows["honest"][name], name
    block = tables(handins.proc.stdout)[_row_name(handin.name)]
    assert " ".join(handin.words.split()) in "submission: " + block
