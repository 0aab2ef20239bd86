"""Run the benchmarks, print the tables, write JSON (and optionally markdown).

    python -m benchmarks.run                 # full run, a few minutes
    python -m benchmarks.run --quick         # smoke run, seconds
    python -m benchmarks.run --markdown benchmarks/RESULTS.md

PyTorch is optional (``pip install .[bench]``); without it its columns stay empty.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

# OpenBLAS worker threads busy-wait for about 0.1 s after every call before they sleep
# (2**28 cycles by default). Within that window they hold the second core, which then
# serves neither the fast layers' copy threads nor PyTorch's OpenMP threads. A shorter
# spin (2**20 cycles, about 0.4 ms) still covers the gaps inside one matrix product.
# This must be set before numpy loads OpenBLAS; an explicit setting is left alone.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")

import numpy as np  # noqa: E402

from benchmarks import layers, report, timing, training  # noqa: E402
from bpkit import fast_layers  # noqa: E402

DEFAULT_JSON = Path(__file__).with_name("results.json")


def _torch(disabled: bool):
    if disabled:
        return None
    try:
        import torch
    except ImportError:
        return None
    threads = report.blas_threads() or os.cpu_count() or 1
    torch.set_num_threads(threads)  # the same number of threads as numpy's BLAS
    return torch


def targets(results: dict) -> list[dict]:
    """The goals set for the fast layers, checked against this run's medians."""
    found = []

    def add(target: str, value, limit: float, smaller_is_better: bool = True):
        if value is not None:
            met = value <= limit if smaller_is_better else value >= limit
            found.append({"target": target, "value": value, "limit": limit, "met": met})

    for r in results.get("conv", []):
        if "torch" in r:
            limit = 1.0 if r["dtype"] == "float64" else 2.0
            ratio = r["fast"]["total_ms"] / r["torch"]["total_ms"]
            add(f"conv {r['case']} {r['dtype']}: fast / torch", ratio, limit)
        if "naive" in r and r["dtype"] == "float64":
            for step in ("fwd", "bwd"):
                speedup = r["naive"][f"{step}_ms"] / r["fast"][f"{step}_ms"]
                add(f"conv {r['case']} {r['dtype']} {step}: naive / fast", speedup, 300, False)
    for r in results.get("pool", []):
        if "torch" in r:
            ratio = r["fast"]["total_ms"] / r["torch"]["total_ms"]
            add(f"pool {r['case']} {r['dtype']}: fast / torch", ratio, 1.0)
    for r in results.get("memory", []):
        add(f"memory {r['case']} {r['dtype']}: pass extra / im2col", r["ratio"], 3.0)
    conv_net = results.get("training", {}).get("conv_net")
    if conv_net:
        add("ThreeLayerConvNet test accuracy", conv_net["test_acc"], 0.97, False)
        add("ThreeLayerConvNet training seconds", conv_net["train_s"], 60.0)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: few repeats, short training"
    )
    parser.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help="where to write the results"
    )
    parser.add_argument("--markdown", type=Path, help="also write the tables as markdown here")
    parser.add_argument(
        "--only", nargs="+", choices=("conv", "pool", "memory", "training"), help="sections to run"
    )
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 15, quick 2)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--threads", type=int, help="threads for the fast layers' copies")
    args = parser.parse_args(argv)
    sections = args.only or ["conv", "pool", "memory", "training"]
    rounds = args.rounds or (2 if args.quick else 15)
    reps = 1 if args.quick else 2
    naive_reps = 1 if args.quick else 3
    torch = _torch(args.no_torch)
    if args.threads:
        fast_layers.set_num_threads(args.threads)

    results = {
        "machine": report.machine(torch),
        "settings": {
            "quick": args.quick,
            "rounds": rounds,
            "reps_per_round": reps,
            "method": f"Medians of {rounds} interleaved rounds x {reps} passes after a warm-up"
            " pass; naive loops timed alone, median of "
            f"{naive_reps}.",
        },
    }
    dtypes = (np.float32, np.float64)
    cases = []  # (section, result, contenders), all timed in one interleaved loop
    for section, make, names in (
        ("conv", layers.conv_case, layers.CONV_CASES),
        ("pool", layers.pool_case, layers.POOL_CASES),
    ):
        if section in sections:
            results[section] = []
            for dt in dtypes:
                for name in names:
                    result, contenders = make(name, dt, torch, naive_reps)
                    results[section].append(result)
                    cases.append((result, contenders))
    summaries = timing.interleave([c for _, c in cases], rounds, reps)
    for (result, _), summary in zip(cases, summaries, strict=True):
        result.update(summary)
    if "memory" in sections:
        results["memory"] = [
            layers.conv_memory(name, dt) for dt in dtypes for name in layers.CONV_CASES
        ]
    if "training" in sections:
        results["training"] = training.run(quick=args.quick)
    results["targets"] = targets(results)

    print(report.render(results, markdown=False))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")
    if args.markdown:
        args.markdown.write_text(report.render(results, markdown=True), encoding="utf-8")
        print(f"wrote {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
