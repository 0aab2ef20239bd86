"""The benchmark command runs end to end and writes every section (no timing is asserted).

Timings belong to the benchmark run itself, never to a test on a shared machine; this
only keeps the command from rotting.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_benchmark_writes_json_and_markdown(tmp_path):
    out, md = tmp_path / "results.json", tmp_path / "results.md"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--quick",
            "--no-torch",
            "--json",
            str(out),
            "--markdown",
            str(md),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(out.read_text())
    for section in ("machine", "conv", "pool", "memory", "training"):
        assert results.get(section), f"the run wrote no {section!r} section"
    cases = {(r["case"], r["dtype"]) for r in results["conv"]}
    assert {("A", "float64"), ("B", "float32"), ("C", "float64")} <= cases
    assert all(r["fast"]["total_ms"] > 0 for r in results["conv"])
    text = md.read_text()
    assert text.startswith("Machine: ") and "| conv | dtype |" in text


@pytest.mark.slow
def test_grading_benchmark_grades_every_copy_to_full_marks(tmp_path):
    out = tmp_path / "grading.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.grading",
            "--batch",
            "2",
            "--runs",
            "1",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(out.read_text())
    assert results["batch rows with full marks"] == "2 of 2"
    assert results["one submission s"] > 0
