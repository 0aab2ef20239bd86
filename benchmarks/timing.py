"""Interleaved timing: every contender runs in every round, so machine noise hits all alike.

A contender is a forward and a backward. Each round runs the contenders of each case one
after the other (in alternating order, so none always follows the same one), each with
one untimed warm-up pass first, which wakes its threads and refills its scratch buffers.
There are no pauses in between: on the virtual machines measured, a core left idle for
even 20 ms ran the next few milliseconds of work up to twice as slowly.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Contender:
    """One implementation of a layer: ``backward(forward())`` is one training pass."""

    name: str
    forward: Callable[[], object]
    backward: Callable[[object], object]
    fwd: list = field(default_factory=list)
    bwd: list = field(default_factory=list)

    def run(self, reps: int) -> None:
        self.backward(self.forward())  # warm-up, not timed
        for _ in range(reps):
            t0 = time.perf_counter()
            state = self.forward()
            t1 = time.perf_counter()
            self.backward(state)
            t2 = time.perf_counter()
            self.fwd.append(t1 - t0)
            self.bwd.append(t2 - t1)

    def summary(self) -> dict:
        """Medians in milliseconds, and the fastest pass as a noise-free reference."""
        total = [f + b for f, b in zip(self.fwd, self.bwd, strict=True)]
        return {
            "fwd_ms": 1e3 * statistics.median(self.fwd),
            "bwd_ms": 1e3 * statistics.median(self.bwd),
            "total_ms": 1e3 * statistics.median(total),
            "total_min_ms": 1e3 * min(total),
            "samples": len(total),
        }


def interleave(groups: list[list[Contender]], rounds: int, reps: int) -> list:
    """Time every contender of every group ``rounds * reps`` times; return their summaries.

    Rounds are the outer loop, so each group's samples are spread over the whole run:
    a burst of load from other processes lasting seconds then spoils a few samples of
    every case, which the medians discard, instead of all samples of one case.
    """
    for r in range(rounds):
        for group in groups:
            for contender in group if r % 2 == 0 else group[::-1]:
                contender.run(reps)
    return [{c.name: c.summary() for c in group} for group in groups]


def once(fn: Callable[[], object], reps: int) -> float:
    """Median seconds of ``reps`` calls (for the slow naive loops, timed on their own)."""
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
