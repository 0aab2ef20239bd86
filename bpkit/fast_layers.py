"""Fast convolution and max pooling in pure numpy, with the naive layers' contracts.

The naive layers in :mod:`bpkit.layers` loop over output pixels in Python. These do the
same arithmetic in a few whole-array numpy calls, so the work runs in compiled loops.

* Convolution is one matrix product (im2col): a strided *view* of the padded input
  already holds every receptive field, and one copy lays them out as the columns of a
  matrix that BLAS multiplies by the filters;
* Its backward is two more products, after which the column gradients are added back
  onto the image with one vectorized ``+=`` per kernel offset (col2im);
* Max pooling takes an elementwise maximum over the ``pool_height * pool_width``
  strided sub-grids of the input, one per position inside the window.

On course-sized images these layers spend their time moving memory, not multiplying.
So the column matrix keeps the image's W axis innermost (filling it streams), large
scratch arrays are reused between calls, and copies and additions are split over
samples across threads (see :mod:`bpkit._scratch`). No scratch array is ever returned.

Shapes: N batch, C channels, H/W height/width, F filters, HH/WW filter height/width,
H'/W' output height/width, K = C * HH * WW, P = N * H' * W'.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from bpkit import _scratch, _validate

# The scratch buffers and threads are managed in bpkit._scratch; these two are public here.
clear_buffers = _scratch.clear_buffers
MAX_THREADS = 64


def set_num_threads(n: int) -> None:
    """Split the fast layers' copies and additions over at most ``n`` threads (1 to 64).

    The default is the number of cores this process may use (at most 8). BLAS products
    follow BLAS's own setting (e.g. ``OPENBLAS_NUM_THREADS``).
    """
    _scratch.set_num_threads(_validate.integer("n", n, low=1, high=MAX_THREADS))


__all__ = [
    "clear_buffers",
    "conv_backward_fast",
    "conv_forward_fast",
    "max_pool_backward_fast",
    "max_pool_forward_fast",
    "set_num_threads",
]


class _Cache(tuple):
    """A plain tuple, so the naive backward unpacks it too, with private extras attached."""


def _cache(items: tuple, **extras) -> _Cache:
    cache = _Cache(items)
    cache.__dict__.update(extras)
    return cache


def _im2col(x: np.ndarray, hh: int, ww: int, stride: int, pad: int, out_hw: tuple):
    """Lay every receptive field of x out as a column; return the (K + 1, P) Buffer.

    Row ``(c, i, j)`` holds channel c shifted by kernel offset (i, j), for every sample
    and output pixel in (N, H', W') order; the last row is all ones, for the bias.
    """
    n, c, h, wd = x.shape
    h_out, w_out = out_hw
    k = c * hh * ww
    buf = _scratch.buffer("cols", (k + 1, n * h_out * w_out), x.dtype, fill=1)
    xp = x
    if pad:
        # Keyed by pad too: another pad of the same padded shape writes a different
        # interior, which would leave data in this one's zero border.
        xp = _scratch.buffer(f"pad{pad}", (n, c, h + 2 * pad, wd + 2 * pad), x.dtype).array
    sn, sc, sh, sw = xp.strides
    # A view, not a copy: element (c, i, j, n, y, z) is xp[n, c, y*stride + i, z*stride + j].
    # Its last axis runs along an image row, so copying it out streams through memory.
    windows = as_strided(
        xp,
        shape=(c, hh, ww, n, h_out, w_out),
        strides=(sc, sh, sw, sn, stride * sh, stride * sw),
        writeable=False,
    )
    cols = buf.array[:k].reshape(windows.shape)

    def fill(lo: int, hi: int) -> None:
        if pad:
            xp[lo:hi, :, pad : pad + h, pad : pad + wd] = x[lo:hi]
        np.copyto(cols[:, :, :, lo:hi], windows[:, :, :, lo:hi])

    _scratch.parallel(fill, n, cols.size)
    return buf


def _overlap(offset: int, pad: int, stride: int, out_size: int, size: int) -> tuple:
    """Output positions [lo, hi) whose kernel tap at ``offset`` lands inside the image.

    Output position o reads padded row ``o * stride + offset``, i.e. image row
    ``o * stride + offset - pad``; the other positions read zero padding.
    """
    lo = max(0, -((offset - pad) // stride))
    hi = min(out_size, (size - 1 + pad - offset) // stride + 1)
    return lo, hi


def _col2im(dcols: np.ndarray, x_shape: tuple, hh: int, ww: int, stride: int, pad: int):
    """Add the (K, P) column gradients back onto the image; return dx laid out (C, N, H, W)."""
    n, c, h, wd = x_shape
    h_out = 1 + (h + 2 * pad - hh) // stride
    w_out = 1 + (wd + 2 * pad - ww) // stride
    d6 = dcols.reshape(c, hh, ww, n, h_out, w_out)
    # (destination slice, source slice) per kernel offset, cropped to the image so that
    # gradients that fell on the padding are never computed and dx needs no crop.
    moves = []
    for i in range(hh):
        r0, r1 = _overlap(i, pad, stride, h_out, h)
        rows = slice(r0 * stride + i - pad, (r1 - 1) * stride + i - pad + 1, stride)
        for j in range(ww):
            q0, q1 = _overlap(j, pad, stride, w_out, wd)
            if r0 < r1 and q0 < q1:
                cols_ = slice(q0 * stride + j - pad, (q1 - 1) * stride + j - pad + 1, stride)
                full = stride == 1 and r1 - r0 == h and q1 - q0 == wd
                moves.append((full, rows, cols_, i, j, slice(r0, r1), slice(q0, q1)))
    # An offset that reaches every pixel (the centre tap of a stride-1 "same" conv) goes
    # first and assigns, which saves zeroing dx and a pass over it.
    moves.sort(key=lambda move: not move[0])
    dx = np.empty((c, n, h, wd), dtype=dcols.dtype)
    if not moves:  # every window lies in the padding: x does not affect the output
        dx[...] = 0
        return dx

    def add(lo: int, hi: int) -> None:
        part = dx[:, lo:hi]
        for k, (full, rows, cols_, i, j, out_rows, out_cols) in enumerate(moves):
            src = d6[:, i, j, lo:hi, out_rows, out_cols]
            if k == 0 and full:
                part[...] = src
                continue
            if k == 0:
                part[...] = 0
            part[:, :, rows, cols_] += src

    _scratch.parallel(add, n, dcols.size)
    return dx


def conv_forward_fast(x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict):
    r"""Convolution forward as one matrix product (im2col).

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
        Input images; not modified.
    w : ndarray, shape (F, C, HH, WW)
        Filters.
    b : ndarray, shape (F,)
        Biases.
    conv_param : dict
        ``stride`` (int >= 1) and ``pad`` (int >= 0, zeros on both sides of H and W).

    Returns
    -------
    out : ndarray, shape (N, F, H', W'), dtype of x
        ``H' = 1 + (H + 2 pad - HH) / stride``, ``W' = 1 + (W + 2 pad - WW) / stride``.
        Its memory is ordered (F, N, H', W'): it is a transposed view of the product.
    cache : tuple
        ``(x, w, b, conv_param)``, like the naive layer's, for :func:`conv_backward_fast`.

    Notes
    -----
    Let :math:`X_{col}` be the (K, P) matrix whose column p is the receptive field of
    output pixel p (a C x HH x WW block of the padded input, flattened) and
    :math:`W_{row}` the filters as an (F, K) matrix. Then

    .. math:: out = W_{row} X_{col} + b

    is the naive layer's sum, grouped so that BLAS does it. :math:`X_{col}` is built
    without a Python loop: ``as_strided`` presents the padded input as a
    (C, HH, WW, N, H', W') array in which each pixel's window is already in place, and
    one copy lays it out. A row of ones under :math:`X_{col}` and a column ``b`` beside
    :math:`W_{row}` add the bias inside the product, saving a pass over out.
    """
    n, f, h_out, w_out = _validate.conv_out_shape(x, w, conv_param)
    _validate.float_array("b", b, ndim=1)
    _validate.dim_match("conv: b.shape[0] vs number of filters F", f, b.shape[0])
    stride, pad = int(conv_param["stride"]), int(conv_param["pad"])
    k = w[0].size
    buf = _im2col(x, w.shape[2], w.shape[3], stride, pad, (h_out, w_out))
    owner = buf.owner = object()
    w_ext = np.empty((f, k + 1), dtype=x.dtype)
    w_ext[:, :k] = w.reshape(f, k)
    w_ext[:, k] = b
    # (F, K+1) @ (K+1, P) is a fresh (F, N, H', W') array: transposing the view, not the
    # memory, saves copying the whole output.
    out = (w_ext @ buf.array).reshape(f, n, h_out, w_out).transpose(1, 0, 2, 3)
    # The naive layer's output has x's dtype, byte order included.
    out = out.astype(x.dtype, copy=False)
    return out, _cache((x, w, b, conv_param), owner=owner, geometry=(stride, pad))


def conv_backward_fast(dout: np.ndarray, cache: tuple):
    r"""Convolution backward as two matrix products and a vectorized col2im.

    Parameters
    ----------
    dout : ndarray, shape (N, F, H', W')
        Upstream gradient.
    cache : tuple
        ``(x, w, b, conv_param)`` from :func:`conv_forward_fast` (or from the naive
        forward: the columns are then rebuilt from x).

    Returns
    -------
    dx : ndarray, shape (N, C, H, W), dtype of x
    dw : ndarray, shape (F, C, HH, WW), dtype of w
    db : ndarray, shape (F,), dtype of dout

    Notes
    -----
    With :math:`D` = dout as an (F, P) matrix and :math:`X_{col}`, :math:`W_{row}` as in
    :func:`conv_forward_fast`,

    .. math:: dW_{row} = D X_{col}^T, \qquad db = D \mathbf{1}, \qquad
              dX_{col} = W_{row}^T D.

    The forward left :math:`X_{col}` and its row of ones in the column buffer, so dw and
    db come out of one product. :math:`dX_{col}` then overwrites the buffer, and col2im
    adds it onto dx: for each of the HH * WW kernel offsets, one ``+=`` of a
    (C, N, H', W') block onto the strided slice of dx that offset read. An input pixel
    read by several windows gathers their gradients across the offsets.
    """
    out_shape = _validate.conv_cache(cache, "conv_forward_fast")
    x, w, b, conv_param = cache
    stride, pad = int(conv_param["stride"]), int(conv_param["pad"])
    n, c, h, wd = x.shape
    f, _, hh, ww = w.shape
    h_out, w_out = out_shape[2:]
    _validate.float_array("dout", dout, ndim=4)
    _validate.dim_match("conv backward: dout.shape vs (N, F, H', W')", out_shape, dout.shape)
    k = c * hh * ww
    buf = _scratch.buffer("cols", (k + 1, n * h_out * w_out), x.dtype, fill=1)
    owner = getattr(cache, "owner", None)
    if owner is None or buf.owner is not owner or getattr(cache, "geometry", None) != (stride, pad):
        # Another forward of this shape took the buffer since, the cache is naive, or
        # its conv_param was changed after the forward: rebuild the columns from x.
        buf = _im2col(x, hh, ww, stride, pad, (h_out, w_out))
    cols = buf.array

    # D is a free reshape when dout is laid out (F, N, H', W') like this layer's output,
    # as elementwise layers in between keep it; otherwise one copy.
    d_f = dout.transpose(1, 0, 2, 3)
    if not d_f.flags.c_contiguous or dout.dtype != x.dtype:
        d_f = _scratch.buffer("dout", d_f.shape, x.dtype).array
        src = dout.transpose(1, 0, 2, 3)

        def copy(lo: int, hi: int) -> None:
            np.copyto(d_f[:, lo:hi], src[:, lo:hi], casting="same_kind")

        _scratch.parallel(copy, n, d_f.size)
    d_f = d_f.reshape(f, -1)

    dw_ext = cols @ d_f.T  # (K+1, F); the row of ones gives db
    dw = dw_ext[:k].T.reshape(w.shape).astype(w.dtype, copy=False)
    # The naive layer's db is dout.sum(...): dout's type in native byte order.
    db = dw_ext[k].astype(dout.dtype.newbyteorder("="))

    w_row = w.reshape(f, k).astype(x.dtype, copy=False)
    np.matmul(w_row.T, d_f, out=cols[:k])
    buf.owner = None  # the buffer now holds column gradients, not this forward's columns
    dx = _col2im(cols[:k], x.shape, hh, ww, stride, pad)
    return dx.transpose(1, 0, 2, 3).astype(x.dtype, copy=False), dw, db


def _subgrids(a: np.ndarray, pool_param: dict, out_hw: tuple) -> list:
    """Views of a, one per position (r, s) inside the window, in row-major order.

    View (r, s) has shape (N, C, H', W'); its element (y, z) is the entry at row r,
    column s of window (y, z), i.e. ``a[:, :, y*stride + r, z*stride + s]``.
    """
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    h_out, w_out = out_hw
    rows = [slice(r, r + stride * (h_out - 1) + 1, stride) for r in range(ph)]
    cols = [slice(s, s + stride * (w_out - 1) + 1, stride) for s in range(pw)]
    return [a[:, :, r, s] for r in rows for s in cols]


def _window_max(x: np.ndarray, pool_param: dict, out_hw: tuple) -> np.ndarray:
    """Elementwise maximum of the window's sub-grids: the pooled output, (N, C, H', W')."""
    grids = _subgrids(x, pool_param, out_hw)
    out = np.empty_like(grids[0])  # keeps x's memory order (say, (C, N, H, W))

    def run(lo: int, hi: int) -> None:
        part = out[lo:hi]
        if len(grids) == 1:
            part[...] = grids[0][lo:hi]
            return
        np.maximum(grids[0][lo:hi], grids[1][lo:hi], out=part)
        for grid in grids[2:]:
            np.maximum(part, grid[lo:hi], out=part)

    _scratch.parallel(run, x.shape[0], x.size)
    return out


def max_pool_forward_fast(x: np.ndarray, pool_param: dict):
    r"""Max pooling forward as an elementwise maximum over strided sub-grids.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
        Input; not modified.
    pool_param : dict
        ``pool_height``, ``pool_width`` and ``stride``; no padding. Windows overlap
        when the stride is smaller than the window.

    Returns
    -------
    out : ndarray, shape (N, C, H', W'), dtype of x
        ``H' = 1 + (H - pool_height) / stride``, ``W' = 1 + (W - pool_width) / stride``.
    cache : tuple
        ``(x, pool_param)``, like the naive layer's, for :func:`max_pool_backward_fast`.

    Notes
    -----
    The naive layer takes the maximum of each window in turn. Turned inside out, the
    loop runs over the ``pool_height * pool_width`` positions inside a window instead:
    the entries at position (r, s) of all windows form the strided sub-grid
    ``x[:, :, r::stride, s::stride]`` (cut to H' x W'), so
    :math:`out = \max_{r,s} x[:, :, r::stride, s::stride]`, a handful of ``np.maximum``
    calls over whole arrays. Overlapping windows need nothing special: their sub-grids
    simply share entries. (Windows that tile x could be reached by reshaping x to
    (N, C, H', pool_height, W', pool_width) too, but numpy reduces over such short
    axes 15-30x slower than it takes the maximum of the sub-grids.)
    """
    out_hw = _validate.pool_out_shape(x, pool_param)
    out = _window_max(x, pool_param, out_hw)
    # The backward compares x with the window maxima. It gets a private copy, which the
    # caller cannot change in between, in a scratch buffer this forward owns until
    # another forward of the same shape takes it (the backward then recomputes it).
    kept = _scratch.buffer_like("maxima", out)
    np.copyto(kept.array, out)
    owner = kept.owner.owner = object()
    geometry = tuple(int(pool_param[k]) for k in ("pool_height", "pool_width", "stride"))
    return out.astype(x.dtype, copy=False), _cache((x, pool_param), owner=owner, geometry=geometry)


def _route_nonfinite(x, dout, ph, pw, stride, out_hw) -> np.ndarray:
    """Max pooling backward one window position at a time, like the naive layer.

    ``argmax`` takes the first NaN as a window's maximum, and only that input receives
    the window's gradient, whatever its value; the other inputs get exactly 0.
    """
    n, c = x.shape[:2]
    dx = np.zeros_like(x)
    nn, cc = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
    for i in range(out_hw[0]):
        for j in range(out_hw[1]):
            window = x[:, :, i * stride : i * stride + ph, j * stride : j * stride + pw]
            k = window.reshape(n, c, -1).argmax(axis=2)
            dx[nn, cc, i * stride + k // pw, j * stride + k % pw] += dout[:, :, i, j]
    return dx


def max_pool_backward_fast(dout: np.ndarray, cache: tuple):
    r"""Max pooling backward: each window's gradient goes to its first maximum.

    Parameters
    ----------
    dout : ndarray, shape (N, C, H', W')
        Upstream gradient.
    cache : tuple
        ``(x, pool_param)`` from :func:`max_pool_forward_fast` (or the naive forward).

    Returns
    -------
    dx : ndarray, shape (N, C, H, W), dtype of x

    Notes
    -----
    A window's output is one of its inputs, so its gradient flows to that input alone.
    Going through the window positions in row-major order, position (r, s) takes the
    gradient of the windows whose maximum sits there and was not found earlier:
    ``first = (x_rs == out) & ~taken``. That is the naive layer's rule on ties (the
    first maximum in row-major order). When the windows tile x (stride equal to both
    window sides), every input lies in exactly one window, so each sub-grid of dx is
    written once, ``dx_rs = first * dout``, and dx needs no zeroing. Otherwise
    (overlapping windows, or gaps between them) ``dx_rs += first * dout`` over a zeroed
    dx adds up what an input receives from every window that chose it.
    """
    out_shape = _validate.pool_cache(cache, "max_pool_forward_fast")
    x, pool_param = cache
    geometry = tuple(int(pool_param[k]) for k in ("pool_height", "pool_width", "stride"))
    ph, pw, stride = geometry
    out_hw = out_shape[2:]
    _validate.float_array("dout", dout, ndim=4)
    _validate.dim_match("max pool backward: dout.shape vs (N, C, H', W')", out_shape, dout.shape)
    x_grids = _subgrids(x, pool_param, out_hw)
    kept = _scratch.buffer_like("maxima", x_grids[0])
    owner = getattr(cache, "owner", None)
    if (
        owner is None
        or kept.owner.owner is not owner
        or getattr(cache, "geometry", None) != geometry
    ):
        np.copyto(kept.array, _window_max(x, pool_param, out_hw))
        kept.owner.owner = None
    out = kept.array
    if not (np.isfinite(dout.sum()) and np.isfinite(out.sum())):
        # NaN breaks the comparison below (NaN != NaN) and 0 * inf is NaN, so such
        # windows take the naive layer's way; one sum each is the price of noticing.
        return _route_nonfinite(x, dout, ph, pw, stride, out_hw)
    tiles = ph == pw == stride
    dx = np.empty_like(x) if tiles else np.zeros_like(x)  # same memory order as x
    dx_grids = _subgrids(dx, pool_param, out_hw)
    # Per-window flags and routed gradients, reused between calls like the columns.
    taken_all = _scratch.buffer_like("taken", out, bool).array
    first_all = _scratch.buffer_like("first", out, bool).array
    routed_all = _scratch.buffer_like("routed", out, dx.dtype).array

    def route(lo: int, hi: int) -> None:
        m, d = out[lo:hi], dout[lo:hi]
        taken, first, routed = taken_all[lo:hi], first_all[lo:hi], routed_all[lo:hi]
        taken[...] = False
        last = len(x_grids) - 1
        for k, (xg, dg) in enumerate(zip(x_grids, dx_grids, strict=True)):
            np.equal(xg[lo:hi], m, out=first)
            if k:
                np.greater(first, taken, out=first)  # first & ~taken, for booleans
            if k < last:
                np.logical_or(taken, first, out=taken)
            if tiles:
                np.multiply(first, d, out=dg[lo:hi])
            else:  # (a masked np.add(..., where=first) is several times slower)
                np.multiply(first, d, out=routed)
                np.add(dg[lo:hi], routed, out=dg[lo:hi])

    _scratch.parallel(route, x.shape[0], x.size)
    return dx
