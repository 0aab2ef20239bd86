"""``bpkit grade`` end to end: scores, the table, results.json, CSV, exit status, bad hand-ins."""

from __future__ import annotations

import csv
import json
import os
import shutil
import threading
import zipfile
from pathlib import Path

import grading_fixtures as fx
import pytest

from bpkit.assignments.grading import grade, report, submission
from bpkit.assignments.grading import worker_client as remote
from bpkit.assignments.grading.checks import CHECKS, Check
from bpkit.assignments.grading.runtime.sandbox import Limits
from bpkit.assignments.student import exercises
from bpkit.cli import main

ALL = [ex.name for ex in exercises.EXERCISES]
TARGETS = {t for ex in exercises.EXERCISES for t in ex.targets}
TOTAL = sum(ex.points for ex in exercises.EXERCISES)


@pytest.fixture(scope="module")
def editions(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("editions")
    return {"honest": fx.honest_edition(root / "honest"), "stub": fx.stub_edition(root / "stub")}


@pytest.fixture(scope="module")
def honest_run(editions, tmp_path_factory):
    out = tmp_path_factory.mktemp("honest_run")
    proc = fx.run_grade(str(editions["honest"]), "--results", str(out / "results.json"))
    return proc, json.loads((out / "results.json").read_text())


def test_check_points_add_up_to_the_registry():
    for ex in exercises.EXERCISES:
        assert sum(c.points for c in CHECKS[ex.name]) == ex.points, ex.name
        assert {t for c in CHECKS[ex.name] for t in c.targets} <= set(ex.targets), ex.name


def test_an_honest_edition_gets_every_point(honest_run):
    proc, results = honest_run
    assert proc.returncode == 0, proc.stderr
    assert results["score"] == TOTAL
    assert all(t["status"] == "passed" and t["score"] == t["max_score"] for t in results["tests"])
    assert f"{'total':<15}{TOTAL:>7}{TOTAL:>6}" in proc.stdout


def test_results_json_has_gradescope_fields_and_exact_tags(honest_run):
    _, results = honest_run
    fields = {"name", "score", "max_score", "status", "output", "visibility", "tags"}
    assert len(results["tests"]) == sum(len(CHECKS[n]) for n in ALL)
    for test in results["tests"]:
        assert set(test) >= fields
        assert test["tags"] and set(test["tags"]) <= TARGETS, test
    tags = {tuple(t["tags"]) for t in results["tests"]}
    assert ("conv_backward_naive",) in tags and ("TwoLayerNet.loss",) in tags
    assert ("ThreeLayerConvNet.loss",) in tags


def test_the_output_says_how_the_worker_is_confined_and_that_notebooks_do_not_count(honest_run):
    proc, results = honest_run
    for text in (proc.stdout, results["output"]):
        assert "Landlock ABI" in text and "seccomp" in text
        assert "Notebooks are not graded" in text


def test_stubs_score_zero_and_say_not_implemented(editions, tmp_path):
    proc = fx.run_grade(str(editions["stub"]), "--results", str(tmp_path / "r.json"))
    results = json.loads((tmp_path / "r.json").read_text())
    assert proc.returncode == 0
    assert results["score"] == 0
    assert all("NotImplementedError" in t["output"] for t in results["tests"])


@pytest.fixture(scope="module")
def batch(editions, tmp_path_factory):
    """Several broken hand-ins graded in one run with --jobs 2 and --csv."""
    root = tmp_path_factory.mktemp("batch")
    honest = editions["honest"]
    subs = {}
    subs["missing"] = fx.copy_submission(honest, root / "missing")
    (subs["missing"] / "bpkit/optim.py").unlink()
    subs["syntax"] = fx.copy_submission(honest, root / "syntax")
    fx.append(subs["syntax"] / "bpkit/optim.py", "def broken(:\n    pass")
    subs["renamed"] = fx.copy_submission(honest, root / "renamed")
    # Nothing else imports this function, so only its own exercise may suffer.
    layers = subs["renamed"] / "bpkit/layers.py"
    fx.edit(layers, "def max_pool_backward_naive(", "def max_pool_backward_v2(")
    subs["zipped"] = root / "zipped.zip"
    with zipfile.ZipFile(subs["zipped"], "w") as zf:
        for rel in fx.MODULES:  # nested one folder down, as when zipping the edition itself
            zf.write(honest / rel, f"my-edition/{rel}")
    subs["flat"] = root / "flat"  # Gradescope flattens uploaded files
    subs["flat"].mkdir()
    for rel in fx.MODULES:
        (subs["flat"] / Path(rel).name).write_bytes((honest / rel).read_bytes())
    subs["bad_zip"] = root / "bad_zip.zip"
    subs["bad_zip"].write_bytes(b"PK\x03\x04 this is not really a zip")
    csv_path = root / "grades.csv"
    args = [str(p) for p in subs.values()] + ["--jobs", "2", "--csv", str(csv_path)]
    proc = fx.run_grade(*args)
    return proc, fx.read_csv(csv_path)


def test_batch_completes_with_exit_status_zero_and_one_row_each(batch):
    proc, rows = batch
    assert proc.returncode == 0, proc.stderr
    assert set(rows) == {"missing", "syntax", "renamed", "zipped.zip", "flat", "bad_zip.zip"}
    assert all(set(row) == {"total", "max", *ALL} for row in rows.values())


OPTIM = [ex.name for ex in exercises.EXERCISES if ex.module == "bpkit.optim"]


@pytest.mark.parametrize(
    ("name", "lost", "words"),
    [
        ("missing", OPTIM, "bpkit/optim.py is not in the submission"),
        ("syntax", OPTIM, "SyntaxError"),
        ("renamed", ["max_pool"], "has no max_pool_backward_naive (deleted or renamed?)"),
        ("bad_zip.zip", ALL, "could not be read as a zip file"),
    ],
)
def test_a_broken_module_costs_only_its_exercises(batch, name, lost, words):
    proc, rows = batch
    for ex in exercises.EXERCISES:
        if ex.name in lost:
            assert rows[name][ex.name] < ex.points, (name, ex.name)
        else:
            assert rows[name][ex.name] == ex.points, (name, ex.name)
    assert words in proc.stdout


def test_the_forward_still_scores_when_the_backward_is_renamed(batch):
    _, rows = batch
    forward_only = [c for c in CHECKS["max_pool"] if c.targets == ("max_pool_forward_naive",)]
    assert forward_only
    assert rows["renamed"]["max_pool"] == sum(c.points for c in forward_only)


@pytest.mark.parametrize("name", ["zipped.zip", "flat"])
def test_zips_and_flattened_uploads_are_found(batch, name):
    _, rows = batch
    assert rows[name]["total"] == TOTAL


def test_symbolic_links_in_a_submission_are_refused(tmp_path):
    sub = tmp_path / "sub"
    (sub / "bpkit").mkdir(parents=True)
    os.symlink(fx.REPO / "bpkit/layers.py", sub / "bpkit/layers.py")
    os.symlink(fx.REPO / "bpkit", tmp_path / "linked_pkg")
    loaded = submission.load(sub)
    assert "bpkit/layers.py" not in loaded.files
    assert "symbolic link" in loaded.problems["bpkit/layers.py"]
    via_dir = tmp_path / "via_dir"
    via_dir.mkdir()
    os.symlink(fx.REPO / "bpkit", via_dir / "bpkit")
    assert submission.load(via_dir).files == {}


def test_oversized_zip_members_are_refused(tmp_path):
    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bpkit/layers.py", b"#" * (submission.MAX_BYTES + 10))
    loaded = submission.load(path)
    assert "larger than" in loaded.problems["bpkit/layers.py"]


@pytest.mark.parametrize(
    ("args", "status", "words"),
    [
        (["no/such/folder"], 2, "no such folder"),
        (["{honest}", "{honest}", "--results", "{tmp}/r.json"], 2, "--results takes one"),
        (["{honest}", "--exercises", "backprop"], 2, "unknown exercise"),
        (["{honest}", "--edition", "{repo}"], 1, "holds solution regions"),
    ],
)
def test_exit_status_is_nonzero_only_when_grading_cannot_run(
    editions, tmp_path, args, status, words
):
    fill = {"honest": str(editions["honest"]), "tmp": str(tmp_path), "repo": str(fx.REPO)}
    proc = fx.run_grade(*(a.format(**fill) for a in args))
    assert proc.returncode == status
    assert words in proc.stderr


def test_a_fifo_in_place_of_a_module_is_refused_without_blocking(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    os.mkfifo(sub / "layers.py")  # flattened upload: bpkit/layers.py arrives as layers.py
    loaded = {}
    reader = threading.Thread(target=lambda: loaded.update(sub=submission.load(sub)), daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive(), "reading the submission blocked on a FIFO"
    assert "not a regular file" in loaded["sub"].problems["bpkit/layers.py"]


@pytest.mark.parametrize("name", ["=HYPERLINK(1)", "+1", "-2+3", "@SUM(A1)", "\t=1"])
def test_csv_cells_from_submission_names_are_never_formulas(tmp_path, name):
    check = CHECKS["sgd"][0]
    result = report.SubmissionResult(name, [report.CheckResult(check, 4.0)])
    report.write_csv(tmp_path / "grades.csv", [result])
    with open(tmp_path / "grades.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[1][0] == "'" + name
    assert rows[1][1:4] == ["4", "4", "4"]


def test_the_disk_watch_skips_entries_that_vanish_mid_walk(tmp_path, monkeypatch):
    (tmp_path / "gone" / "deeper").mkdir(parents=True)
    (tmp_path / "gone.txt").write_text("x")

    class Racing:
        """Lists a folder, then lets the submission delete what was listed (a race)."""

        def __init__(self, path):
            with os.scandir(path) as it:
                self.entries = list(it)
            shutil.rmtree(tmp_path / "gone", ignore_errors=True)
            (tmp_path / "gone.txt").unlink(missing_ok=True)

        def __enter__(self):
            return iter(self.entries)

        def __exit__(self, *exc):
            return False

    class RacingOs:
        """The os module as remote sees it, with the racing scandir."""

        scandir = Racing

        def __getattr__(self, name):
            return getattr(os, name)

    worker = remote.Worker.__new__(remote.Worker)  # only what _check_disk reads
    worker.run_dir, worker.limits = tmp_path, Limits()
    worker.proc = type("Proc", (), {"pid": os.getpid(), "poll": lambda self: None})()
    monkeypatch.setattr(remote, "os", RacingOs())
    worker._check_disk("a test")  # must neither raise nor stop anything


def _broken_reference(worker, rng):
    raise ZeroDivisionError("the reference divided by zero")


def test_a_fault_in_a_hidden_check_stops_grading_and_names_the_check(editions, monkeypatch, capsys):
    broken = Check("sgd", "broken", "a check with a bug", 5, ("sgd",), _broken_reference)
    monkeypatch.setitem(CHECKS, "sgd", [broken])
    status = main(["grade", str(editions["honest"]), "--exercises", "sgd"])
    err = capsys.readouterr().err
    assert status == 1
    assert "the hidden check sgd/broken itself failed (ZeroDivisionError" in err
    assert "no submission is to blame" in err


def test_a_value_that_trips_a_check_fails_the_check_not_the_run(editions, tmp_path):
    sub = fx.copy_submission(editions["honest"], tmp_path / "mixed_keys")
    fx.append(
        sub / "bpkit/models.py",
        "_reference_loss = TwoLayerNet.loss\n\n\n"
        "def _loss(self, X, y=None):\n"
        "    out = _reference_loss(self, X, y)\n"
        "    if y is None:\n"
        "        return out\n"
        "    out[1][1] = 0.0  # an int key next to the str ones\n"
        "    return out\n\n\n"
        "TwoLayerNet.loss = _loss\n",
    )
    ctx = grade.make_context(
        tmp_path / "run",
        Limits(),
        1,
        [exercises.get("two_layer_net")],
        edition=str(editions["stub"]),
    )
    results = grade.grade_submission(submission.load(sub), ctx).checks
    failed = {r.check.name: r.message for r in results if not r.passed}
    assert set(failed) == {"loss", "reg"}
    assert all("expected keys ['W1', 'b1', 'W2', 'b2'], got [" in m for m in failed.values())


def test_whatever_the_import_raises_costs_only_that_exercise(editions, tmp_path, monkeypatch):
    def broken_import(worker, module):
        raise OSError("the reply pipe broke")

    ctx = grade.make_context(
        tmp_path / "run", Limits(), 1, [exercises.get("sgd")], edition=str(editions["stub"])
    )
    monkeypatch.setattr(remote.Worker, "import_module", broken_import)
    results = grade.grade_submission(submission.load(editions["honest"]), ctx).checks
    assert [r.score for r in results] == [0.0] * len(CHECKS["sgd"])
    assert all("OSError: the reply pipe broke" in r.message for r in results)
