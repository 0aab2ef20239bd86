"""How long grading takes: one submission under 20 s, twenty with --jobs 2 under 4 minutes,
every hostile submission of ``test_hostile.py`` in one run under 3 minutes.

Marked slow: run with ``python -m pytest -m slow tests/test_grade_speed.py``. The budgets
are the course's requirements on a 2-core machine; each test asserts its own.
"""

from __future__ import annotations

import time

import grading_fixtures as fx
import pytest
from grading_fixtures import hostile

from bpkit.assignments import exercises

pytestmark = pytest.mark.slow
TOTAL = sum(ex.points for ex in exercises.EXERCISES)


@pytest.fixture(scope="module")
def honest(tmp_path_factory):
    return fx.honest_edition(tmp_path_factory.mktemp("speed") / "edition")


def test_one_honest_submission_in_under_20_seconds(honest, tmp_path):
    start = time.monotonic()
    proc = fx.run_grade(str(honest), "--csv", str(tmp_path / "one.csv"))
    seconds = time.monotonic() - start
    assert proc.returncode == 0 and fx.read_csv(tmp_path / "one.csv")["edition"]["total"] == TOTAL
    assert seconds < 20, f"one submission took {seconds:.1f} s"


def test_twenty_submissions_with_two_jobs_in_under_4_minutes(honest, tmp_path):
    subs = [fx.copy_submission(honest, tmp_path / f"student{i:02d}") for i in range(20)]
    start = time.monotonic()
    proc = fx.run_grade(*map(str, subs), "--jobs", "2", "--csv", str(tmp_path / "all.csv"))
    seconds = time.monotonic() - start
    rows = fx.read_csv(tmp_path / "all.csv")
    assert proc.returncode == 0 and len(rows) == 20
    assert all(row["total"] == TOTAL for row in rows.values())
    assert seconds < 240, f"20 submissions took {seconds:.1f} s"


def test_every_hostile_submission_in_one_run_in_under_3_minutes(honest, tmp_path):
    editions = {"honest": honest, "stub": fx.stub_edition(tmp_path / "stub")}
    subs, _ = hostile.batch(editions, tmp_path / "hostile")
    start = time.monotonic()
    proc = fx.run_grade(
        *map(str, subs), "--jobs", "2", "--timeout", "3", "--csv", str(tmp_path / "h.csv")
    )
    seconds = time.monotonic() - start
    assert proc.returncode == 0 and len(fx.read_csv(tmp_path / "h.csv")) == len(subs)
    assert seconds < 180, f"{len(subs)} hostile submissions took {seconds:.1f} s"
