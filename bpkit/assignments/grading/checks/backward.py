"""How the hidden checks feed a layer's backward its cache, and what they check around it.

The rule, the same for every backward (affine, ReLU, convolution, max pooling):

1. The backward is fed the cache made by the submission's own forward on the same inputs,
   so a consistent forward/backward pair is what is graded whenever one exists -- never a
   cache built by hand that could disagree with how the student's forward stores it.
2. Only when that forward does not give one -- it raises (the ``NotImplementedError`` of a
   stub, or anything else) or its cache is not plain data -- is the backward fed a cache in
   the layout the edition gives outside the solution regions (``(x, w, b)`` for affine,
   ``x`` for ReLU, ``(x, w, b, conv_param)`` for the convolution, ``(x, pool_param)`` for
   pooling), built in the worker from the same inputs. So a correct backward scores even
   when the forward is unfinished or belongs to an exercise not done yet.
3. An exercise that holds both a forward and its backward (affine, ReLU, max pooling)
   also has one small "pair" check that runs the forward, checks its output, and then the
   backward on the forward's own cache, with no fallback: it scores only when the two
   work together, and its tags name both. ``conv_backward`` has none: the convolution's
   forward is another exercise, whose mistakes must not cost this one.

Every backward call also checks that ``dout`` and the arrays in the cache come back exactly
as they were: a backward must not modify its inputs (an upstream layer may still need them).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from bpkit.assignments.grading.checks import compare as cmp
from bpkit.assignments.grading.runtime import wire
from bpkit.assignments.grading.worker_client import Remote, StudentError, Worker

LAYERS = "bpkit.layers"


@contextmanager
def on_case(label: str) -> Iterator[None]:
    """Name the input geometry in the message when the submission raises on it."""
    try:
        yield
    except StudentError as exc:
        raise StudentError(f"{exc} (on the case: {label})", exc.where) from None


def cache_for(
    worker: Worker, forward: str, args: tuple, layout: object, exact: bool = False
) -> tuple[Remote, object]:
    """The cache a backward is graded with (rules 1 and 2 above), and its content.

    Parameters
    ----------
    worker : Worker
    forward : str
        Name of the forward in ``bpkit.layers``.
    args : tuple
        Its inputs (plain data).
    layout : object
        The same inputs in the edition's cache layout, sent to the worker if the forward
        gives no cache.
    exact : bool
        Also use ``layout`` when the forward's cache differs from it in any way (the
        forward belongs to another exercise, and the edition builds its cache outside the
        solution region, so only a mistake there -- such as writing into ``x`` -- makes it
        differ; that mistake must not cost the backward's exercise).

    Returns
    -------
    cache : Remote
        The cache, held in the worker.
    content : object
        Its value before the backward runs, to check afterwards that it is unchanged.
    """
    try:
        res = worker.function(f"{LAYERS}.{forward}")(*args)
        content = res[1].get()
        if not exact or wire.encode(content) == wire.encode(layout):
            return res[1], content
    except StudentError:
        pass
    return worker.put(layout, "the cache"), layout


def own_cache(worker: Worker, forward: str, args: tuple) -> tuple[Remote, object]:
    """The cache of the submission's own forward, with no fallback (the pair checks)."""
    res = worker.function(f"{LAYERS}.{forward}")(*args)
    return res[1], res[1].get()


def run(worker: Worker, backward: str, dout: np.ndarray, cache: Remote, content: object) -> Remote:
    """Call ``backward(dout, cache)``; fail if it modified ``dout`` or the cache.

    Returns the proxy of what the backward returned.
    """
    dout_ref = worker.put(dout, "dout")
    grads = worker.function(f"{LAYERS}.{backward}")(dout_ref, cache)
    cmp.unchanged("dout", dout_ref.get(), dout, backward)
    _same(cache.get(), content, "cache", backward)
    return grads


def _same(got: object, before: object, where: str, func: str) -> None:
    """Fail unless ``got`` is ``before``, array for array, anywhere inside it."""
    if type(before) is np.ndarray:
        if type(got) is not np.ndarray or (got.shape, got.dtype) != (before.shape, before.dtype):
            raise cmp.CheckFailed(f"{func} replaced the array {where}; inputs must be left alone")
        # Bit for bit, so a NaN the forward cached still counts as unchanged.
        if got.tobytes() != before.tobytes():
            raise cmp.CheckFailed(
                f"{func} modified {where} in place; work on a copy "
                "(the caller still needs the original values)"
            )
    elif type(before) in (list, tuple):
        if type(got) is not type(before) or len(got) != len(before):
            raise cmp.CheckFailed(f"{func} replaced the {where}; inputs must be left alone")
        for i, (a, b) in enumerate(zip(got, before, strict=True)):
            _same(a, b, f"{where}[{i}]", func)
    elif type(before) is dict:
        if type(got) is not dict or set(got) != set(before):
            raise cmp.CheckFailed(f"{func} changed the keys of {where}; inputs must be left alone")
        for key in before:
            _same(got[key], before[key], f"{where}[{key!r}]", func)
    elif wire.encode(got) != wire.encode(before):  # exact, NaN included
        raise cmp.CheckFailed(f"{func} changed {where}; inputs must be left alone")
