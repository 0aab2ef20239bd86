"""The grader's side of a worker: start it, talk to it under a deadline, stop it.

A :class:`Worker` is a process forked by the run's fork server (:mod:`.forkserver_client`:
a fresh interpreter with a scrubbed environment, never a fork of the grader, whose memory
holds the reference code), running in a temporary copy of the submission. Every request
has a wall-clock deadline; past it, or when the worker dies, the grader kills the worker's
process group and raises :class:`WorkerDied`. What the worker prints is read continuously
and kept up to a cap. Values come back through
:mod:`.runtime.wire`, so they are plain data whatever the student's code did.

Checks drive student code through :class:`Remote` proxies: ``worker.function(
"bpkit.layers.affine_forward")(x, w, b)`` returns a :class:`Remote` for ``(out, cache)``
held in the worker; ``result[0].get()`` fetches ``out``; ``result[1]`` passes the cache
on to a backward without it ever leaving the worker.
"""

from __future__ import annotations

import math
import os
import selectors
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bpkit.assignments.grading import disk_usage, runtime
from bpkit.assignments.grading.forkserver_client import STARTUP_SECONDS, ForkServer
from bpkit.assignments.grading.runtime import sandbox, wire
from bpkit.assignments.student import exercises

# Every module of the runtime package is copied (stdlib, numpy, siblings: tests/test_layout.py).
RUNTIME_DIR = Path(runtime.__file__).parent
RUNTIME_MODULES = tuple(sorted(p.name for p in RUNTIME_DIR.glob("*.py") if p.name != "__init__.py"))
MAX_FILES = 10_000
# Largest reply the grader reads from a worker: checks fetch small arrays, so a reply
# this big is an attack; refused from its header, before its bytes are read.
REPLY_LIMIT = 32 * 2**20
# Texts a worker sends (exception messages, tracebacks) are clipped here too, whatever
# the worker side did.
MAX_TEXT = 2000
# How long a worker told to stop may take to exit by itself (flushing what it printed).
CLOSE_SECONDS = 0.5
# The disk watch runs after every reply and at least this often while a call runs.
DISK_CHECK_SECONDS = 0.1
# A worker holding more than DISK_HOLD_MB (its copy is under 1 MiB) is stopped when the
# temporary filesystem has less than DISK_RESERVE_MB left, so that the submission filling
# the disk is stopped before the others' copies run out of room.
DISK_RESERVE_MB = 64
DISK_HOLD_MB = 8


class WorkerDied(Exception):
    """The worker ended, was stopped at the deadline, or broke the protocol."""


class WorkerStartFailed(WorkerDied):
    """A worker ended or misbehaved before any student code ran: not the student's doing."""


class StudentError(Exception):
    """Student code raised, returned something that is not plain data, or lacks a name."""

    def __init__(self, message: str, where: str = ""):
        super().__init__(message)
        self.where = where


def install_runtime(dest: Path) -> Path:
    """Copy the worker's modules into ``dest/bpkit_grader``; return ``dest``."""
    pkg = dest / "bpkit_grader"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text('"""Grader runtime copied next to the worker."""\n')
    for name in RUNTIME_MODULES:
        shutil.copyfile(RUNTIME_DIR / name, pkg / name)
    return dest


class _Output(threading.Thread):
    """Drains the worker's stdout+stderr, keeping the first ``cap`` bytes."""

    def __init__(self, stream, cap: int):
        super().__init__(daemon=True)
        self.stream, self.cap = stream, cap
        self.kept, self.dropped = bytearray(), 0

    def run(self) -> None:
        while chunk := self.stream.read1(65536):
            room = self.cap - len(self.kept)
            self.kept += chunk[: max(room, 0)]
            self.dropped += max(len(chunk) - max(room, 0), 0)

    def text(self) -> str:
        out = self.kept.decode("utf-8", "replace")
        if self.dropped:
            out += f"\n[... {self.dropped} more bytes of output dropped]"
        return out


@dataclass(frozen=True)
class Policy:
    """How much confinement a run demands, as one value from the command line to the worker.

    Attributes
    ----------
    allow_unconfined : bool
        Grade even if a layer of :data:`sandbox.LAYERS` is missing (``--allow-unconfined``).
    switched_off : tuple of str
        Layers the worker acts as if this machine lacked: the tests' way to reach the paths
        a machine without Landlock or seccomp takes. Empty in real runs.
    """

    allow_unconfined: bool = False
    switched_off: tuple[str, ...] = ()


# Process groups of the workers alive in this process, so that a signal handler can stop
# them all (see kill_all). Only set operations, which the interpreter does atomically.
_LIVE_GROUPS: set[int] = set()


def kill_all() -> None:
    """SIGKILL every live worker's process group (safe to call from a signal handler)."""
    for pgid in list(_LIVE_GROUPS):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class Worker:
    """One confined worker process. Use as a context manager.

    The worker runs in its own process group and session, and asks the kernel to kill it
    when the fork server dies (``PR_SET_PDEATHSIG``), which the server does when the
    grader dies, even by SIGKILL; each exits at once if its parent is already gone by the
    time it asks.

    Parameters
    ----------
    run_dir : Path
        The worker's temporary copy of the submission (its working directory; the only
        place it may write).
    server : ForkServer
        The run's fork server, started on the folder made by :func:`install_runtime`.
    limits : sandbox.Limits
    paths : dict
        ``read``, ``list_only`` and ``numpy_site`` from :func:`sandbox.sandbox_paths`.
    policy : Policy
        Its ``switched_off`` layers reach :func:`sandbox.confine` in the worker.

    Attributes
    ----------
    confinement : list of str
        The worker's own account of each confinement layer.
    missing : list of str
        The layers of :data:`sandbox.LAYERS` not in force in it.

    Raises
    ------
    WorkerStartFailed
        If the worker could not start: a problem of this machine or of the grader's own
        limits, since no student code has run yet.
    """

    # The layer service of a model exercise (see :mod:`..layer_service`), or None; the
    # grader sets it on a model exercise's worker before any student code is imported.
    layers = None
    # When the submission's time budget runs out (time.monotonic()); no call goes past it.
    budget_end = math.inf

    def __init__(
        self,
        run_dir: Path,
        server: ForkServer,
        limits: sandbox.Limits,
        paths: dict,
        policy: Policy = Policy(),
    ):
        self.run_dir, self.limits = Path(run_dir), limits
        self._buf = bytearray()
        self._dead = False
        self._deadline_is_budget = False
        self._next_disk_check = time.monotonic() + DISK_CHECK_SECONDS
        self._spawn(server)
        runtime_dir = str(server.runtime_dir)
        config = {
            "limits": limits.as_dict(),
            "read": paths["read"] + [runtime_dir],
            "list_only": paths["list_only"],
            "write": [str(run_dir)],
            "run_dir": str(run_dir),
            "drop_from_path": [runtime_dir, server.numpy_site],
            "simulate_missing": list(policy.switched_off),
            "module_files": dict(exercises.MODULE_FILES),
        }
        self._handshake(config)

    def _spawn(self, server: ForkServer) -> None:
        """Have the fork server fork the worker; open its pipes and output reader."""
        cmd_r, self._cmd_w = os.pipe()
        self._res_r, res_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            self.proc = server.fork(self.run_dir, (cmd_r, res_w, out_w))
        except BaseException:
            for fd in (cmd_r, res_w, out_w, out_r, self._cmd_w, self._res_r):
                os.close(fd)
            raise
        _LIVE_GROUPS.add(self.proc.pid)
        for fd in (cmd_r, res_w, out_w):
            os.close(fd)
        os.set_blocking(self._cmd_w, False)
        self._output = _Output(open(out_r, "rb"), self.limits.output_kb * 1024)
        self._output.start()

    def _handshake(self, config: dict) -> None:
        """Send the configuration; the worker confines itself and says how."""
        try:
            self._send(config, time.monotonic() + STARTUP_SECONDS, "starting")
            reply = self._receive(time.monotonic() + STARTUP_SECONDS, "starting")
        except WorkerDied:
            self._stop()
            code = self.proc.returncode
            how = (
                f"it did not answer within {STARTUP_SECONDS:g} s"
                if code is None
                else f"exit status {code}"
                if code >= 0
                else f"killed by signal {-code}"
            )
            printed = self.output().strip()[-1500:]
            raise WorkerStartFailed(
                f"the worker process ended before any student code ran ({how})"
                + (f"; it printed:\n{printed}" if printed else "")
            ) from None
        if (
            type(reply) is not tuple
            or len(reply) != 3
            or reply[0] != "ready"
            or not all(type(part) is list for part in reply[1:])
        ):
            self._stop()
            raise WorkerStartFailed(f"the worker did not start properly (said {reply!r:.200})")
        self.confinement: list[str] = [clip(str(line)) for line in reply[1]][:16]
        self.missing: list[str] = [clip(str(name)) for name in reply[2]][:16]

    # -- protocol
    def request(self, message: tuple, what: str) -> object:
        """Send one request, wait for its reply within the deadline; return the value."""
        if self._dead:
            raise WorkerDied(f"the worker had already stopped before {what}")
        deadline = time.monotonic() + self.limits.timeout
        self._deadline_is_budget = self.budget_end < deadline
        deadline = min(deadline, self.budget_end)
        if self.layers is not None:
            self.layers.start_request()
        self._send(message, deadline, what)
        reply = self._receive(deadline, what)
        while self.layers is not None and _is_layer_call(reply):
            # A model's call into a layer, served here while the model call waits.
            self._send(self.layers.answer(*reply[1:]), deadline, what)
            reply = self._receive(deadline, what)
        if type(reply) is not tuple or not reply or type(reply[0]) is not str:
            self._stop()
            raise WorkerDied(f"the worker sent a malformed reply during {what}; stopped it")
        tag = reply[0]
        if tag == "ok" and len(reply) == 2:
            return reply[1]
        if tag == "raised" and len(reply) == 4:
            name, text, frames = (clip(str(x)) for x in reply[1:])
            raise StudentError(f"{what} raised {clip(name, 200)}: {text}", frames)
        if tag in ("refused", "missing") and len(reply) == 2:
            raise StudentError(clip(str(reply[1])))
        self._stop()
        raise WorkerDied(f"the worker sent a malformed reply during {what}; stopped it")

    def _send(self, message: object, deadline: float, what: str) -> None:
        view = memoryview(wire.frame(wire.encode(message)))
        with selectors.DefaultSelector() as sel:
            sel.register(self._cmd_w, selectors.EVENT_WRITE)
            while view:
                if not sel.select(self._left(deadline, what)):
                    continue
                try:
                    view = view[os.write(self._cmd_w, view) :]
                except (BrokenPipeError, OSError):
                    self._died(what)

    def _receive(self, deadline: float, what: str) -> object:
        """Read one reply frame within ``deadline``; watch the disk meanwhile; decode it."""
        need = None
        with selectors.DefaultSelector() as sel:
            sel.register(self._res_r, selectors.EVENT_READ)
            while need is None or len(self._buf) < need:
                if need is None and len(self._buf) >= 8:
                    need = 8 + self._frame_length(what)
                    continue
                ready = sel.select(self._left(deadline, what))
                if time.monotonic() >= self._next_disk_check:
                    self._check_disk(what)
                if ready:
                    self._read_chunk(what)
        self._check_disk(what)  # after every reply, however quickly it came
        payload = bytes(self._buf[8:need])
        del self._buf[:need]
        try:
            return wire.decode(payload, deadline=deadline)
        except wire.WireError as exc:
            self._stop()
            raise WorkerDied(f"garbled reply during {what} ({exc})") from None

    def _frame_length(self, what: str) -> int:
        """The length the next frame announces; a worker announcing too much is stopped."""
        try:
            return wire.frame_length(bytes(self._buf[:8]), REPLY_LIMIT)
        except wire.WireError as exc:
            self._stop()
            raise WorkerDied(f"during {what}: {exc}; stopped the worker") from None

    def _read_chunk(self, what: str) -> None:
        try:
            chunk = os.read(self._res_r, 2**20)
        except OSError:
            chunk = b""
        if not chunk:
            self._died(what)
        self._buf += chunk

    def _left(self, deadline: float, what: str) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            self._stop()
            limit = (
                "before the submission's time budget ran out"
                if self._deadline_is_budget
                else f"within {self.limits.timeout:g} s (wall clock)"
            )
            raise WorkerDied(f"{what} did not finish {limit}; the worker was stopped")
        return min(left, DISK_CHECK_SECONDS)

    def _check_disk(self, what: str) -> None:
        """Stop a worker that fills its copy (RLIMIT_FSIZE bounds one file, not how many).

        Counted: every file in the copy, and the files the worker deleted but still holds
        open or mapped (seen in ``/proc/<pid>``). A worker whose open files the grader cannot
        see is stopped too, as is one that grew its copy while the temporary filesystem
        is nearly full (see :data:`DISK_RESERVE_MB`).
        """
        self._next_disk_check = time.monotonic() + DISK_CHECK_SECONDS
        used, count = disk_usage.tree_usage(self.run_dir, MAX_FILES)
        try:
            used += disk_usage.deleted_but_held(self.proc.pid)
        except PermissionError:
            if not self.proc.ended():
                self._stop()
                raise WorkerDied(
                    f"during {what} the grader could not see the worker's open files "
                    "(/proc refused); the worker was stopped"
                ) from None
        if count > MAX_FILES or used > self.limits.disk_mb * 2**20:
            self._stop()
            raise WorkerDied(
                f"during {what} the submission wrote more than {self.limits.disk_mb} MiB or "
                f"{MAX_FILES} files to disk; the worker was stopped"
            )
        if self._disk_full(used):
            self._stop()
            raise WorkerDied(
                f"during {what} the temporary filesystem had less than {DISK_RESERVE_MB} MiB "
                f"left and the submission held {used // 2**20} MiB of it; the worker was stopped"
            )

    def _disk_full(self, used: int) -> bool:
        if used <= DISK_HOLD_MB * 2**20:
            return False
        try:
            fs = os.statvfs(self.run_dir)
        except OSError:
            return False
        return fs.f_bavail * fs.f_frsize < DISK_RESERVE_MB * 2**20

    def _died(self, what: str):
        ended = self.proc.ended(timeout=5)
        self._stop()
        code = self.proc.returncode if ended else None
        raise WorkerDied(f"the worker process ended during {what}: {_exit_reason(code)}")

    # -- lifecycle
    def _stop(self) -> None:
        if self._dead:
            return
        self._dead = True
        # The worker is not reaped before this (see ForkServer.status), so its process
        # group id still names its own group.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait()
        finally:
            _LIVE_GROUPS.discard(self.proc.pid)
            self._output.join(timeout=5)
            self._output.stream.close()
            for fd in (self._cmd_w, self._res_r):
                os.close(fd)

    def close(self) -> None:
        """Ask the worker to stop, give it a moment to flush its output, then make sure."""
        try:
            if not self._dead:
                self._send(("bye",), time.monotonic() + 1.0, "stopping")
                self.proc.ended(timeout=CLOSE_SECONDS)
        except WorkerDied:
            pass
        finally:
            self._stop()

    def output(self) -> str:
        """What the worker printed so far (capped)."""
        return self._output.text()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- proxies
    def function(self, dotted: str) -> Remote:
        """A callable proxy for ``module.qualname``, e.g. ``bpkit.models.TwoLayerNet``."""
        module, _, qualname = _split_dotted(dotted)
        return Remote(self, None, (), ("fn", module, qualname), qualname)

    def put(self, value: object, label: str = "value") -> Remote:
        """Send a plain value and keep it in the worker; return its proxy."""
        what = f"sending {label}"
        return Remote(self, self.handle(self.request(("put", value), what), what), (), None, label)

    def handle(self, value: object, what: str) -> int:
        """``value`` if it is a handle the worker could have made, else stop the worker."""
        if type(value) is not int or not 0 < value < 2**32:
            self._stop()
            raise WorkerDied(f"the worker sent a malformed reply during {what}; stopped it")
        return value

    def import_module(self, module: str) -> None:
        """Import a module of the submission (this runs its top-level code)."""
        self.request(("import", module), f"importing {exercises.MODULE_FILES.get(module, module)}")


def _is_layer_call(reply: object) -> bool:
    return type(reply) is tuple and len(reply) == 4 and reply[0] == "layer"


def start_server(runtime_dir: Path, paths: dict) -> ForkServer:
    """The run's fork server, with the workers' whole environment: nothing of the grader's.

    Each worker sets ``HOME`` and ``TMPDIR`` to its own folder.
    """
    return ForkServer(runtime_dir, paths["numpy_site"], _environment(runtime_dir), _LIVE_GROUPS)


def _environment(folder: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(folder),
        "TMPDIR": str(folder),
        "LANG": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def clip(text: str, most: int = MAX_TEXT) -> str:
    """``text`` cut to ``most`` characters, saying so."""
    return text if len(text) <= most else text[:most] + f" [... {len(text) - most} more characters]"


def _split_dotted(dotted: str) -> tuple[str, str, str]:
    # The module part is lowercase by convention here: bpkit.models.TwoLayerNet.loss.
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        if part[:1].isupper() or i == len(parts) - 1:
            return ".".join(parts[:i]), ".", ".".join(parts[i:])
    raise ValueError(f"dotted: expected 'module.name', got {dotted!r}")


class Remote:
    """A value held in the worker, or a function of the submission to call there."""

    def __init__(self, worker: Worker, handle, path: tuple, func, label: str):
        self.worker, self.handle, self.path = worker, handle, path
        self.func, self.label = func, label

    def ref(self) -> wire.Ref:
        if self.handle is None:
            raise TypeError(f"{self.label} is a function of the submission, not a value")
        return wire.Ref(self.handle, self.path)

    def __getitem__(self, key) -> Remote:
        return Remote(self.worker, self.handle, self.path + (key,), None, f"{self.label}[{key!r}]")

    def attr(self, name: str) -> Remote:
        label = f"{self.label}.{name}"
        return Remote(self.worker, self.handle, self.path + (wire.Attr(name),), None, label)

    def get(self) -> object:
        """Fetch the value as plain data (raises StudentError if it is not plain data)."""
        return self.worker.request(("get", self.ref(), self.label), f"reading {self.label}")

    def set(self, name: str, value: object) -> None:
        self.worker.request(("set", self.ref(), name, _refs(value)), f"setting {self.label}.{name}")

    def __call__(self, *args, **kwargs) -> Remote:
        func = self.func if self.func is not None else self.ref()
        what = f"{self.label}()"
        reply = self.worker.request(("call", func, _refs(list(args)), _refs(kwargs)), what)
        handle = self.worker.handle(reply, what)
        return Remote(self.worker, handle, (), None, f"{self.label}()")


def _refs(value: object) -> object:
    if isinstance(value, Remote):
        return value.ref()
    if type(value) in (list, tuple):
        return type(value)(_refs(v) for v in value)
    if type(value) is dict:
        return {k: _refs(v) for k, v in value.items()}
    return value


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "it did not exit"
    if code >= 0:
        return f"exit status {code} (sys.exit or os._exit in the submission?)"
    sig = -code
    if sig == signal.SIGXCPU or sig == signal.SIGKILL:
        return f"killed by signal {signal.Signals(sig).name} (CPU time limit or out of memory?)"
    try:
        return f"killed by signal {signal.Signals(sig).name}"
    except ValueError:
        return f"killed by signal {sig}"
