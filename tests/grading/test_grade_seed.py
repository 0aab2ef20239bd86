"""One seed per ``bpkit grade`` run (or ``--seed``), printed and kept in results.json; one per
autograder build."""

from __future__ import annotations

import json
import re
import zipfile

import grading_fixtures as fx
import pytest

from bpkit.assignments.grading import autograder


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    return fx.honest_edition(tmp_path_factory.mktemp("honest") / "edition")


def _grade(edition, out, *args: str) -> tuple[int, dict]:
    results = out / "results.json"
    proc = fx.run_grade(str(edition), "--exercises", "sgd", "--results", str(results), *args)
    assert proc.returncode == 0, proc.stderr
    printed = re.search(r"^seed (\d+) ", proc.stdout, re.M)
    assert printed, proc.stdout
    return int(printed.group(1)), json.loads(results.read_text())


def test_a_run_picks_one_seed_prints_it_and_records_it(edition, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    seed_a, results_a = _grade(edition, tmp_path / "a")
    seed_b, results_b = _grade(edition, tmp_path / "b")
    assert results_a["extra_data"] == {"seed": seed_a}
    assert f"bpkit grade --seed {seed_a}" in results_a["output"]
    assert seed_a != seed_b  # a fresh seed per run (two 63-bit draws)
    assert results_b["extra_data"] == {"seed": seed_b}


def test_seed_option_is_used_and_recorded(edition, tmp_path):
    seed, results = _grade(edition, tmp_path, "--seed", "12345")
    assert seed == 12345
    assert results["extra_data"] == {"seed": 12345}
    assert results["score"] == 5


def test_an_autograder_build_fixes_one_seed(tmp_path, edition):
    given = autograder.build(tmp_path / "given.zip", edition=edition, seed=777)
    assert autograder.build_seed(given) == 777
    drawn = [
        autograder.build_seed(autograder.build(tmp_path / f"{i}.zip", edition=edition))
        for i in range(2)
    ]
    assert drawn[0] != drawn[1] and all(0 <= s < 2**63 for s in drawn)
    with zipfile.ZipFile(given) as zf:
        script = zf.read("run_autograder").decode()
    assert script.count("--seed 777") == 1


def test_build_seed_refuses_a_zip_without_one(tmp_path):
    path = tmp_path / "old.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("run_autograder", "python3 -m bpkit grade submission\n")
    with pytest.raises(ValueError, match="fixes no seed"):
        autograder.build_seed(path)
