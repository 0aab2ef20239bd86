"""Hostile submissions: an honest edition plus one small edit that tries to beat the grader.

Every attack is written so that, if the grader's isolation failed, the submission would
score *more* than its stubs (it falls back to the honest answer, or to the reference code it
managed to read) -- so a test comparing with the stubs catches the failure -- while staying
harmless to the machine: forks are bounded and reaped, memory is reserved but barely
touched, files are written only under a temporary ``CANARY_DIR``, signals go only to the
grader process under test.

Placeholders replaced before use: ``CANARY_DIR`` (must stay empty), ``REPO_DIR`` (the
instructor's checkout), ``RESULTS_PATH`` (the results.json the grader writes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import grading_fixtures as fx
from bpkit.assignments.student import exercises

LAYERS, MODELS, OPTIM = (exercises.get(n).path for n in ("affine", "two_layer_net", "sgd"))
OPTIM_EXERCISES = ("sgd", "sgd_momentum", "rmsprop", "adam")
ALL_EXERCISES = tuple(ex.name for ex in exercises.EXERCISES)


@dataclass(frozen=True)
class Hostile:
    """One attack: code appended to ``module`` of an honest (or stub) hand-in.

    ``affected`` are the exercises it may cost; every other exercise must keep full marks.
    """

    name: str
    module: str
    code: str
    affected: tuple[str, ...]
    base: str = "honest"
    extra: dict[str, str] = field(default_factory=dict)


def _before_sgd(body: str) -> str:
    """Redefine ``sgd`` to run ``body`` first, then answer honestly."""
    lines = "\n".join("    " + line for line in body.strip("\n").splitlines())
    head = "_honest_sgd = sgd\n\n\ndef sgd(*args, **kwargs):\n"
    return f"{head}{lines}\n    return _honest_sgd(*args, **kwargs)\n"


def _wrap_conv(wrapper: str) -> str:
    return f"_honest_conv = conv_forward_naive\n\n\n{wrapper.strip()}\n"


CANARY = 'open(r"CANARY_DIR/{}", "w").write("this code ran")\n'

ATTACKS = [
    Hostile("sys.exit at import", OPTIM, "import sys as _sys\n_sys.exit(0)", OPTIM_EXERCISES),
    Hostile("os._exit at import", OPTIM, "import os as _os\n_os._exit(0)", OPTIM_EXERCISES),
    Hostile("sys.exit in a function", OPTIM, _before_sgd("import sys\nsys.exit(0)"), ("sgd",)),
    Hostile("os._exit in a function", OPTIM, _before_sgd("import os\nos._exit(0)"), ("sgd",)),
    Hostile("infinite loop", OPTIM, _before_sgd("while True:\n    pass"), ("sgd",)),
    Hostile(
        "sleep past the deadline", OPTIM, _before_sgd("import time\ntime.sleep(3600)"), ("sgd",)
    ),
    Hostile(
        "allocate 50 GB",
        OPTIM,
        # Reserved, then one byte per MiB touched: 200 MB of real memory at most.
        _before_sgd(
            "import numpy\nbig = numpy.empty(50 * 2**30, dtype=numpy.uint8)\nbig[:: 2**20] = 1"
        ),
        ("sgd",),
    ),
    Hostile(
        "fork in a loop",
        OPTIM,
        _before_sgd(
            "import os, subprocess\n"
            "for _ in range(4):\n"
            "    pid = os.fork()\n"
            "    if pid == 0:\n"
            "        os._exit(0)\n"
            "    os.waitpid(pid, 0)\n"
            'subprocess.run(["true"], check=True)'
        ),
        ("sgd",),
    ),
    Hostile(
        "fill the disk with files",
        OPTIM,
        _before_sgd(
            "import os, time\n"
            "os.makedirs('junk', exist_ok=True)\n"
            "for i in range(12000):\n"
            "    open(f'junk/{i}', 'w').close()\n"
            "time.sleep(3600)"
        ),
        ("sgd",),
    ),
    Hostile(
        "print 100 MB",
        OPTIM,
        _before_sgd(
            "import sys\n"
            "for _ in range(100):\n"
            '    sys.stdout.write("x" * 2**20)\n'
            'raise NotImplementedError("printed 100 MB")'
        ),
        ("sgd",),
    ),
    Hostile(
        "alarm and signal tampering",
        OPTIM,
        "import signal as _signal\n"
        "_signal.signal(_signal.SIGALRM, _signal.SIG_IGN)\n"
        "_signal.signal(_signal.SIGTERM, _signal.SIG_IGN)\n"
        "_signal.signal(_signal.SIGINT, _signal.SIG_IGN)\n"
        "_signal.alarm(0)\n"
        + _before_sgd("import signal, time\nsignal.alarm(0)\ntime.sleep(3600)"),
        ("sgd",),
    ),
    Hostile(
        "monkeypatched numpy and numpy.testing",
        LAYERS,
        "import numpy.testing as _npt\n"
        "np.allclose = lambda *a, **k: True\n"
        "np.array_equal = lambda *a, **k: True\n"
        "_npt.assert_allclose = lambda *a, **k: None\n"
        "_npt.assert_array_equal = lambda *a, **k: None\n"
        + _wrap_conv(
            "def conv_forward_naive(x, w, b, conv_param):\n"
            "    out, cache = _honest_conv(x, w, b, conv_param)\n"
            "    return out * 0, cache"
        ),
        ("conv_forward",),
    ),
    Hostile(
        "monkeypatched bpkit and pytest",
        LAYERS,
        "import bpkit.gradcheck as _gc\n"
        "_gc.rel_error = lambda *a, **k: 0.0\n"
        "for _name in ('pytest', 'bpkit.assignments.grading.checks',\n"
        "              'bpkit.assignments.grading.grade'):\n"
        "    try:\n"
        "        _mod = __import__(_name, fromlist=['x'])\n"
        "        _mod.approx = lambda *a, **k: a[0] if a else None\n"
        "        _mod.close = lambda *a, **k: None\n"
        "    except ImportError:\n"
        "        pass\n"
        + _wrap_conv(
            "def conv_forward_naive(x, w, b, conv_param):\n"
            "    out, cache = _honest_conv(x, w, b, conv_param)\n"
            "    return out + 1.0, cache"
        ),
        ("conv_forward",),
    ),
    Hostile(
        "conftest, numpy, pytest and sitecustomize files",
        OPTIM,
        "",
        ALL_EXERCISES,
        base="stub",
        extra={
            "conftest.py": CANARY.format("conftest"),
            "numpy.py": CANARY.format("numpy"),
            "pytest.py": CANARY.format("pytest"),
            "sitecustomize.py": CANARY.format("sitecustomize"),
            "usercustomize.py": CANARY.format("usercustomize"),
            "evil.pth": "import os; " + CANARY.format("pth"),
            "bpkit/numpy.py": CANARY.format("bpkit-numpy"),
            "bpkit/sitecustomize.py": CANARY.format("bpkit-sitecustomize"),
            "bpkit/conftest.py": CANARY.format("bpkit-conftest"),
        },
    ),
    Hostile(
        "ndarray subclass with a lying __eq__ around the right values",
        LAYERS,
        "class _Liar(np.ndarray):\n"
        "    def __eq__(self, other):\n"
        "        return np.ones(self.shape, dtype=bool)\n"
        "    def __sub__(self, other):\n"
        "        return np.zeros(self.shape)\n\n\n"
        + _wrap_conv(
            "def conv_forward_naive(x, w, b, conv_param):\n"
            "    out, cache = _honest_conv(x, w, b, conv_param)\n"
            "    return out.view(_Liar), cache"
        ),
        ("conv_forward",),
    ),
    Hostile(
        "float subclass with a lying __eq__ around the right loss",
        LAYERS,
        "class _LiarFloat(float):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    __hash__ = float.__hash__\n\n\n"
        "_honest_softmax = softmax_loss\n\n\n"
        "def softmax_loss(x, y):\n"
        "    loss, dx = _honest_softmax(x, y)\n"
        "    return _LiarFloat(loss), dx\n",
        ("softmax_loss",),
    ),
    Hostile(
        "objects with __array__ and __float__ around the right values",
        OPTIM,
        "class _Wrapped:\n"
        "    def __init__(self, value):\n"
        "        self.value = value\n"
        "    def __array__(self, dtype=None, copy=None):\n"
        "        return np.asarray(self.value, dtype=dtype)\n"
        "    def __float__(self):\n"
        "        return float(np.sum(self.value))\n"
        "    def __eq__(self, other):\n"
        "        return True\n\n\n"
        "_honest_sgd = sgd\n\n\n"
        "def sgd(w, dw, config=None):\n"
        "    next_w, config = _honest_sgd(w, dw, config)\n"
        "    return _Wrapped(next_w), config\n",
        ("sgd",),
    ),
    Hostile(
        "exception whose __str__ raises",
        OPTIM,
        "class _Nasty(Exception):\n"
        "    def __str__(self):\n"
        "        raise RuntimeError('no message for you')\n"
        "    def __repr__(self):\n"
        "        raise RuntimeError('no repr either')\n\n\n" + _before_sgd("raise _Nasty()"),
        ("sgd",),
    ),
    Hostile(
        "read the instructor's sources",
        OPTIM,
        "_honest_sgd = sgd\n\n\n"
        "def sgd(*args, **kwargs):\n"
        "    import os\n"
        "    os.listdir(os.path.join(os.getcwd(), '..'))\n"
        "    open(r'REPO_DIR/bpkit/assignments/grading/checks/__init__.py').read()\n"
        "    source = open(r'REPO_DIR/bpkit/optim.py').read()\n"
        "    namespace = {}\n"
        "    exec(compile(source, 'reference', 'exec'), namespace)\n"
        "    return namespace['sgd'](*args, **kwargs)\n",
        ALL_EXERCISES,
        base="stub",
    ),
    Hostile(
        "a syntax error in one module",
        OPTIM,
        "def sgd(w, dw, config=None:\n    return w",
        OPTIM_EXERCISES,
    ),
    Hostile("a deleted function", OPTIM, "del sgd", ("sgd",)),
    Hostile(
        "read the expected value from the caller's frames",
        OPTIM,
        "_honest_sgd = sgd\n\n\n"
        "def sgd(w, dw, config=None):\n"
        "    import sys\n"
        "    frame = sys._getframe(1)\n"
        "    while frame is not None:\n"
        "        for key in ('expected', 'ours', 'reference'):\n"
        "            if key in frame.f_locals:\n"
        "                return frame.f_locals[key], config or {}\n"
        "        frame = frame.f_back\n"
        "    return w, config or {}\n",
        ("sgd",),
    ),
    Hostile(
        "kill the grader",
        OPTIM,
        _before_sgd("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"),
        ("sgd",),
    ),
    Hostile(
        "a malformed wire reply written at import",
        OPTIM,
        # An array header of shape (0, 2**63) on the reply descriptor (argv[2] of the
        # worker), read by the grader as the answer to its import request.
        "import os as _os, struct as _struct, sys as _sys\n"
        "_payload = b'A' + _struct.pack('<B3sB2Q', 3, b'<f8', 2, 0, 2**63)\n"
        "_os.write(int(_sys.argv[2]), _struct.pack('<Q', len(_payload)) + _payload)\n",
        OPTIM_EXERCISES,
    ),
    Hostile(
        "folders created and deleted while the disk is watched",
        OPTIM,
        # Until the deadline, at import: the grader walks the copy about once a second
        # and each walk likely meets a folder that vanished between listing and reading.
        "import os as _os, shutil as _shutil\n"
        "while True:\n"
        "    for _i in range(500):\n"
        "        _os.makedirs(f'churn/{_i}/a', exist_ok=True)\n"
        "    _shutil.rmtree('churn', ignore_errors=True)\n",
        OPTIM_EXERCISES,
    ),
    Hostile(
        "forge the worker's replies",
        OPTIM,
        "import sys as _sys\n"
        "for _name, _mod in list(_sys.modules.items()):\n"
        "    if _name.endswith('worker') and hasattr(_mod, '_Server'):\n"
        "        _wire = _sys.modules[_name.rsplit('.', 1)[0] + '.wire']\n"
        "        _mod._Server.answer = lambda self, request: _wire.encode(('ok', 1.0))\n",
        OPTIM_EXERCISES,
    ),
]


# Attacks on the grader's limits. Disk space is taken by writing 60 MiB at a time; forged
# replies go straight to the reply descriptor (argv[2] of the worker); an attempt that the
# sandbox should refuse answers honestly if it is allowed, so that a hole scores more than
# the stubs; nothing is ever signalled, and a priority or scheduling setting is only ever
# written back unchanged.
_RESERVE = (
    "def _reserve(name):\n"
    "    import os\n"
    "    fd = os.open(name, os.O_CREAT | os.O_RDWR, 0o600)\n"
    "    os.write(fd, bytes(60 * 2**20))\n"
    "    return fd\n\n\n"
)
_FORGE = (
    "def _forge(payload):\n"
    "    import os, struct, sys\n"
    "    os.write(int(sys.argv[2]), struct.pack('<Q', len(payload)) + payload)\n\n\n"
)
_ALL_REFUSED = (
    "blocked = []\n"
    "for attempt in attempts:\n"
    "    try:\n"
    "        attempt()\n"
    "    except PermissionError:\n"
    "        blocked.append(attempt)\n"
    "if len(blocked) == len(attempts):\n"
    "    raise PermissionError(f'all {len(attempts)} attempts refused')"
)
LIMIT_ATTACKS = [
    Hostile(
        "fast disk writes",
        OPTIM,
        # 5 x 60 MiB in one quick call: each file under the 64 MiB file limit, together
        # over the 256 MiB disk limit; the check after the reply sees it at the latest.
        _RESERVE + _before_sgd("import os\nfor i in range(5):\n    os.close(_reserve(f'big{i}'))"),
        ("sgd",),
    ),
    Hostile(
        "deleted files held open",
        OPTIM,
        _RESERVE
        + "_held = []\n\n\n"
        + _before_sgd(
            "import os\nfor i in range(5):\n    _held.append(_reserve(f'gone{i}'))\n"
            "    os.unlink(f'gone{i}')"
        ),
        ("sgd",),
    ),
    Hostile(
        "a forged huge reply",
        OPTIM,
        # Announces 200 MiB: refused from the header (a grader reading it would wait).
        _before_sgd(
            "import os, struct, sys\nos.write(int(sys.argv[2]), struct.pack('<Q', 200 * 2**20))"
        ),
        ("sgd",),
    ),
    Hostile(
        "a forged huge error reply",
        OPTIM,
        # An error reply with 4 MB texts, past the worker's own clipping.
        _FORGE
        + _before_sgd(
            "import struct\n"
            "text = b'x' * 4_000_000\n"
            "part = b'S' + struct.pack('<I', len(text)) + text\n"
            "head = b'U\\x04\\x00\\x00\\x00S\\x06\\x00\\x00\\x00raised'\n"
            "_forge(head + b'S\\x0b\\x00\\x00\\x00ForgedError' + part * 2)"
        ),
        ("sgd",),
    ),
    Hostile(
        "a deeply nested reply",
        OPTIM,
        _FORGE + _before_sgd("_forge(b'L\\x01\\x00\\x00\\x00' * 100_000 + b'N')"),
        ("sgd",),
    ),
    Hostile(
        "F_SETOWN and F_SETSIG",
        OPTIM,
        _before_sgd(
            "import fcntl, os, signal, struct\n"
            "r, w = os.pipe()\n"
            "parent = os.getppid()\n"
            "attempts = [\n"
            "    lambda: fcntl.fcntl(r, fcntl.F_SETOWN, parent),\n"
            "    lambda: fcntl.fcntl(r, 15, struct.pack('ii', 1, parent)),  # F_SETOWN_EX\n"
            "    lambda: fcntl.fcntl(r, 10, signal.SIGKILL),  # F_SETSIG\n"
            "    lambda: fcntl.ioctl(r, 0x8901, struct.pack('i', parent)),  # FIOSETOWN\n"
            "]\n" + _ALL_REFUSED
        ),
        ("sgd",),
    ),
    Hostile(
        "setpriority on the grader",
        OPTIM,
        _before_sgd(
            "import os\n"
            "parent = os.getppid()\n"
            "nice = os.getpriority(os.PRIO_PROCESS, parent)\n"
            "attempts = [\n"
            "    lambda: os.setpriority(os.PRIO_PROCESS, parent, nice),\n"
            "    lambda: os.setpriority(os.PRIO_PGRP, 4_000_000, 19),\n"
            "    lambda: os.setpriority(os.PRIO_USER, 4_000_000, 19),\n"
            "]\n" + _ALL_REFUSED
        ),
        ("sgd",),
    ),
    Hostile(
        "sched_* on the grader",
        OPTIM,
        _before_sgd(
            "import ctypes, os\n"
            "parent = os.getppid()\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "policy, param = os.sched_getscheduler(parent), os.sched_getparam(parent)\n"
            "cpus, ioprio = os.sched_getaffinity(parent), libc.syscall(252, 1, parent)\n\n"
            "def syscall(*args):\n"
            "    if libc.syscall(*args) < 0:\n"
            "        raise OSError(ctypes.get_errno(), 'refused')\n\n"
            "attempts = [\n"
            "    lambda: os.sched_setaffinity(parent, cpus),\n"
            "    lambda: os.sched_setscheduler(parent, policy, param),\n"
            "    lambda: os.sched_setparam(parent, param),\n"
            "    lambda: syscall(314, 4_000_000, ctypes.create_string_buffer(56), 0),  # setattr\n"
            "    lambda: syscall(251, 1, parent, ioprio),  # ioprio_set\n"
            "]\n" + _ALL_REFUSED
        ),
        ("sgd",),
    ),
]
ATTACKS += LIMIT_ATTACKS

FORGE_RESULTS = Hostile(
    "write results.json and files elsewhere",
    OPTIM,
    "import atexit as _atexit, json as _json\n\n\n"
    "def _forge():\n"
    "    for path in (r'RESULTS_PATH', r'CANARY_DIR/written'):\n"
    "        try:\n"
    "            with open(path, 'w') as fh:\n"
    "                _json.dump({'score': 100, 'tests': []}, fh)\n"
    "        except OSError:\n"
    "            pass\n\n\n"
    "_forge()\n"
    "_atexit.register(_forge)\n",
    ALL_EXERCISES,
    base="stub",
)


def slug(name: str) -> str:
    """An attack's name as a submission folder name (and CSV row)."""
    return re.sub(r"\W+", "-", name).strip("-")


def build(attack: Hostile, editions: dict, root: Path, canary: Path, results: Path) -> Path:
    """The submission folder of one attack, placeholders filled in."""
    dest = fx.copy_submission(editions[attack.base], root / slug(attack.name))

    def fill(text: str) -> str:
        for token, value in (
            ("CANARY_DIR", canary),
            ("REPO_DIR", fx.REPO),
            ("RESULTS_PATH", results),
        ):
            text = text.replace(token, str(value))
        return text

    if attack.code:
        fx.append(dest / attack.module, fill(attack.code))
    for rel, text in attack.extra.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(fill(text))
    return dest


def batch(editions: dict, root: Path) -> tuple[list[Path], Path]:
    """The honest edition, the bare stubs and every attack as submissions under ``root``.

    Returns the submission folders and the canary folder, which must stay empty.
    """
    canary = root / "canary"
    canary.mkdir(parents=True)
    subs = [fx.copy_submission(editions["honest"], root / "honest")]
    subs.append(fx.copy_submission(editions["stub"], root / "stubs"))
    subs += [build(a, editions, root, canary, root / "nowhere.json") for a in ATTACKS]
    return subs, canary
