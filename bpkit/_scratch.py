"""Scratch buffers kept between calls, and work split across threads, for the fast layers.

Two things made the pure-numpy layers slow on course-sized problems, and neither is
arithmetic. A fresh array of many megabytes page-faults on first touch, once per 4 KiB,
so allocating the im2col matrix anew on every call cost as much as filling it (and made
timings swing 2-3x): :func:`buffer` hands out the same array again for the same shape.
And numpy runs a copy or an addition on one core: :func:`parallel` splits such work over
samples into a few threads, which run at once because numpy releases the GIL inside its
loops. (OpenBLAS, numpy's usual BLAS, lets its idle threads spin for about 0.1 s after
each product, holding a core; ``OPENBLAS_THREAD_TIMEOUT`` below 28 shortens that spin.)
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

MAX_BUFFERS = 32  # per thread: a few layers x (train, eval) batch shapes x scratch kinds
MIN_PART = 1 << 17  # elements; below this a thread hand-off costs more than it saves
CHUNKS_PER_THREAD = 3

_local = threading.local()
_cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
_threads = min(8, _cores or 1)
_executor: ThreadPoolExecutor | None = None
_executor_key: tuple = ()


class Buffer:
    """A cached scratch array, and the forward pass whose data it holds (if any)."""

    __slots__ = ("array", "owner")

    def __init__(self, array: np.ndarray):
        self.array = array
        self.owner: object | None = None


def buffer(tag: str, shape: tuple, dtype, fill: float = 0) -> Buffer:
    """Return this thread's scratch buffer for (tag, shape, dtype); new ones hold ``fill``.

    Callers may rely on ``fill`` surviving wherever they never write (a zero border, a
    row of ones). Only the ``MAX_BUFFERS`` most recently used buffers are kept. Arrays
    handed out here must never be returned to a caller of a layer: the next call of the
    same shape overwrites them.
    """
    store = getattr(_local, "store", None)
    if store is None:
        store = _local.store = OrderedDict()
    key = (tag, shape, np.dtype(dtype).str)
    buf = store.pop(key, None)
    if buf is None:
        while len(store) >= MAX_BUFFERS:
            store.popitem(last=False)
        buf = Buffer(np.full(shape, fill, dtype=dtype))
    store[key] = buf  # most recently used last
    return buf


def buffer_like(tag: str, a: np.ndarray, dtype=None) -> Buffer:
    """Like :func:`buffer`, for an array with a's shape and memory order (and ``dtype``).

    The returned Buffer's ``array`` is a view laid out like ``a``; its ``owner`` is the
    cached Buffer behind it, whose own ``owner`` marks who holds the data.
    """
    order = tuple(np.argsort([-abs(st) for st in a.strides], kind="stable").tolist())
    cached = buffer(f"{tag}{order}", tuple(a.shape[i] for i in order), dtype or a.dtype)
    view = Buffer(cached.array.transpose(np.argsort(order)))
    view.owner = cached
    return view


def clear_buffers() -> None:
    """Free the scratch arrays that the fast layers keep between calls (this thread's)."""
    _local.store = OrderedDict()


def set_num_threads(n: int) -> None:
    """Split the fast layers' copies and additions over at most ``n`` threads.

    The default is the number of cores this process may use (at most 8). BLAS products
    follow BLAS's own setting (e.g. ``OPENBLAS_NUM_THREADS``).
    """
    global _threads
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n: expected an integer >= 1, got {n!r}")
    _threads = n


def get_num_threads() -> int:
    """The most threads the fast layers' copies and additions are split over."""
    return _threads


def parallel(task: Callable[[int, int], None], n_items: int, size: int) -> None:
    """Run ``task(lo, hi)`` over contiguous chunks of ``range(n_items)``, several at once.

    ``size`` is the number of elements the whole task touches; small tasks run inline.
    The chunks must write to disjoint memory. The calling thread works too, and chunks
    go to whichever thread is free: on a machine busy with other work, a pool thread
    that does not get a core soon just finds nothing left to do, instead of holding
    everyone up.
    """
    global _executor, _executor_key
    threads = max(1, min(_threads, n_items, size // MIN_PART))
    if threads == 1:
        task(0, n_items)
        return
    # One pool, sized for the most threads allowed; a pool made before a fork has no
    # threads in the child, so the child makes its own.
    if _executor is None or _executor_key != (os.getpid(), _threads):
        if _executor is not None and _executor_key[0] == os.getpid():
            _executor.shutdown(wait=False)
        _executor = ThreadPoolExecutor(_threads - 1, thread_name_prefix="bpkit-fast")
        _executor_key = (os.getpid(), _threads)
    n_chunks = min(n_items, CHUNKS_PER_THREAD * threads, size // MIN_PART)
    bounds = [n_items * i // n_chunks for i in range(n_chunks + 1)]
    claim = itertools.count()  # next() on a count is atomic under the GIL
    lock, finished, errors = threading.Lock(), threading.Event(), []
    left = [n_chunks]

    def work() -> None:
        for i in iter(claim.__next__, None):
            if i >= n_chunks:
                return
            try:
                task(bounds[i], bounds[i + 1])
            except BaseException as exc:  # re-raised in the calling thread
                errors.append(exc)
            with lock:
                left[0] -= 1
                if left[0] == 0:
                    finished.set()

    for _ in range(threads - 1):
        _executor.submit(work)
    work()
    finished.wait()
    if errors:
        raise errors[0]
