"""The machine a run happened on, and the results as plain-text or markdown tables."""

from __future__ import annotations

import ctypes
import os
import platform

import numpy as np

from bpkit import _scratch


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_threads() -> int | None:
    """Threads numpy's OpenBLAS uses, asked of the loaded library itself (None if unknown)."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as fh:
            paths = {line.split()[-1] for line in fh if "openblas" in line.lower()}
    except OSError:
        return None
    for path in paths:
        lib = ctypes.CDLL(path)
        for symbol in (
            "scipy_openblas_get_num_threads64_",
            "openblas_get_num_threads64_",
            "openblas_get_num_threads",
        ):
            fn = getattr(lib, symbol, None)
            if fn is not None:
                return int(fn())
    return None


def machine(torch) -> dict:
    """CPU, cores, library versions and thread settings of this run."""
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {
        "cpu": _cpu_model(),
        "cores": cores,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": f"{blas.get('name')} {blas.get('version')}",
        "blas_threads": blas_threads(),
        "env": {
            k: os.environ[k]
            for k in ("OPENBLAS_NUM_THREADS", "OPENBLAS_THREAD_TIMEOUT", "OMP_NUM_THREADS")
            if k in os.environ
        },
        "fast_layer_threads": _scratch.get_num_threads(),
        "torch": torch.__version__ if torch is not None else None,
        "torch_threads": torch.get_num_threads() if torch is not None else None,
    }
    return info


def table(headers: list[str], rows: list[list], markdown: bool) -> str:
    """Rows of cells as a markdown table, or as aligned plain text."""
    cells = [[_cell(v) for v in row] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(row) + " |" for row in cells]
        # Blank lines around it: a markdown table does not interrupt a paragraph.
        return "\n" + "\n".join(lines) + "\n"
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def _ms(entry: dict | None, key: str = "total_ms"):
    return None if entry is None else entry.get(key)


def _ratio(a, b):
    return None if a is None or b is None else a / b


def render(results: dict, markdown: bool) -> str:
    """All sections of a run as text: machine, conv, pool, memory, training, targets."""
    out = []
    m = results["machine"]
    out.append(
        f"Machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}, numpy {m['numpy']} "
        f"({m['blas']}, {m['blas_threads']} threads; fast layers {m['fast_layer_threads']} "
        f"threads); torch {m['torch'] or 'not used'}"
        + (f" ({m['torch_threads']} threads)" if m["torch"] else "")
        + (f"; env {m['env']}" if m["env"] else "")
        + f". {results['settings']['method']}"
    )
    if results.get("conv"):
        rows = []
        for r in results["conv"]:
            naive = r.get("naive")
            fast, torch = r["fast"], r.get("torch")
            rows.append(
                [
                    r["case"],
                    r["dtype"],
                    None if naive is None else naive["fwd_ms"] + naive["bwd_ms"],
                    fast["fwd_ms"],
                    fast["bwd_ms"],
                    fast["total_ms"],
                    _ms(torch),
                    _ratio(fast["total_ms"], _ms(torch)),
                    _ratio(fast["total_min_ms"], _ms(torch, "total_min_ms")),
                    r["blas"]["total_ms"],
                    None
                    if naive is None
                    else f"{naive['fwd_ms'] / fast['fwd_ms']:.0f}x / "
                    f"{naive['bwd_ms'] / fast['bwd_ms']:.0f}x",
                ]
            )
        headers = [
            "conv",
            "dtype",
            "naive ms",
            "fast fwd",
            "fast bwd",
            "fast ms",
            "torch ms",
            "fast/torch",
            "(best/best)",
            "BLAS ms",
            "naive/fast fwd / bwd",
        ]
        out += ["", "Convolution, forward + backward, median ms:", table(headers, rows, markdown)]
    if results.get("pool"):
        rows = []
        for r in results["pool"]:
            naive, fast, torch = r.get("naive"), r["fast"], r.get("torch")
            naive_total = None if naive is None else naive["fwd_ms"] + naive["bwd_ms"]
            rows.append(
                [
                    r["case"],
                    r["dtype"],
                    naive_total,
                    fast["fwd_ms"],
                    fast["bwd_ms"],
                    fast["total_ms"],
                    _ms(torch),
                    _ratio(fast["total_ms"], _ms(torch)),
                    _ratio(fast["total_min_ms"], _ms(torch, "total_min_ms")),
                    _ratio(naive_total, fast["total_ms"]),
                ]
            )
        headers = [
            "max pool",
            "dtype",
            "naive ms",
            "fast fwd",
            "fast bwd",
            "fast ms",
            "torch ms",
            "fast/torch",
            "(best/best)",
            "naive/fast",
        ]
        out += ["", "Max pooling, forward + backward, median ms:", table(headers, rows, markdown)]
    if results.get("memory"):
        rows = [
            [
                r["case"],
                r["dtype"],
                r["im2col_mb"],
                r["forward_extra_mb"],
                r["pass_extra_mb"],
                r["ratio"],
            ]
            for r in results["memory"]
        ]
        headers = ["conv", "dtype", "im2col MB", "extra MB fwd", "extra MB pass", "pass/im2col"]
        out += [
            "",
            "Peak extra memory of a fast conv pass (tracemalloc):",
            table(headers, rows, markdown),
        ]
    if results.get("training"):
        t = results["training"]
        rows = [
            [
                name,
                t[key]["epochs"],
                t[key]["train_s"],
                t[key]["test_acc"],
                t[key]["reached_target"],
            ]
            for name, key in (("TwoLayerNet", "two_layer_net"), ("ThreeLayerConvNet", "conv_net"))
        ]
        headers = ["digits", "epochs", "train s", "test acc", ">= 97%"]
        one = t["conv_net_one_epoch"]
        out += [
            "",
            "Training on the embedded digits (float32 conv net):",
            table(headers, rows, markdown),
            f"One ThreeLayerConvNet epoch: fast layers {one['fast_s']:.2f} s, naive layers "
            f"{one['naive_s']:.2f} s ({one['speedup']:.0f}x).",
        ]
    if results.get("targets"):
        rows = [[t["target"], t["value"], t["limit"], t["met"]] for t in results["targets"]]
        out += ["", "Targets:", table(["target", "measured", "limit", "met"], rows, markdown)]
    return "\n".join(out) + "\n"
