"""The layers a model exercise runs on, served by the grading process.

A model exercise (``TwoLayerNet.loss``, ``ThreeLayerConvNet.loss``) is graded on its own
code: while it is graded, the worker's ``bpkit/layers.py`` and ``bpkit/layer_utils.py``
are the stand-ins of :func:`stand_ins`, whose every function sends its arguments to the
grader and waits for the result (see :func:`.runtime.worker.serve_layer`). The grader runs
the reference layer on them here, so neither a wrong nor an unfinished layer of the
submission can cost the model points, and the reference code never enters the worker.
Any other name a model imports from ``bpkit.layers`` (a helper the student added) comes
from the submission's own module, kept in the worker as :data:`SUBMITTED_LAYERS`.

Caches stay here. A forward answers ``(out, token)`` (a sandwich answers a tuple of
tokens, one per part, so a model may unpack it); a backward takes the tokens back. Tokens
live for one request of the grader (one call of ``loss``).

What a worker can make the grader compute is bounded: at most :data:`MAX_CALLS` layer
calls per request, no array above :data:`MAX_ELEMENTS` entries, and a budget of
:data:`MAX_WORK` multiply-adds per request (a convolution costs ``N F C HH WW H' W'``).
Past a bound the call raises in the student's code, which fails the check in progress.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bpkit import _validate, fast_layers, layer_utils, layers
from bpkit.assignments.grading.runtime import wire

MAX_CALLS = 500
MAX_ELEMENTS = 2**20
MAX_WORK = 2**26
# How a worker marks a token it hands back (see runtime/worker.py).
CACHE_TAG = "bpkit layer cache"


@dataclass(frozen=True)
class _Layer:
    """One served function: what runs here, the cache kinds it makes or takes."""

    run: Callable
    signature: inspect.Signature
    makes: tuple[str, ...] = ()
    takes: tuple[str, ...] = ()


def _layer(run: Callable, like: Callable | None = None, makes=(), takes=()) -> _Layer:
    return _Layer(run, inspect.signature(like or run), tuple(makes), tuple(takes))


# The naive conv and pool layers are served by the fast ones: the same values, quicker.
LAYERS: dict[str, _Layer] = {
    "affine_forward": _layer(layers.affine_forward, makes=["affine"]),
    "affine_backward": _layer(layers.affine_backward, takes=["affine"]),
    "relu_forward": _layer(layers.relu_forward, makes=["relu"]),
    "relu_backward": _layer(layers.relu_backward, takes=["relu"]),
    "softmax_loss": _layer(layers.softmax_loss),
    "svm_loss": _layer(layers.svm_loss),
    "conv_forward_naive": _layer(
        fast_layers.conv_forward_fast, layers.conv_forward_naive, makes=["conv"]
    ),
    "conv_backward_naive": _layer(
        fast_layers.conv_backward_fast, layers.conv_backward_naive, takes=["conv"]
    ),
    "max_pool_forward_naive": _layer(
        fast_layers.max_pool_forward_fast, layers.max_pool_forward_naive, makes=["pool"]
    ),
    "max_pool_backward_naive": _layer(
        fast_layers.max_pool_backward_fast, layers.max_pool_backward_naive, takes=["pool"]
    ),
}
SANDWICHES: dict[str, _Layer] = {
    "affine_relu_forward": _layer(layer_utils.affine_relu_forward, makes=["affine", "relu"]),
    "affine_relu_backward": _layer(layer_utils.affine_relu_backward, takes=["affine", "relu"]),
    "conv_relu_forward": _layer(layer_utils.conv_relu_forward, makes=["conv", "relu"]),
    "conv_relu_backward": _layer(layer_utils.conv_relu_backward, takes=["conv", "relu"]),
    "conv_relu_pool_forward": _layer(
        layer_utils.conv_relu_pool_forward, makes=["conv", "relu", "pool"]
    ),
    "conv_relu_pool_backward": _layer(
        layer_utils.conv_relu_pool_backward, takes=["conv", "relu", "pool"]
    ),
}
SERVED = {**LAYERS, **SANDWICHES}


class ServiceError(Exception):
    """A served call that cannot run; its message goes back to the student's code."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


# Where the submission's own bpkit/layers.py goes while its model is graded.
SUBMITTED_LAYERS = "bpkit/_submitted_layers.py"
# Any other name of bpkit.layers (a helper the student added) comes from the submission's
# own module, loaded only when asked for.
_FALLBACK = """

def __getattr__(name):
    import importlib

    return getattr(importlib.import_module("bpkit._submitted_layers"), name)
"""


def _stand_in(module: str, names: list[str], fallback: str = "") -> str:
    lines = [
        f'"""Stand-in for {module} while a model is graded: each function runs in the grader',
        'process, on the reference implementation; caches are tokens that the grader keeps."""',
        "",
        "import sys",
        "",
        '_serve = sys.modules["bpkit_grader.worker"].serve_layer',
    ]
    for name in names:
        lines += ["", "", f"def {name}(*args, **kwargs):"]
        lines.append(f"    return _serve({name!r}, args, kwargs)")
    return "\n".join(lines) + "\n" + fallback


def stand_ins() -> dict[str, str]:
    """The worker's ``bpkit/layers.py`` and ``bpkit/layer_utils.py`` for model grading."""
    return {
        "bpkit/layers.py": _stand_in("bpkit.layers", list(LAYERS), _FALLBACK),
        "bpkit/layer_utils.py": _stand_in("bpkit.layer_utils", list(SANDWICHES)),
    }


class LayerService:
    """Answers a worker's layer calls for one model exercise (see the module docstring)."""

    def __init__(self) -> None:
        self.caches: dict[int, tuple[str, object]] = {}
        self.calls = 0
        self.work = 0
        self.total_calls = 0

    def start_request(self) -> None:
        """Forget the caches and reset the budgets: a new request of the grader begins."""
        self.caches.clear()
        self.calls = self.work = 0

    def answer(self, name: object, args: object, kwargs: object) -> tuple:
        """The reply to one layer call: ``("ok", value)`` or ``("raised", type, message)``."""
        label = name if type(name) is str and name in SERVED else "a layer"
        try:
            return ("ok", self._run(name, args, kwargs))
        except ServiceError as exc:
            return ("raised", exc.kind, f"{label}: {exc}")
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            # The reference's own checks of its inputs (bpkit._validate), or inputs so
            # malformed that numpy refuses them: the model's code passed them.
            return ("raised", _kind(exc), f"{label}: {_text(exc)}")
        except (ArithmeticError, MemoryError) as exc:
            return ("raised", "ValueError", f"{label}: {type(exc).__name__}: {exc}")

    def _run(self, name: object, args: object, kwargs: object) -> object:
        self.calls += 1
        self.total_calls += 1
        if self.calls > MAX_CALLS:
            raise ServiceError(
                "RuntimeError", f"more than {MAX_CALLS} layer calls in one call of the model"
            )
        if type(name) is not str or name not in SERVED:
            raise ServiceError("TypeError", f"{name!r} is not a layer the grader serves")
        if type(args) is not list or type(kwargs) is not dict:
            raise ServiceError("TypeError", "malformed arguments")
        layer = SERVED[name]
        try:
            bound = layer.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise ServiceError("TypeError", str(exc)) from None
        values = list(bound.arguments.values())
        _check_sizes(values)
        if name in ("softmax_loss", "svm_loss") and values[1] is None:
            raise ServiceError(
                "TypeError",
                "y is None: loss(X) without labels must return the scores, "
                "without computing a loss",
            )
        if layer.takes:
            values[1] = self._take(values[1], layer.takes, name)
        self._charge(name, values)
        result = layer.run(*values)
        if layer.makes:
            out, cache = result
            parts = cache if len(layer.makes) > 1 else (cache,)
            pairs = zip(layer.makes, parts, strict=True)
            tokens = tuple(self._keep(kind, part) for kind, part in pairs)
            return (out, tokens if len(tokens) > 1 else tokens[0])
        return result

    def _keep(self, kind: str, cache: object) -> wire.Ref:
        token = len(self.caches) + 1
        self.caches[token] = (kind, cache)
        return wire.Ref(token)

    def _take(self, given: object, kinds: tuple[str, ...], name: str) -> object:
        """The reference cache(s) behind the tokens a backward was given."""
        forward = name.replace("backward", "forward")
        tokens = [given] if len(kinds) == 1 else given
        if type(tokens) not in (list, tuple) or len(tokens) != len(kinds):
            raise ServiceError("TypeError", f"cache: expected the cache that {forward} returned")
        caches = []
        for kind, token in zip(kinds, tokens, strict=True):
            entry = None
            if type(token) is tuple and len(token) == 2 and token[0] == CACHE_TAG:
                entry = self.caches.get(token[1]) if type(token[1]) is int else None
            if entry is None or entry[0] != kind:
                raise ServiceError(
                    "TypeError",
                    f"cache: expected the cache that {forward} returned in this call of the "
                    f"model (the {kind} part), got {_describe(token)}",
                )
            caches.append(entry[1])
        return caches[0] if len(kinds) == 1 else tuple(caches)

    def _charge(self, name: str, values: list) -> None:
        """Add this call's multiply-adds to the request's budget; refuse past it."""
        work = sum(v.size for v in values if type(v) is np.ndarray)
        forward = "_forward" in name
        if forward and name.startswith("conv"):
            n, f, h_out, w_out = _validate.conv_out_shape(values[0], values[1], values[3])
            w = values[1]
            columns = n * h_out * w_out * int(np.prod(w.shape[1:]))
            if columns > MAX_ELEMENTS:  # the fast layers unroll the windows in memory
                raise ServiceError(
                    "ValueError",
                    f"the convolution's {columns} window entries exceed the {MAX_ELEMENTS} allowed",
                )
            work += columns * f
        elif forward and name.startswith("max_pool"):
            x, pool = values
            h_out, w_out = _validate.pool_out_shape(x, pool)
            window = pool["pool_height"] * pool["pool_width"]
            work += x.shape[0] * x.shape[1] * h_out * w_out * window
        elif forward and name.startswith("affine"):
            x, w = values[0], values[1]
            if type(x) is np.ndarray and type(w) is np.ndarray and w.ndim == 2:
                work += x.size * w.shape[1]
        self.work += 2 * work  # a backward costs about as much as its forward
        if self.work > MAX_WORK:
            raise ServiceError(
                "RuntimeError",
                f"the layer calls of one call of the model exceed {MAX_WORK:.3g} "
                "multiply-adds; the grader's models are far smaller",
            )


def _check_sizes(values: list) -> None:
    stack = list(values)
    while stack:
        v = stack.pop()
        if type(v) is np.ndarray and v.size > MAX_ELEMENTS:
            raise ServiceError(
                "ValueError",
                f"an array of shape {v.shape} exceeds the {MAX_ELEMENTS} entries allowed",
            )
        if type(v) in (list, tuple):
            stack.extend(v)
        elif type(v) is dict:
            stack.extend(v.values())


def _describe(value: object) -> str:
    if type(value) is np.ndarray:
        return f"an array of shape {value.shape}"
    return f"a {type(value).__name__}"


def _kind(exc: Exception) -> str:
    return type(exc).__name__ if type(exc) in (ValueError, TypeError, KeyError) else "ValueError"


def _text(exc: Exception) -> str:
    return str(exc.args[0]) if type(exc) is KeyError and exc.args else str(exc)
