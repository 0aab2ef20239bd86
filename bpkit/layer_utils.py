"""Sandwich layers: common chains of layers as one forward/backward pair.

Each sandwich's cache is the tuple of its parts' caches, and its backward runs the
parts' backwards in reverse order: the chain rule, one layer at a time. Convolutions and
pooling use :mod:`bpkit.fast_layers`, which give the same results as the naive loops.
"""

from __future__ import annotations

import numpy as np

from bpkit import _validate
from bpkit.fast_layers import (
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from bpkit.layers import affine_backward, affine_forward, relu_backward, relu_forward


def affine_relu_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray):
    """Affine then ReLU.

    Parameters
    ----------
    x : ndarray, shape (N, d_1, ..., d_k)
    w : ndarray, shape (D, M)
    b : ndarray, shape (M,)

    Returns
    -------
    out : ndarray, shape (N, M)
    cache : tuple
        ``(affine cache, relu cache)``.
    """
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout: np.ndarray, cache: tuple):
    r"""Backward of :func:`affine_relu_forward`.

    Parameters
    ----------
    dout : ndarray, shape (N, M)
    cache : tuple
        ``(affine cache, relu cache)`` from :func:`affine_relu_forward`.

    Returns
    -------
    dx : ndarray, shape of x
    dw : ndarray, shape (D, M)
    db : ndarray, shape (M,)

    Notes
    -----
    :math:`da = dout \cdot \mathbb{1}[a > 0]`, then the affine backward of :math:`da`.
    """
    fc_cache, relu_cache = _validate.sandwich(
        cache, "affine_relu_forward", ("affine cache", "relu cache")
    )
    _validate.chained(
        "relu cache (x)", _validate.relu_cache(relu_cache), _validate.affine_cache(fc_cache)
    )
    da = relu_backward(dout, relu_cache)
    return affine_backward(da, fc_cache)


def conv_relu_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict):
    """Convolution then ReLU.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (F, C, HH, WW)
    b : ndarray, shape (F,)
    conv_param : dict
        ``stride`` and ``pad``.

    Returns
    -------
    out : ndarray, shape (N, F, H', W')
    cache : tuple
        ``(conv cache, relu cache)``.
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    out, relu_cache = relu_forward(a)
    return out, (conv_cache, relu_cache)


def conv_relu_backward(dout: np.ndarray, cache: tuple):
    r"""Backward of :func:`conv_relu_forward`.

    Parameters
    ----------
    dout : ndarray, shape (N, F, H', W')
    cache : tuple
        ``(conv cache, relu cache)`` from :func:`conv_relu_forward`.

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
    dw : ndarray, shape (F, C, HH, WW)
    db : ndarray, shape (F,)

    Notes
    -----
    :math:`da = dout \cdot \mathbb{1}[a > 0]`, then the convolution backward of :math:`da`.
    """
    conv_cache, relu_cache = _validate.sandwich(
        cache, "conv_relu_forward", ("conv cache", "relu cache")
    )
    _validate.chained(
        "relu cache (x)", _validate.relu_cache(relu_cache), _validate.conv_cache(conv_cache)
    )
    da = relu_backward(dout, relu_cache)
    return conv_backward_fast(da, conv_cache)


def conv_relu_pool_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict, pool_param: dict
):
    """Convolution, ReLU, then max pooling.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (F, C, HH, WW)
    b : ndarray, shape (F,)
    conv_param : dict
        ``stride`` and ``pad``.
    pool_param : dict
        ``pool_height``, ``pool_width`` and ``stride``.

    Returns
    -------
    out : ndarray, shape (N, F, H'', W'')
        The pooled conv output.
    cache : tuple
        ``(conv cache, relu cache, pool cache)``.
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    s, relu_cache = relu_forward(a)
    out, pool_cache = max_pool_forward_fast(s, pool_param)
    return out, (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward(dout: np.ndarray, cache: tuple):
    r"""Backward of :func:`conv_relu_pool_forward`.

    Parameters
    ----------
    dout : ndarray, shape (N, F, H'', W'')
    cache : tuple
        ``(conv cache, relu cache, pool cache)`` from :func:`conv_relu_pool_forward`.

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
    dw : ndarray, shape (F, C, HH, WW)
    db : ndarray, shape (F,)

    Notes
    -----
    Pooling sends each gradient to its window's maximum, ReLU masks it with
    :math:`\mathbb{1}[a > 0]`, and the convolution backward takes it from there.
    """
    conv_cache, relu_cache, pool_cache = _validate.sandwich(
        cache, "conv_relu_pool_forward", ("conv cache", "relu cache", "pool cache")
    )
    conv_out = _validate.conv_cache(conv_cache)
    _validate.chained("relu cache (x)", _validate.relu_cache(relu_cache), conv_out)
    _validate.pool_cache(pool_cache)
    _validate.chained("pool cache[0] (x)", pool_cache[0].shape, conv_out)
    ds = max_pool_backward_fast(dout, pool_cache)
    da = relu_backward(ds, relu_cache)
    return conv_backward_fast(da, conv_cache)
