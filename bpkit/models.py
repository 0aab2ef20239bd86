"""Models built from the layers: a two-layer net and a small ConvNet.

A model keeps its parameters in ``self.params`` (a dict of arrays) and the L2 strength in
``self.reg``. ``loss(X)`` returns class scores; ``loss(X, y)`` returns the loss and a
``grads`` dict keyed like ``params``. The L2 term is ``0.5 * reg * sum(W**2)`` over the
weight matrices only (never the biases), so its gradient is ``reg * W``.
"""

from __future__ import annotations

import numpy as np

from bpkit import _validate
from bpkit.layer_utils import (  # noqa: F401  (used by the losses, once written)
    affine_relu_backward,
    affine_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)
from bpkit.layers import affine_backward, affine_forward, softmax_loss  # noqa: F401  (same)


def _check_sizes(sizes: dict) -> None:
    for name, value in sizes.items():
        _validate.integer(name, value)


def _check_scale(weight_scale: float, reg: float, seed: int | None) -> None:
    _validate.number("weight_scale", weight_scale, 0, low_open=True, want="a positive number")
    _validate.number("reg", reg, 0, want="a number >= 0")
    _validate.seed("seed", seed)


def _check_weights(shapes: dict) -> None:
    """Refuse weights too large to allocate, before drawing any; keys name the sizes."""
    for what, shape in shapes.items():
        _validate.elements(what, shape)


def _check_batch(X: object, y: object, num_classes: int) -> None:
    """Check the labels of a minibatch X (already checked) when they are given."""
    if y is not None:
        _validate.labels("y", y, X.shape[0], num_classes)


class TwoLayerNet:
    r"""Affine - ReLU - affine - softmax, for inputs of D features and C classes.

    Parameters
    ----------
    input_dim : int
        D, features per example (inputs of any shape (N, d_1, ..., d_k) are flattened).
    hidden_dim : int
        H, hidden units.
    num_classes : int
        C, classes.
    weight_scale : float
        Standard deviation of the initial weights, drawn from N(0, weight_scale^2).
    reg : float
        L2 regularization strength.
    seed : int, optional
        Seed of the weight initialization (the global numpy generator when None).

    Attributes
    ----------
    params : dict
        ``W1`` (D, H), ``b1`` (H,), ``W2`` (H, C), ``b2`` (C,); biases start at zero.
    reg : float
    """

    def __init__(
        self,
        input_dim: int = 3 * 32 * 32,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        reg: float = 0.0,
        seed: int | None = None,
    ):
        _check_sizes({"input_dim": input_dim, "hidden_dim": hidden_dim, "num_classes": num_classes})
        _check_scale(weight_scale, reg, seed)
        _check_weights(
            {
                "W1 (input_dim, hidden_dim)": (input_dim, hidden_dim),
                "W2 (hidden_dim, num_classes)": (hidden_dim, num_classes),
            }
        )
        rng = np.random.default_rng(seed) if seed is not None else np.random
        self.reg = reg
        self.params = {
            "W1": weight_scale * rng.standard_normal((input_dim, hidden_dim)),
            "b1": np.zeros(hidden_dim),
            "W2": weight_scale * rng.standard_normal((hidden_dim, num_classes)),
            "b2": np.zeros(num_classes),
        }

    def loss(self, X: np.ndarray, y: np.ndarray | None = None):
        r"""Scores, or the loss and its gradients, for a minibatch.

        Parameters
        ----------
        X : ndarray, shape (N, d_1, ..., d_k)
            Inputs, D = d_1 * ... * d_k features each.
        y : ndarray of int, shape (N,), optional
            Labels. Without them, only the scores are computed.

        Returns
        -------
        scores : ndarray, shape (N, C)
            When y is None.
        loss : float
            When y is given: mean softmax loss plus
            :math:`\frac{1}{2} \lambda (\lVert W_1 \rVert^2 + \lVert W_2 \rVert^2)`.
        grads : dict
            When y is given: ``W1`` (D, H), ``b1`` (H,), ``W2`` (H, C), ``b2`` (C,).

        Notes
        -----
        Forward: :math:`h = \max(0, X W_1 + b_1)`, :math:`s = h W_2 + b_2`. Backward starts
        from the softmax gradient :math:`(p - \mathbb{1}[y]) / N`, goes through the second
        affine layer, the ReLU mask :math:`\mathbb{1}[X W_1 + b_1 > 0]` and the first affine
        layer; each weight gradient then gains :math:`\lambda W` from the L2 term.
        """
        W1, W2 = self.params["W1"], self.params["W2"]
        _validate.float_array("X", X, min_ndim=1)
        _validate.batch("X", X)
        _validate.finite("X", X)
        _validate.dim_match("X: features per example (D) vs input_dim", W1.shape[0], X[0].size)
        _check_batch(X, y, W2.shape[1])
        scores = None
        # BEGIN SOLUTION
        b1, b2 = self.params["b1"], self.params["b2"]
        hidden, hidden_cache = affine_relu_forward(X, W1, b1)
        scores, scores_cache = affine_forward(hidden, W2, b2)
        # END SOLUTION
        if y is None:
            return scores
        loss, grads = None, {}
        # BEGIN SOLUTION
        data_loss, dscores = softmax_loss(scores, y)
        loss = data_loss + 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        dhidden, grads["W2"], grads["b2"] = affine_backward(dscores, scores_cache)
        _, grads["W1"], grads["b1"] = affine_relu_backward(dhidden, hidden_cache)
        grads["W1"] += self.reg * W1
        grads["W2"] += self.reg * W2
        # END SOLUTION
        return loss, grads


class ThreeLayerConvNet:
    r"""Conv - ReLU - 2x2 max pool - affine - ReLU - affine - softmax.

    The convolution keeps the image size (stride 1, pad ``(filter_size - 1) // 2``) and the
    pool halves it, so the first affine layer sees ``F * H/2 * W/2`` features.

    Parameters
    ----------
    input_dim : tuple of int
        (C, H, W) of one image; H and W must be even.
    num_filters : int
        F, filters of the convolution.
    filter_size : int
        HH = WW, an odd number so the padding keeps the size.
    hidden_dim : int
        Hidden units of the first affine layer.
    num_classes : int
        Classes.
    weight_scale : float
        Standard deviation of the initial weights.
    reg : float
        L2 regularization strength.
    dtype : numpy dtype
        float64 for gradient checks, float32 for speed.
    seed : int, optional
        Seed of the weight initialization (the global numpy generator when None).

    Attributes
    ----------
    params : dict
        ``W1`` (F, C, HH, WW), ``b1`` (F,), ``W2`` (F * H/2 * W/2, hidden), ``b2`` (hidden,),
        ``W3`` (hidden, classes), ``b3`` (classes,).
    reg : float
    """

    def __init__(
        self,
        input_dim: tuple[int, int, int] = (3, 32, 32),
        num_filters: int = 32,
        filter_size: int = 7,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        reg: float = 0.0,
        dtype=np.float64,
        seed: int | None = None,
    ):
        if not isinstance(input_dim, (tuple, list)):
            raise TypeError(f"input_dim: expected (C, H, W), got {_validate.describe(input_dim)}")
        if len(input_dim) != 3:
            raise ValueError(f"input_dim: expected (C, H, W), got {input_dim!r}")
        c, h, w = input_dim
        _check_sizes(
            {
                "input_dim[0] (C)": c,
                "input_dim[1] (H)": h,
                "input_dim[2] (W)": w,
                "num_filters": num_filters,
                "filter_size": filter_size,
                "hidden_dim": hidden_dim,
                "num_classes": num_classes,
            }
        )
        _check_scale(weight_scale, reg, seed)
        if filter_size % 2 == 0:
            raise ValueError(f"filter_size: expected an odd number, got {filter_size}")
        if h % 2 or w % 2:
            raise ValueError(f"input_dim: expected even H and W for the 2x2 pool, got {h}x{w}")
        _validate.float_dtype("dtype", dtype, allowed=(np.float64, np.float32))
        _check_weights(
            {
                "W1 (num_filters, C, filter_size, filter_size)": (
                    num_filters,
                    c,
                    filter_size,
                    filter_size,
                ),
                "W2 (num_filters * H/2 * W/2 of input_dim, hidden_dim)": (
                    num_filters,
                    h // 2,
                    w // 2,
                    hidden_dim,
                ),
                "W3 (hidden_dim, num_classes)": (hidden_dim, num_classes),
            }
        )
        rng = np.random.default_rng(seed) if seed is not None else np.random
        self.reg = reg
        self.input_dim = (c, h, w)
        self.dtype = np.dtype(dtype)
        pooled = num_filters * (h // 2) * (w // 2)

        def weights(*shape):
            return (weight_scale * rng.standard_normal(shape)).astype(self.dtype)

        self.params = {
            "W1": weights(num_filters, c, filter_size, filter_size),
            "b1": np.zeros(num_filters, self.dtype),
            "W2": weights(pooled, hidden_dim),
            "b2": np.zeros(hidden_dim, self.dtype),
            "W3": weights(hidden_dim, num_classes),
            "b3": np.zeros(num_classes, self.dtype),
        }

    def loss(self, X: np.ndarray, y: np.ndarray | None = None):
        r"""Scores, or the loss and its gradients, for a minibatch.

        Parameters
        ----------
        X : ndarray, shape (N, C, H, W)
        y : ndarray of int, shape (N,), optional

        Returns
        -------
        scores : ndarray, shape (N, classes)
            When y is None.
        loss : float
            When y is given, with :math:`\frac{1}{2} \lambda \sum_k \lVert W_k \rVert^2`.
        grads : dict
            When y is given, keyed like ``params``.

        Notes
        -----
        Three stages, each one sandwich of :mod:`bpkit.layer_utils` or one layer:
        ``conv_relu_pool`` with ``W1, b1``, stride 1, ``pad = (filter_size - 1) // 2`` and
        a 2x2 pool of stride 2 (``conv_param = {"stride": 1, "pad": ...}``, ``pool_param =
        {"pool_height": 2, "pool_width": 2, "stride": 2}``), ``affine_relu`` with ``W2,
        b2``, then ``affine`` with ``W3, b3`` gives the scores.
        The backward pass starts from the softmax gradient, runs the three stages'
        backwards in reverse order, then adds :math:`\lambda W_k` to each weight gradient.
        """
        _validate.float_array("X", X, ndim=4)
        if X.shape[1:] != self.input_dim:
            c, h, w = self.input_dim
            raise ValueError(
                f"X: expected images of shape (N, {c}, {h}, {w}) to match input_dim, got {X.shape}"
            )
        _validate.batch("X", X)
        _validate.finite("X", X)
        _check_batch(X, y, self.params["W3"].shape[1])
        X = X.astype(self.dtype, copy=False)
        scores = None
        # BEGIN SOLUTION
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        W3, b3 = self.params["W3"], self.params["b3"]
        filter_size = W1.shape[2]
        conv_param = {"stride": 1, "pad": (filter_size - 1) // 2}
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
        pooled, pool_cache = conv_relu_pool_forward(X, W1, b1, conv_param, pool_param)
        hidden, hidden_cache = affine_relu_forward(pooled, W2, b2)
        scores, scores_cache = affine_forward(hidden, W3, b3)
        # END SOLUTION
        if y is None:
            return scores
        loss, grads = None, {}
        # BEGIN SOLUTION
        data_loss, dscores = softmax_loss(scores, y)
        weights = (W1, W2, W3)
        loss = data_loss + 0.5 * self.reg * sum(np.sum(w * w) for w in weights)
        dhidden, grads["W3"], grads["b3"] = affine_backward(dscores, scores_cache)
        dpooled, grads["W2"], grads["b2"] = affine_relu_backward(dhidden, hidden_cache)
        _, grads["W1"], grads["b1"] = conv_relu_pool_backward(dpooled, pool_cache)
        for i, w in enumerate(weights, start=1):
            grads[f"W{i}"] += self.reg * w
        # END SOLUTION
        return loss, grads
