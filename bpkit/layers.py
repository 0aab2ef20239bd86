"""Layers as pairs of free functions: ``forward -> (out, cache)``, ``backward(dout, cache)``.

Each forward returns its output and a ``cache`` of whatever its backward needs; each
backward takes the upstream gradient ``dout`` (same shape as ``out``) and returns the
gradient with respect to every input. Forward and backward sit next to each other so the
chain rule for one layer reads on one screen.

Shapes use one vocabulary: N batch, D flattened features, M affine outputs, C classes
or channels, H/W image height/width, F filters, HH/WW filter height/width, H'/W' output
height/width. Images are NCHW.

The parts between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` are what a student writes;
the input checks outside them stay in the student edition.
"""

from __future__ import annotations

import numpy as np

from bpkit import _validate


def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray):
    r"""Fully connected layer, forward: ``out = x.reshape(N, D) @ w + b``.

    Parameters
    ----------
    x : ndarray, shape (N, d_1, ..., d_k)
        Inputs; each example is flattened to D = d_1 * ... * d_k features.
    w : ndarray, shape (D, M)
        Weights.
    b : ndarray, shape (M,)
        Biases.

    Returns
    -------
    out : ndarray, shape (N, M)
    cache : tuple
        ``(x, w, b)`` for :func:`affine_backward`.
    """
    _validate.affine_shapes(x, w, b)
    out = None
    # BEGIN SOLUTION
    out = x.reshape(x.shape[0], -1) @ w + b
    # END SOLUTION
    cache = (x, w, b)
    return out, cache


def affine_backward(dout: np.ndarray, cache: tuple):
    r"""Fully connected layer, backward.

    Parameters
    ----------
    dout : ndarray, shape (N, M)
        Upstream gradient.
    cache : tuple
        ``(x, w, b)`` from :func:`affine_forward`.

    Returns
    -------
    dx : ndarray, shape of x (N, d_1, ..., d_k)
    dw : ndarray, shape (D, M)
    db : ndarray, shape (M,)

    Notes
    -----
    With :math:`X` the (N, D) reshaped input:
    :math:`dX = dout\, W^T`, :math:`dW = X^T dout`, :math:`db = \sum_n dout_n`.
    """
    _validate.upstream(dout, _validate.affine_cache(cache))
    x, w, b = cache
    dx, dw, db = None, None, None
    # BEGIN SOLUTION
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    # END SOLUTION
    return dx, dw, db


def relu_forward(x: np.ndarray):
    r"""Rectified linear unit, forward: ``out = max(0, x)`` elementwise.

    Parameters
    ----------
    x : ndarray, any shape

    Returns
    -------
    out : ndarray, same shape as x
    cache : ndarray
        ``x`` for :func:`relu_backward`.
    """
    _validate.float_array("x", x)
    out = None
    # BEGIN SOLUTION
    out = np.maximum(x, 0)
    # END SOLUTION
    cache = x
    return out, cache


def relu_backward(dout: np.ndarray, cache: np.ndarray):
    r"""Rectified linear unit, backward.

    Parameters
    ----------
    dout : ndarray, any shape
        Upstream gradient, same shape as x.
    cache : ndarray
        ``x`` from :func:`relu_forward`.

    Returns
    -------
    dx : ndarray, same shape as x

    Notes
    -----
    :math:`dx = dout \cdot \mathbb{1}[x > 0]`: the gradient passes where the input was
    positive and is 0 where :math:`x \le 0` (the kink at 0 takes the subgradient 0).
    """
    _validate.upstream(dout, _validate.relu_cache(cache))
    dx = None
    # BEGIN SOLUTION
    x = cache
    dx = dout * (x > 0)
    # END SOLUTION
    return dx


def softmax_loss(x: np.ndarray, y: np.ndarray):
    r"""Softmax cross-entropy loss, averaged over the batch, and its gradient.

    Parameters
    ----------
    x : ndarray, shape (N, C)
        Class scores for N examples and C classes.
    y : ndarray of int, shape (N,)
        Labels, ``0 <= y[i] < C``.

    Returns
    -------
    loss : float
        :math:`\frac1N \sum_i -\log p_{i, y_i}` with :math:`p = \mathrm{softmax}(x)`.
    dx : ndarray, shape (N, C)
        Gradient of the loss with respect to x.

    Notes
    -----
    Shifting each row by its maximum leaves the softmax unchanged and keeps ``exp``
    from overflowing, so scores of magnitude 1e4 are fine.
    :math:`\partial L / \partial x_{ic} = (p_{ic} - \mathbb{1}[c = y_i]) / N`.
    """
    _validate.float_array("x", x, ndim=2)
    _validate.batch("x", x)
    _validate.finite("x", x)
    _validate.labels("y", y, x.shape[0], x.shape[1])
    loss, dx = None, None
    # BEGIN SOLUTION
    n = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(n), y].mean()
    dx = np.exp(log_probs)
    dx[np.arange(n), y] -= 1
    dx /= n
    # END SOLUTION
    return loss, dx


def svm_loss(x: np.ndarray, y: np.ndarray):
    r"""Multiclass hinge (SVM) loss with margin 1, averaged over the batch.

    Parameters
    ----------
    x : ndarray, shape (N, C)
        Class scores.
    y : ndarray of int, shape (N,)
        Labels, ``0 <= y[i] < C``.

    Returns
    -------
    loss : float
        :math:`\frac1N \sum_i \sum_{c \ne y_i} \max(0, x_{ic} - x_{i y_i} + 1)`.
    dx : ndarray, shape (N, C)

    Notes
    -----
    Each positive margin adds :math:`1/N` to :math:`dx_{ic}` and subtracts
    :math:`1/N` from :math:`dx_{i y_i}`.
    """
    _validate.float_array("x", x, ndim=2)
    _validate.batch("x", x)
    _validate.finite("x", x)
    _validate.labels("y", y, x.shape[0], x.shape[1])
    n = x.shape[0]
    rows = np.arange(n)
    margins = np.maximum(0, x - x[rows, y][:, None] + 1)
    margins[rows, y] = 0
    loss = margins.sum() / n
    dx = (margins > 0).astype(x.dtype)
    dx[rows, y] -= dx.sum(axis=1)
    dx /= n
    return loss, dx


def conv_forward_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict):
    r"""Convolution (cross-correlation) forward, written as plain loops.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
        Input images.
    w : ndarray, shape (F, C, HH, WW)
        Filters.
    b : ndarray, shape (F,)
        Biases.
    conv_param : dict
        ``stride`` (int >= 1) and ``pad`` (int >= 0, zeros on both sides of H and W).

    Returns
    -------
    out : ndarray, shape (N, F, H', W')
        ``H' = 1 + (H + 2 pad - HH) / stride`` and ``W' = 1 + (W + 2 pad - WW) / stride``;
        both must be whole numbers.
    cache : tuple
        ``(x, w, b, conv_param)`` for :func:`conv_backward_naive`.

    Notes
    -----
    With :math:`x_p` the padded input, :math:`s` the stride:
    :math:`out_{nfij} = b_f + \sum_{c,k,l} w_{fckl}\, x_{p,n,c,is+k,js+l}`. x is not modified.
    """
    n, f, h_out, w_out = _validate.conv_out_shape(x, w, conv_param)
    _validate.float_array("b", b, ndim=1)
    _validate.dim_match("conv: b.shape[0] vs number of filters F", f, b.shape[0])
    out = None
    # BEGIN SOLUTION
    stride, pad = conv_param["stride"], conv_param["pad"]
    hh, ww = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((n, f, h_out, w_out), dtype=x.dtype)
    for i in range(h_out):
        for j in range(w_out):
            window = xp[:, :, i * stride : i * stride + hh, j * stride : j * stride + ww]
            # (N, C, HH, WW) against (F, C, HH, WW): sum over C, HH, WW for every (n, f).
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
    # END SOLUTION
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout: np.ndarray, cache: tuple):
    r"""Convolution backward, written as plain loops.

    Parameters
    ----------
    dout : ndarray, shape (N, F, H', W')
        Upstream gradient.
    cache : tuple
        ``(x, w, b, conv_param)`` from :func:`conv_forward_naive`.

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
    dw : ndarray, shape (F, C, HH, WW)
    db : ndarray, shape (F,)

    Notes
    -----
    Every output pixel :math:`(i, j)` read the window of :math:`x_p` at
    :math:`(is, js)`, so it sends back :math:`dw_f \mathrel{+}= dout_{nfij}\, window` and
    :math:`dwindow \mathrel{+}= \sum_f dout_{nfij}\, w_f`; :math:`db_f = \sum_{n,i,j} dout_{nfij}`.
    Overlapping windows add up; the padding's gradient is cut off at the end.
    """
    _validate.upstream(dout, _validate.conv_cache(cache))
    x, w, b, conv_param = cache
    dx, dw, db = None, None, None
    # BEGIN SOLUTION
    stride, pad = conv_param["stride"], conv_param["pad"]
    hh, ww = w.shape[2:]
    h_out, w_out = dout.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for i in range(h_out):
        for j in range(w_out):
            rows = slice(i * stride, i * stride + hh)
            cols = slice(j * stride, j * stride + ww)
            g = dout[:, :, i, j]  # (N, F)
            dw += np.tensordot(g, xp[:, :, rows, cols], axes=([0], [0]))
            dxp[:, :, rows, cols] += np.tensordot(g, w, axes=([1], [0]))
    dx = dxp[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]]
    db = dout.sum(axis=(0, 2, 3))
    # END SOLUTION
    return dx, dw, db


def max_pool_forward_naive(x: np.ndarray, pool_param: dict):
    r"""Max pooling forward, written as plain loops.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    pool_param : dict
        ``pool_height``, ``pool_width`` and ``stride``; no padding. Windows overlap
        when the stride is smaller than the window.

    Returns
    -------
    out : ndarray, shape (N, C, H', W')
        ``H' = 1 + (H - pool_height) / stride``, ``W' = 1 + (W - pool_width) / stride``.
    cache : tuple
        ``(x, pool_param)`` for :func:`max_pool_backward_naive`.
    """
    h_out, w_out = _validate.pool_out_shape(x, pool_param)
    out = None
    # BEGIN SOLUTION
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    out = np.empty(x.shape[:2] + (h_out, w_out), dtype=x.dtype)
    for i in range(h_out):
        for j in range(w_out):
            window = x[:, :, i * stride : i * stride + ph, j * stride : j * stride + pw]
            out[:, :, i, j] = window.max(axis=(2, 3))
    # END SOLUTION
    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout: np.ndarray, cache: tuple):
    r"""Max pooling backward, written as plain loops.

    Parameters
    ----------
    dout : ndarray, shape (N, C, H', W')
        Upstream gradient.
    cache : tuple
        ``(x, pool_param)`` from :func:`max_pool_forward_naive`.

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)

    Notes
    -----
    A window's output is one of its inputs, so its gradient goes to that input alone:
    the maximum, the first in row-major order on ties. Where overlapping windows pick
    the same input, their gradients add up (``+=``, not ``=``).
    """
    _validate.upstream(dout, _validate.pool_cache(cache))
    x, pool_param = cache
    dx = None
    # BEGIN SOLUTION
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    n, c = x.shape[:2]
    h_out, w_out = dout.shape[2:]
    dx = np.zeros_like(x)
    nn, cc = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
    for i in range(h_out):
        for j in range(w_out):
            window = x[:, :, i * stride : i * stride + ph, j * stride : j * stride + pw]
            # argmax over the flattened window is the first maximum in row-major order.
            k = window.reshape(n, c, -1).argmax(axis=2)
            rows, cols = i * stride + k // pw, j * stride + k % pw
            dx[nn, cc, rows, cols] += dout[:, :, i, j]
    # END SOLUTION
    return dx
