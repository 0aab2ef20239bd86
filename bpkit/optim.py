"""First-order update rules: ``next_w, config = rule(w, dw, config=None)``.

A rule is a pure function of the weights ``w``, their gradient ``dw`` (same shape) and a
``config`` dict that holds the hyperparameters and whatever state the rule carries from
one step to the next (a velocity, running averages, a step count). Missing keys get their
defaults through ``setdefault``, so ``config=None`` starts a fresh run. The values already
in ``config`` are checked first (a finite learning rate >= 0, momentum and decay rates in
[0, 1), epsilon > 0, state arrays shaped like ``w``), so a refused config is left as it
was. A rule may update ``w`` in place and return it; callers must not rely on ``w``
staying unchanged.

The Solver keeps one config per parameter, so every parameter carries its own state.
"""

from __future__ import annotations

import numpy as np

from bpkit import _validate


def _start(rule: str, w: np.ndarray, dw: np.ndarray, config: dict | None) -> dict:
    """Check the arguments of ``rule`` and return the config dict to fill.

    Every hyperparameter and state array already in ``config`` is checked here, before
    the rule fills in defaults or changes anything, so a refused config is left as it was.
    """
    _validate.float_array("w", w)
    _validate.float_array("dw", dw)
    if dw.shape != w.shape:
        raise ValueError(f"dw: expected the shape of w, {w.shape}, got {dw.shape}")
    return _validate.optim_config(rule, config, w)


def sgd(w: np.ndarray, dw: np.ndarray, config: dict | None = None):
    r"""Vanilla stochastic gradient descent.

    Parameters
    ----------
    w : ndarray, any shape
        Weights.
    dw : ndarray, same shape as w
        Gradient of the loss with respect to w.
    config : dict, optional
        ``learning_rate`` (default 1e-2).

    Returns
    -------
    next_w : ndarray, same shape as w
        :math:`w - \eta\, dw`.
    config : dict
    """
    config = _start("sgd", w, dw, config)
    config.setdefault("learning_rate", 1e-2)
    next_w = None
    # BEGIN SOLUTION
    next_w = w - config["learning_rate"] * dw
    # END SOLUTION
    return next_w, config


def sgd_momentum(w: np.ndarray, dw: np.ndarray, config: dict | None = None):
    r"""SGD with momentum: a velocity that remembers past steps.

    Parameters
    ----------
    w : ndarray, any shape
    dw : ndarray, same shape as w
    config : dict, optional
        ``learning_rate`` (1e-2), ``momentum`` (0.9), ``velocity`` (zeros like w).

    Returns
    -------
    next_w : ndarray, same shape as w
    config : dict
        With the new ``velocity``.

    Notes
    -----
    :math:`v \leftarrow \mu v - \eta\, dw`, then :math:`w \leftarrow w + v`. Along a direction
    where the gradient keeps its sign, steps grow to :math:`\eta / (1 - \mu)`; where it
    flips, they cancel.
    """
    config = _start("sgd_momentum", w, dw, config)
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    config.setdefault("velocity", np.zeros_like(w))
    next_w = None
    # BEGIN SOLUTION
    v = config["momentum"] * config["velocity"] - config["learning_rate"] * dw
    next_w = w + v
    config["velocity"] = v
    # END SOLUTION
    return next_w, config


def rmsprop(w: np.ndarray, dw: np.ndarray, config: dict | None = None):
    r"""RMSProp: divide each step by a running root mean square of its gradients.

    Parameters
    ----------
    w : ndarray, any shape
    dw : ndarray, same shape as w
    config : dict, optional
        ``learning_rate`` (1e-2), ``decay_rate`` (0.99), ``epsilon`` (1e-8),
        ``cache`` (zeros like w).

    Returns
    -------
    next_w : ndarray, same shape as w
    config : dict
        With the new ``cache``.

    Notes
    -----
    :math:`c \leftarrow \rho c + (1 - \rho)\, dw^2`, then
    :math:`w \leftarrow w - \eta\, dw / (\sqrt{c} + \epsilon)`: every coordinate gets its own
    effective learning rate.
    """
    config = _start("rmsprop", w, dw, config)
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    next_w = None
    # BEGIN SOLUTION
    decay = config["decay_rate"]
    config["cache"] = decay * config["cache"] + (1 - decay) * dw**2
    next_w = w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"])
    # END SOLUTION
    return next_w, config


def adam(w: np.ndarray, dw: np.ndarray, config: dict | None = None):
    r"""Adam: momentum on the gradient and RMSProp-style scaling, both bias-corrected.

    Parameters
    ----------
    w : ndarray, any shape
    dw : ndarray, same shape as w
    config : dict, optional
        ``learning_rate`` (1e-3), ``beta1`` (0.9), ``beta2`` (0.999), ``epsilon`` (1e-8),
        ``m`` and ``v`` (zeros like w), ``t`` (0, the number of steps taken).

    Returns
    -------
    next_w : ndarray, same shape as w
    config : dict
        With the new ``m``, ``v`` and ``t``.

    Notes
    -----
    :math:`t \leftarrow t + 1` (before use, so the first step has t = 1),
    :math:`m \leftarrow \beta_1 m + (1 - \beta_1) dw`,
    :math:`v \leftarrow \beta_2 v + (1 - \beta_2) dw^2`,
    :math:`\hat m = m / (1 - \beta_1^t)`, :math:`\hat v = v / (1 - \beta_2^t)`,
    :math:`w \leftarrow w - \eta\, \hat m / (\sqrt{\hat v} + \epsilon)`.
    Without the correction, m and v start near 0 and the first steps are far off.
    """
    config = _start("adam", w, dw, config)
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)
    next_w = None
    # BEGIN SOLUTION
    b1, b2 = config["beta1"], config["beta2"]
    config["t"] += 1
    config["m"] = b1 * config["m"] + (1 - b1) * dw
    config["v"] = b2 * config["v"] + (1 - b2) * dw**2
    m_hat = config["m"] / (1 - b1 ** config["t"])
    v_hat = config["v"] / (1 - b2 ** config["t"])
    next_w = w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])
    # END SOLUTION
    return next_w, config
