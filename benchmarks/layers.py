"""Conv and pool benchmarks: naive loops, fast layers, PyTorch's CPU kernels, the BLAS ceiling.

Every case is timed as one training pass (forward, then backward). Each library gets the
upstream gradient in the memory order of its own output: contiguous NCHW for PyTorch,
the fast conv's (F, N, H', W') order for bpkit (what an elementwise layer between them
would hand back). The BLAS ceiling is the same pass with only its matrix products: one
(F, K) x (K, P) product forward and the two of the same shape backward, so the gap to
it is what im2col, col2im and the copies cost.
"""

from __future__ import annotations

import tracemalloc

import numpy as np

from benchmarks.timing import Contender, once
from bpkit import fast_layers
from bpkit.layers import (
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
)

CONV_CASES = {
    "A": {"x": (100, 3, 31, 31), "w": (25, 3, 3, 3), "stride": 1, "pad": 1},
    "A stride 2": {"x": (100, 3, 31, 31), "w": (25, 3, 3, 3), "stride": 2, "pad": 1},
    "B": {"x": (50, 3, 32, 32), "w": (32, 3, 7, 7), "stride": 1, "pad": 3},
    "C": {"x": (64, 16, 16, 16), "w": (32, 16, 3, 3), "stride": 1, "pad": 1},
}
POOL_CASES = {
    "P1 2x2/2": {"x": (100, 3, 32, 32), "size": 2, "stride": 2},
    "P2 2x2/2": {"x": (64, 32, 16, 16), "size": 2, "stride": 2},
    "P3 3x3/1": {"x": (64, 32, 16, 16), "size": 3, "stride": 1},
}
NAIVE_CASES = ("A", "P1 2x2/2")  # the loops are slow; these cases show the speed-up


def conv_problem(case: dict, dtype, seed: int = 0):
    """Random (x, w, b, conv_param, dout) for a conv case, in ``dtype``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(case["x"]).astype(dtype)
    w = rng.standard_normal(case["w"]).astype(dtype)
    b = rng.standard_normal(case["w"][0]).astype(dtype)
    param = {"stride": case["stride"], "pad": case["pad"]}
    out, _ = fast_layers.conv_forward_fast(x, w, b, param)
    return x, w, b, param, rng.standard_normal(out.shape).astype(dtype)


def _as_fast_output(dout: np.ndarray, like: np.ndarray) -> np.ndarray:
    """dout with the values given, in the memory order of the fast layer's output ``like``."""
    arranged = np.empty_like(like)
    arranged[...] = dout
    return arranged


def conv_case(name: str, dtype, torch, naive_reps: int) -> tuple[dict, list[Contender]]:
    """One conv case in one dtype: its JSON-ready description (with the naive timing, if
    any) and the contenders to time."""
    case = CONV_CASES[name]
    x, w, b, param, dout = conv_problem(case, dtype)
    n, c, _, _ = x.shape
    f, _, hh, ww = w.shape
    h_out, w_out = dout.shape[2:]
    k, p = c * hh * ww, n * h_out * w_out
    out, _ = fast_layers.conv_forward_fast(x, w, b, param)
    dout_fast = _as_fast_output(dout, out)

    contenders = [
        Contender(
            "fast",
            lambda: fast_layers.conv_forward_fast(x, w, b, param)[1],
            lambda cache: fast_layers.conv_backward_fast(dout_fast, cache),
        )
    ]
    rng = np.random.default_rng(1)
    w_row, cols = rng.standard_normal((f, k)).astype(dtype), rng.standard_normal((k, p))
    cols, d_row = cols.astype(dtype), rng.standard_normal((f, p)).astype(dtype)
    contenders.append(
        Contender("blas", lambda: w_row @ cols, lambda _: (d_row @ cols.T, w_row.T @ d_row))
    )
    if torch is not None:
        tx, tw, tb, td = (torch.from_numpy(a) for a in (x, w, b, dout))
        s, pd = param["stride"], param["pad"]

        def torch_forward():
            with torch.no_grad():
                return torch.nn.functional.conv2d(tx, tw, tb, stride=s, padding=pd)

        def torch_backward(_):
            return torch.ops.aten.convolution_backward(
                td, tx, tw, [f], [s, s], [pd, pd], [1, 1], False, [0, 0], 1, [True] * 3
            )

        contenders.append(Contender("torch", torch_forward, torch_backward))
    result = {
        "case": name,
        "dtype": np.dtype(dtype).name,
        **{key: list(v) if isinstance(v, tuple) else v for key, v in case.items()},
        "K": k,
        "P": p,
    }
    if name in NAIVE_CASES and naive_reps:
        cache = conv_forward_naive(x, w, b, param)[1]
        result["naive"] = {
            "fwd_ms": 1e3 * once(lambda: conv_forward_naive(x, w, b, param), naive_reps),
            "bwd_ms": 1e3 * once(lambda: conv_backward_naive(dout, cache), naive_reps),
        }
    return result, contenders


def pool_case(name: str, dtype, torch, naive_reps: int) -> tuple[dict, list[Contender]]:
    """One max-pool case in one dtype: its description and the contenders to time."""
    case = POOL_CASES[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(case["x"]).astype(dtype)
    size, stride = case["size"], case["stride"]
    param = {"pool_height": size, "pool_width": size, "stride": stride}
    out, _ = fast_layers.max_pool_forward_fast(x, param)
    dout = rng.standard_normal(out.shape).astype(dtype)
    contenders = [
        Contender(
            "fast",
            lambda: fast_layers.max_pool_forward_fast(x, param)[1],
            lambda cache: fast_layers.max_pool_backward_fast(dout, cache),
        )
    ]
    if torch is not None:
        tx, td = torch.from_numpy(x), torch.from_numpy(dout)
        ops = torch.ops.aten
        contenders.append(
            Contender(
                "torch",
                # The forward a training step runs: with the argmax indices the backward uses.
                lambda: ops.max_pool2d_with_indices(tx, [size] * 2, [stride] * 2)[1],
                lambda idx: ops.max_pool2d_with_indices_backward(
                    td, tx, [size] * 2, [stride] * 2, [0, 0], [1, 1], False, idx
                ),
            )
        )
    result = {
        "case": name,
        "dtype": np.dtype(dtype).name,
        "x": list(case["x"]),
        "size": size,
        "stride": stride,
    }
    if name in NAIVE_CASES and naive_reps:
        cache = max_pool_forward_naive(x, param)[1]
        result["naive"] = {
            "fwd_ms": 1e3 * once(lambda: max_pool_forward_naive(x, param), naive_reps),
            "bwd_ms": 1e3 * once(lambda: max_pool_backward_naive(dout, cache), naive_reps),
        }
    return result, contenders


def conv_memory(name: str, dtype) -> dict:
    """Peak memory numpy allocates in one fast conv pass, against the im2col matrix's size.

    The pass starts from empty scratch buffers, so it pays for them, and the count leaves
    out only the pass's own results (out, dx, dw, db), which any implementation allocates.
    """
    x, w, b, param, dout = conv_problem(CONV_CASES[name], dtype)
    out, _ = fast_layers.conv_forward_fast(x, w, b, param)
    dout = _as_fast_output(dout, out)
    del out
    fast_layers.clear_buffers()
    tracemalloc.start()
    try:
        out, cache = fast_layers.conv_forward_fast(x, w, b, param)
        forward_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        grads = fast_layers.conv_backward_fast(dout, cache)
        backward_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    im2col = w[0].size * (out.size // w.shape[0]) * x.itemsize  # K * P entries
    forward_extra = forward_peak - out.nbytes
    pass_extra = max(forward_extra, backward_peak - out.nbytes - sum(g.nbytes for g in grads))
    return {
        "case": name,
        "dtype": np.dtype(dtype).name,
        "im2col_mb": im2col / 2**20,
        "forward_extra_mb": forward_extra / 2**20,
        "pass_extra_mb": pass_extra / 2**20,
        "ratio": pass_extra / im2col,
    }
