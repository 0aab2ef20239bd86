"""Run the hidden checks against many variants quickly: a worker in this very process.

:class:`LocalWorker` answers the grader's requests with the worker's own request handler
(:class:`bpkit.assignments.grading.runtime.worker._Server`) and sends every request and reply
through :mod:`.wire` encoding, exactly as the real pipe does; only the process, the sandbox
and the deadlines are missing. The submission's modules are built from source text, so a
hundred variants are graded in the time a few real workers take to start. The tests that
need the real thing (confinement, timeouts, the fast-layer stand-in) use real workers.
"""

from __future__ import annotations

import types
import zlib

import numpy as np

from bpkit.assignments.grading.checks import CHECKS, CheckFailed
from bpkit.assignments.grading.runtime import wire
from bpkit.assignments.grading.runtime.sandbox import Limits
from bpkit.assignments.grading.runtime.worker import _Missing, _Server
from bpkit.assignments.grading.worker_client import StudentError, Worker


class _LocalServer(_Server):
    def __init__(self, modules: dict[str, types.ModuleType]):
        self.modules = modules
        self.handles = {}

    def op_import(self, module: str) -> None:
        self.modules[module]  # noqa: B018  (a KeyError here is a fault of the test)

    def op_call(self, func: object, args: list, kwargs: dict) -> int:
        if type(func) is tuple:
            _, module, qualname = func
            target = self.modules[module]
            for part in qualname.split("."):
                if not hasattr(target, part):
                    raise _Missing(f"{module} has no {qualname}")
                target = getattr(target, part)
        else:
            target = self.resolve(func)
        return self.store(target(*self.resolve(args), **self.resolve(kwargs)))


class LocalWorker(Worker):
    """A :class:`Worker` whose requests are answered in this process (see the module doc)."""

    def __init__(self, modules: dict[str, types.ModuleType]):  # no process: no super()
        self.limits = Limits()
        self._dead = False
        self._server = _LocalServer(modules)
        self._pending = b""

    def _send(self, message: object, deadline: float, what: str) -> None:
        self._pending = wire.encode(message)

    def _receive(self, deadline: float, what: str) -> object:
        request = wire.decode(self._pending, allow_refs=True)
        return wire.decode(self._server.answer(request))

    def _check_disk(self, what: str) -> None:
        """No copy of the submission on disk to watch."""

    def close(self) -> None:
        self._dead = True


def build_module(name: str, source: str) -> types.ModuleType:
    """Execute ``source`` as a fresh module called ``name`` (not put in ``sys.modules``)."""
    module = types.ModuleType(name)
    module.__file__ = f"<{name}>"
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)  # noqa: S102
    return module


def check_rng(seed: int, exercise: str, check: str) -> np.random.Generator:
    """The generator ``bpkit grade`` gives a check (see one_submission.grade_exercise)."""
    return np.random.default_rng([seed, zlib.crc32(f"{exercise}/{check}".encode())])


def grade_local(modules: dict[str, types.ModuleType], exercise: str, seed: int) -> list:
    """``[(check, points scored, message)]`` for one exercise, as ``bpkit grade`` scores it."""
    worker = LocalWorker(modules)
    results = []
    for check in CHECKS[exercise]:
        try:
            check.run(worker, check_rng(seed, exercise, check.name))
            results.append((check, float(check.points), ""))
        except (CheckFailed, StudentError) as exc:
            results.append((check, 0.0, str(exc)))
    return results
