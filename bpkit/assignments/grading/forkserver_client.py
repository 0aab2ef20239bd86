"""The grader's side of the fork server: start it once per run, have it fork each worker.

See :mod:`.runtime.forkserver` for why and how. :class:`ForkServer` is shared by the
grading threads of a run (one request at a time); :class:`Child` gives a forked worker
the part of ``subprocess.Popen``'s interface the :class:`~.worker_client.Worker` uses.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

from bpkit.assignments.grading.runtime import wire

# argv: socket fd, runtime dir, numpy's site dir, the grader's pid.
BOOT = (
    "import sys; sys.path[:0] = sys.argv[2:4]; "
    "from bpkit_grader import forkserver; forkserver.main([sys.argv[1], sys.argv[4]])"
)
# Longest wait for an interpreter to start, the server's or a worker's handshake.
STARTUP_SECONDS = 60.0
REPLY_SECONDS = 30.0
MAX_REPLY = 65536
# How often a wait asks the server whether a stopped worker has been reaped.
POLL_SECONDS = 0.002


class ForkServerFailed(Exception):
    """The fork server could not start or stopped answering: a problem of this machine."""


class ForkServer:
    """One fork server process; :meth:`fork` starts a worker, :meth:`close` ends them all.

    Parameters
    ----------
    runtime_dir : Path
        The folder holding the copied worker runtime (``bpkit_grader``).
    numpy_site : str
        The folder numpy is imported from.
    env : dict
        The server's whole environment (and so every worker's, but ``HOME`` and ``TMPDIR``,
        which each worker sets to its own folder).
    live_groups : set of int
        The caller's set of process groups to kill on a signal; the server's is added.

    The server dies with the thread that starts it (``PR_SET_PDEATHSIG``), so start it from
    the thread that runs the whole grading, as ``bpkit grade`` does. Once a request fails
    (the server died or stopped answering) the server is closed and every later request
    fails: a late reply must never answer another request.
    """

    def __init__(self, runtime_dir: Path, numpy_site: str, env: dict, live_groups: set[int]):
        self._lock = threading.Lock()
        self._broken = False
        self.runtime_dir, self.numpy_site = Path(runtime_dir), numpy_site
        self._live_groups = live_groups
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        argv = [sys.executable, "-I", "-S", "-B", "-c", BOOT, str(theirs.fileno())]
        argv += [str(runtime_dir), numpy_site, str(os.getpid())]
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                pass_fds=(theirs.fileno(),),
                cwd=runtime_dir,
                env=env,
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._sock = ours
        live_groups.add(self.proc.pid)
        self._finalizer = weakref.finalize(self, _shut, self.proc, ours, live_groups)
        try:
            reply = self._request(("hello",), what="starting", timeout=STARTUP_SECONDS)
            if reply[0] != "ready":
                raise ForkServerFailed(
                    f"the fork server did not start properly (said {reply!r:.200})"
                )
        except ForkServerFailed:
            self.close()
            raise

    def fork(self, run_dir: Path, fds: tuple[int, int, int]) -> Child:
        """A worker in ``run_dir`` whose requests, replies and output use ``fds``."""
        reply = self._request(("fork", str(run_dir)), fds, what="forking a worker")
        if reply[0] != "pid" or type(reply[1]) is not int or reply[1] <= 0:
            raise ForkServerFailed(f"the fork server did not fork a worker (said {reply!r:.200})")
        return Child(reply[1], self)

    def usable(self) -> bool:
        """Whether the server is running and every request so far was answered."""
        return not self._broken and self.proc.poll() is None

    def status(self, pid: int, reap: bool = True) -> int | None:
        """The exit status of worker ``pid`` once it has ended, else None.

        With ``reap`` false an ended worker stays a zombie, so that its process id (and
        group id) cannot be reused until the grader has killed its group.
        """
        op = "wait" if reap else "peek"
        reply = self._request((op, pid), what="waiting for a worker")
        if reply[0] != "status" or (reply[1] is not None and type(reply[1]) is not int):
            raise ForkServerFailed(f"the fork server sent {reply!r:.200} about worker {pid}")
        return reply[1]

    def _request(self, message: tuple, fds=(), what: str = "", timeout: float | None = None):
        with self._lock:
            if self._broken:
                raise ForkServerFailed(f"the fork server had already failed before {what}")
            try:
                self._sock.settimeout(REPLY_SECONDS if timeout is None else timeout)
                socket.send_fds(self._sock, [wire.encode(message)], list(fds))
                data = self._sock.recv(MAX_REPLY)
                reply = wire.decode(data) if data else None
            except (OSError, wire.WireError) as exc:
                reply, why = None, exc
            else:
                why = f"it said {reply!r:.200}"
            if type(reply) is not tuple or len(reply) != 2:
                self._broken = True
                self._sock.close()  # the server reads the end; its workers die with it
                raise ForkServerFailed(self._failure(what, why))
        return reply

    def _failure(self, what: str, why: object) -> str:
        if self.proc.poll() is None:
            return f"the fork server failed while {what}: {why}"
        try:
            printed = self.proc.stderr.read(4000).decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            printed = ""
        return f"the fork server ended (exit status {self.proc.returncode}) while {what}" + (
            f"; it printed:\n{printed}" if printed else ""
        )

    def close(self) -> None:
        """End the server; workers still running die with it."""
        self._finalizer()


def _shut(proc: subprocess.Popen, sock: socket.socket, live_groups: set[int]) -> None:
    sock.close()  # the server exits when its end reads nothing
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stderr is not None:
        proc.stderr.close()
    live_groups.discard(proc.pid)


class Child:
    """A worker forked by the server: ``pid``, ``poll()``, ``wait()``, ``returncode``."""

    def __init__(self, pid: int, server: ForkServer):
        self.pid, self._server = pid, server
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit status once the worker has ended (reaping it), else None."""
        if self.returncode is None:
            self.returncode = self._server.status(self.pid)
        return self.returncode

    def ended(self, timeout: float = 0.0) -> bool:
        """Whether the worker ends within ``timeout`` seconds; it is left unreaped."""
        end = time.monotonic() + timeout
        while self.returncode is None and self._server.status(self.pid, reap=False) is None:
            if time.monotonic() >= end:
                return False
            time.sleep(POLL_SECONDS)
        return True

    def wait(self, timeout: float | None = None) -> int:
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if end is not None and time.monotonic() >= end:
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout)
            time.sleep(POLL_SECONDS)
        return self.returncode
