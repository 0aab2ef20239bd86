"""The fast conv and pool layers against their naive twins: same numbers, same contract.

Hypothesis draws geometries (strides, pads, overlapping and gapped pooling windows) and
every result is compared with the naive loops in float64. The rest of the contract is
checked one property at a time: dtypes, x left alone, validation errors, caches usable
by either backward, and results that later calls never overwrite (the fast layers keep
scratch buffers between calls, so that last one matters).
"""

from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given
from strategies import conv_cases, pool_cases

from bpkit import _scratch, fast_layers
from bpkit.fast_layers import (
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from bpkit.gradcheck import rel_error
from bpkit.layers import (
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
)

TOL = 1e-9  # float64, fast vs naive


MODES = ["inline", "threads"]


@contextmanager
def threading_mode(mode):
    """Inline as usual, or ("threads") the work split over 3 threads even when tiny."""
    saved = _scratch.MIN_PART, _scratch._threads
    if mode == "threads":
        _scratch.MIN_PART, _scratch._threads = 1, 3
    try:
        yield
    finally:
        _scratch.MIN_PART, _scratch._threads = saved


@pytest.mark.parametrize("mode", MODES)
@given(case=conv_cases())
def test_conv_matches_naive(case, mode):
    x, w, b, param, dout = case
    out_naive, cache_naive = conv_forward_naive(x, w, b, param)
    with threading_mode(mode):
        out, cache = conv_forward_fast(x, w, b, param)
        grads = conv_backward_fast(dout, cache)
    label = f"x {x.shape}, w {w.shape}, {param}, {mode}"
    assert out.shape == out_naive.shape, label
    assert rel_error(out, out_naive) < TOL, label
    for name, got, want in zip(
        ("dx", "dw", "db"), grads, conv_backward_naive(dout, cache_naive), strict=True
    ):
        assert got.shape == want.shape, f"{name}: {label}"
        assert rel_error(got, want) < TOL, f"{name}: {label}"


@pytest.mark.parametrize("mode", MODES)
@given(case=pool_cases())
def test_max_pool_matches_naive(case, mode):
    x, param, dout = case
    out_naive, cache_naive = max_pool_forward_naive(x, param)
    with threading_mode(mode):
        out, cache = max_pool_forward_fast(x, param)
        dx = max_pool_backward_fast(dout, cache)
    label = f"x {x.shape}, {param}, {mode}"
    assert out.shape == out_naive.shape and rel_error(out, out_naive) < TOL, label
    assert dx.shape == x.shape and rel_error(dx, max_pool_backward_naive(dout, cache_naive)) < TOL


@given(case=pool_cases(ties=True))
def test_max_pool_ties_go_to_the_first_maximum_like_naive(case):
    x, param, dout = case
    dx = max_pool_backward_fast(dout, max_pool_forward_fast(x, param)[1])
    dx_naive = max_pool_backward_naive(dout, max_pool_forward_naive(x, param)[1])
    assert rel_error(dx, dx_naive) < TOL, f"x {x.shape}, {param}"


def test_max_pool_tie_in_one_window_goes_to_its_top_left_maximum():
    x = np.array([[[[1.0, 5.0], [5.0, 5.0]]]])
    dx = max_pool_backward_fast(np.array([[[[2.0]]]]), max_pool_forward_fast(x, _pool(2, 2, 2))[1])
    np.testing.assert_array_equal(dx, [[[[0.0, 2.0], [0.0, 0.0]]]])


def _pool(ph, pw, stride):
    return {"pool_height": ph, "pool_width": pw, "stride": stride}


def _conv_problem(dtype=np.float64, seed=0, shape=(4, 3, 9, 9), filters=(5, 3, 3, 3)):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal(filters).astype(dtype)
    b = rng.standard_normal(filters[0]).astype(dtype)
    return x, w, b, {"stride": 2, "pad": 1}


@pytest.mark.parametrize("layer", ["conv", "pool"])
def test_float32_stays_float32_and_close_to_float64(layer):
    x, w, b, param = _conv_problem(np.float32)
    if layer == "conv":
        out, cache = conv_forward_fast(x, w, b, param)
        grads = conv_backward_fast(np.ones_like(out), cache)
        out64, cache64 = conv_forward_naive(*(a.astype(np.float64) for a in (x, w, b)), param)
        grads64 = conv_backward_naive(np.ones(out.shape), cache64)
    else:
        out, cache = max_pool_forward_fast(x, _pool(3, 3, 2))
        grads = (max_pool_backward_fast(np.ones_like(out), cache),)
        out64, cache64 = max_pool_forward_naive(x.astype(np.float64), _pool(3, 3, 2))
        grads64 = (max_pool_backward_naive(np.ones(out.shape), cache64),)
    assert out.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
    assert rel_error(out, out64) < 1e-5
    assert all(rel_error(g, g64) < 1e-5 for g, g64 in zip(grads, grads64, strict=True))


def test_mixed_dtypes_follow_the_naive_conventions():
    x, w, b, param = _conv_problem(np.float32)
    w, dout_dtype = w.astype(np.float64), np.float64
    out, cache = conv_forward_fast(x, w, b, param)
    out_n, cache_n = conv_forward_naive(x, w, b, param)
    dout = np.ones(out.shape, dtype=dout_dtype)
    got = [a.dtype for a in (out, *conv_backward_fast(dout, cache))]
    want = [a.dtype for a in (out_n, *conv_backward_naive(dout, cache_n))]
    assert got == want


@pytest.mark.parametrize("pad", [0, 1])
def test_x_is_left_unchanged_even_when_it_is_a_strided_view(pad):
    x, w, b, _ = _conv_problem()
    param = {"stride": 2, "pad": pad}
    f_major = x.transpose(1, 0, 2, 3).copy().transpose(1, 0, 2, 3)
    for view in (x, f_major, x[:, :, ::-1, ::-1], x.transpose(0, 1, 3, 2)):
        before = view.copy()
        out, cache = conv_forward_fast(view, w, b, param)
        dout = np.ones_like(out)
        grads = conv_backward_fast(dout, cache)
        want = conv_backward_naive(dout, conv_forward_naive(before, w, b, param)[1])
        assert all(rel_error(g, v) < TOL for g, v in zip(grads, want, strict=True))
        out, cache = max_pool_forward_fast(view, _pool(3, 3, 2))
        max_pool_backward_fast(np.ones_like(out), cache)
        np.testing.assert_array_equal(view, before)
        assert rel_error(out, max_pool_forward_naive(before, _pool(3, 3, 2))[0]) < TOL


def _error_of(fn, *args):
    with pytest.raises((ValueError, TypeError, KeyError)) as info:
        fn(*args)
    return type(info.value), str(info.value)


_X = np.zeros((2, 3, 8, 8))
_W = np.zeros((4, 3, 3, 3))
_B = np.zeros(4)
BAD_CONV = {
    "x 3-d": (_X[0], _W, _B, {"stride": 1, "pad": 1}),
    "int x": (_X.astype(int), _W, _B, {"stride": 1, "pad": 1}),
    "x not an array": (_X.tolist(), _W, _B, {"stride": 1, "pad": 1}),
    "channels differ": (_X, _W[:, :2], _B, {"stride": 1, "pad": 1}),
    "b too long": (_X, _W, np.zeros(5), {"stride": 1, "pad": 1}),
    "stride 0": (_X, _W, _B, {"stride": 0, "pad": 1}),
    "stride does not fit": (_X, _W, _B, {"stride": 2, "pad": 1}),
    "pad missing": (_X, _W, _B, {"stride": 1}),
    "pad negative": (_X, _W, _B, {"stride": 1, "pad": -1}),
    "filter larger than input": (_X, np.zeros((4, 3, 11, 3)), _B, {"stride": 1, "pad": 1}),
}
BAD_POOL = {
    "x 2-d": (_X[0, 0], _pool(2, 2, 2)),
    "window does not fit": (_X, _pool(3, 3, 2)),
    "stride float": (_X, {"pool_height": 2, "pool_width": 2, "stride": 2.0}),
    "key missing": (_X, {"pool_height": 2, "stride": 2}),
    "not a dict": (_X, [2, 2, 2]),
}


@pytest.mark.parametrize("args", BAD_CONV.values(), ids=BAD_CONV.keys())
def test_conv_rejects_bad_input_like_naive(args):
    assert _error_of(conv_forward_fast, *args) == _error_of(conv_forward_naive, *args)


@pytest.mark.parametrize("args", BAD_POOL.values(), ids=BAD_POOL.keys())
def test_pool_rejects_bad_input_like_naive(args):
    assert _error_of(max_pool_forward_fast, *args) == _error_of(max_pool_forward_naive, *args)


def test_backward_rejects_a_dout_of_the_wrong_shape_naming_it():
    x, w, b, param = _conv_problem()
    out, cache = conv_forward_fast(x, w, b, param)
    with pytest.raises(
        ValueError, match=r"dout\.shape.*expected \(4, 5, 5, 5\), got \(4, 5, 5, 4\)"
    ):
        conv_backward_fast(out[..., :4], cache)
    out, cache = max_pool_forward_fast(x, _pool(3, 3, 2))
    with pytest.raises(ValueError, match=r"dout\.shape"):
        max_pool_backward_fast(out[:1], cache)


def test_caches_work_across_naive_and_fast():
    x, w, b, param = _conv_problem()
    out, cache = conv_forward_fast(x, w, b, param)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    want = conv_backward_naive(dout, conv_forward_naive(x, w, b, param)[1])
    for got in (conv_backward_naive(dout, cache), conv_backward_fast(dout, cache)):
        assert all(rel_error(g, v) < TOL for g, v in zip(got, want, strict=True))
    assert all(
        rel_error(g, v) < TOL
        for g, v in zip(
            conv_backward_fast(dout, conv_forward_naive(x, w, b, param)[1]), want, strict=True
        )
    )
    out, cache = max_pool_forward_fast(x, _pool(2, 2, 1))
    dout = np.random.default_rng(2).standard_normal(out.shape)
    want = max_pool_backward_naive(dout, max_pool_forward_naive(x, _pool(2, 2, 1))[1])
    assert rel_error(max_pool_backward_naive(dout, cache), want) < TOL
    assert rel_error(max_pool_backward_fast(dout, cache), want) < TOL


@pytest.mark.parametrize("mode", MODES)
def test_results_are_never_overwritten_by_later_calls(mode):
    with threading_mode(mode):
        _check_results_are_never_overwritten()


def _check_results_are_never_overwritten():
    problems = [_conv_problem(seed=s, shape=(4, 3, 9, 9)) for s in (0, 1)]
    outs, caches, grads = [], [], []
    for x, w, b, param in problems:  # same shapes: the same scratch buffers
        out, cache = conv_forward_fast(x, w, b, param)
        outs.append(out)
        caches.append(cache)
    snapshot = [o.copy() for o in outs]
    for out, cache in zip(
        outs[::-1], caches[::-1], strict=True
    ):  # backward in reverse, as a net does
        grads.append(conv_backward_fast(np.ones_like(out), cache))
    grads_snapshot = [[g.copy() for g in gs] for gs in grads]
    pooled = [max_pool_forward_fast(x, _pool(2, 2, 1)) for x, *_ in problems]
    pooled_snapshot = [p.copy() for p, _ in pooled]
    conv_backward_fast(np.ones_like(outs[0]), caches[0])  # buffers reused once more
    max_pool_backward_fast(np.ones_like(pooled[0][0]), pooled[0][1])
    for got, want in zip(outs + [p for p, _ in pooled], snapshot + pooled_snapshot, strict=True):
        np.testing.assert_array_equal(got, want)
    for gs, snap in zip(grads, grads_snapshot, strict=True):
        for g, s in zip(gs, snap, strict=True):
            np.testing.assert_array_equal(g, s)
    assert not np.shares_memory(outs[0], outs[1])
    assert not np.shares_memory(grads[0][0], grads[1][0])
    # Interleaved forwards of one shape: each backward still sees its own forward.
    for (x, w, b, param), gs in zip(problems[::-1], grads, strict=True):
        want = conv_backward_naive(np.ones_like(outs[0]), conv_forward_naive(x, w, b, param)[1])
        assert all(rel_error(g, v) < TOL for g, v in zip(gs, want, strict=True))


def test_conv_backward_accepts_dout_in_any_memory_order():
    x, w, b, param = _conv_problem()
    out, cache = conv_forward_fast(x, w, b, param)
    dout = np.random.default_rng(3).standard_normal(out.shape)
    want = conv_backward_naive(dout, conv_forward_naive(x, w, b, param)[1])
    for d in (dout, np.asfortranarray(dout), dout * (out == out), dout[..., ::-1][..., ::-1]):
        assert all(
            rel_error(g, v) < TOL for g, v in zip(conv_backward_fast(d, cache), want, strict=True)
        )


def test_set_num_threads_rejects_nonsense():
    with pytest.raises(ValueError, match="expected an integer >= 1, got 0"):
        fast_layers.set_num_threads(0)


def test_clear_buffers_leaves_results_correct():
    x, w, b, param = _conv_problem()
    out, cache = conv_forward_fast(x, w, b, param)
    fast_layers.clear_buffers()
    dx, dw, db = conv_backward_fast(np.ones_like(out), cache)
    want = conv_backward_naive(np.ones(out.shape), conv_forward_naive(x, w, b, param)[1])
    assert all(rel_error(g, v) < TOL for g, v in zip((dx, dw, db), want, strict=True))


def test_convs_whose_padded_inputs_share_a_shape_keep_their_borders_zero():
    # (1, 2, 7, 5) padded by 1 and (1, 2, 5, 3) padded by 2 are both (1, 2, 9, 7).
    rng = np.random.default_rng(4)
    w = rng.standard_normal((3, 2, 3, 1))
    for shape, pad in (((1, 2, 7, 5), 1), ((1, 2, 5, 3), 2), ((1, 2, 7, 5), 1)):
        x = rng.standard_normal(shape)
        param = {"stride": 1, "pad": pad}
        got = conv_forward_fast(x, w, np.zeros(3), param)[0]
        assert rel_error(got, conv_forward_naive(x, w, np.zeros(3), param)[0]) < TOL, shape


@pytest.mark.parametrize(
    ("shape", "param"),
    [((2, 1, 2, 2), {"stride": 3, "pad": 1}), ((1, 2, 7, 7), {"stride": 3, "pad": 0})],
    ids=["windows only in padding", "pixels no window reads"],
)
def test_conv_gradient_is_zero_where_no_window_reads(shape, param):
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal(shape), rng.standard_normal((2, shape[1], 1, 1))
    out, cache = conv_forward_fast(x, w, np.zeros(2), param)
    dout = rng.standard_normal(out.shape)
    want = conv_backward_naive(dout, conv_forward_naive(x, w, np.zeros(2), param)[1])
    for got, expected in zip(conv_backward_fast(dout, cache), want, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_parallel_covers_every_item_once_and_reraises_a_worker_error():
    seen = np.zeros(1000, dtype=int)

    def mark(lo, hi):
        seen[lo:hi] += 1

    with threading_mode("threads"):
        _scratch.parallel(mark, len(seen), size=len(seen))
        np.testing.assert_array_equal(seen, 1)

        def fail(lo, hi):
            if lo > 0:
                raise RuntimeError(f"chunk {lo}:{hi} failed")

        with pytest.raises(RuntimeError, match="failed"):
            _scratch.parallel(fail, 1000, size=1000)


def test_conv_backward_adds_every_tap_that_reaches_the_whole_image():
    # A 1x1 image padded by 1 under a 1x2 filter: both taps read the one pixel.
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((2, 1, 1, 1)), rng.standard_normal((3, 1, 1, 2))
    param = {"stride": 1, "pad": 1}
    out, cache = conv_forward_fast(x, w, np.zeros(3), param)
    dout = rng.standard_normal(out.shape)
    want = conv_backward_naive(dout, conv_forward_naive(x, w, np.zeros(3), param)[1])
    assert rel_error(conv_backward_fast(dout, cache)[0], want[0]) < TOL


def test_pool_backward_ignores_changes_to_out_and_later_forwards_of_its_shape():
    rng = np.random.default_rng(7)
    x1, x2 = rng.standard_normal((2, 3, 3, 8, 8))
    param = _pool(2, 2, 2)
    out1, cache1 = max_pool_forward_fast(x1, param)
    dout = rng.standard_normal(out1.shape)
    out1 += 100.0  # the caller reuses its output in place
    max_pool_forward_fast(x2, param)  # same shape: takes the scratch buffers
    want = max_pool_backward_naive(dout, max_pool_forward_naive(x1, param)[1])
    assert rel_error(max_pool_backward_fast(dout, cache1), want) < TOL


def test_scratch_buffers_are_bounded_and_reused():
    fast_layers.clear_buffers()
    first = _scratch.buffer("t", (3, 4), np.float64)
    assert _scratch.buffer("t", (3, 4), np.float64) is first
    for k in range(_scratch.MAX_BUFFERS + 5):
        _scratch.buffer("t", (k + 1,), np.float32)
    assert len(_scratch._local.store) == _scratch.MAX_BUFFERS
    assert _scratch.buffer("t", (3, 4), np.float64) is not first  # the oldest went first
