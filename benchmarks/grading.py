"""How long ``bpkit grade`` takes: one honest submission, and a batch with ``--jobs 2``.

    python -m benchmarks.grading                    # 1 submission x 3 runs, 20 with --jobs 2
    python -m benchmarks.grading --batch 4 --runs 1 # a quick look

Each submission is the reference code put back into a fresh student edition, so every
check runs to the end (a stub would fail fast and flatter the figure). The command line
runs as a subprocess, exactly as an instructor runs it; the times include starting it.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bpkit.assignments.release import edition as release
from bpkit.assignments.release import fill
from bpkit.assignments.student import exercises

# The course's budgets on a 2-core machine.
TARGETS = {"one submission s": 20.0, "batch of 20, --jobs 2, s": 240.0}


def _grade(*args: str) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bpkit", "grade", *args], capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"bpkit grade failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def measure(batch: int, runs: int, workdir: Path) -> dict:
    """Time grading one honest submission ``runs`` times and ``batch`` of them together."""
    honest = release.build(workdir / "honest")
    fill.fill_stubs(honest)
    subs = []
    for i in range(batch):
        sub = workdir / f"student{i:02d}"
        for rel in exercises.MODULE_PATHS:
            (sub / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(honest / rel, sub / rel)
        subs.append(str(sub))
    csv_path = workdir / "grades.csv"
    one = [_grade(str(honest)) for _ in range(runs)]
    many = [_grade(*subs, "--jobs", "2", "--csv", str(csv_path)) for _ in range(runs)]
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    full = sum(1 for row in rows if row["total"] == row["max"])
    return {
        "one submission s": statistics.median(one),
        f"batch of {batch}, --jobs 2, s": statistics.median(many),
        "runs": runs,
        "batch rows with full marks": f"{full} of {len(rows)}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.grading", description=__doc__)
    parser.add_argument("--batch", type=int, default=20, help="submissions graded together")
    parser.add_argument("--runs", type=int, default=3, help="repeats; medians are reported")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bpkit-grading-bench-") as tmp:
        results = measure(args.batch, args.runs, Path(tmp))
    for key, value in results.items():
        limit = TARGETS.get(key)
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        verdict = (
            ""
            if limit is None
            else f"  (target < {limit:g}: {'met' if value < limit else 'MISSED'})"
        )
        print(f"{key:32} {shown}{verdict}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
