"""The catalogue of known mistakes and correct variants of the layer and optimizer exercises.

Each entry is code appended to an honest (filled) edition's module: a later ``def``
replaces the reference one at import, and ``_ref_name = name`` before it keeps the
reference for a wrapper. A mistake names its exercise and words its failure message must
contain: the hint of :mod:`bpkit.assignments.student.diagnose` that names it, or, where no
hint can (the submission raises), the geometry that showed it. Correct variants are
written in other styles than the reference: loops, einsum, stride tricks, in-place
updates the API allows, the Adam paper's step form.
"""

from __future__ import annotations

from bpkit.assignments.student import diagnose as dg

LAYERS, OPTIM = "bpkit/layers.py", "bpkit/optim.py"

# name: (module, exercise, words the messages contain, code)
MISTAKES: dict[str, tuple[str, str, str, str]] = {
    # -- affine
    "affine forward without the bias": (LAYERS, "affine", dg.AFFINE_NO_BIAS, """
def affine_forward(x, w, b):
    return x.reshape(x.shape[0], -1) @ w, (x, w, b)
"""),
    "affine dx left flat": (LAYERS, "affine", dg.AFFINE_DX_FLAT, """
_ref_affine_backward = affine_backward
def affine_backward(dout, cache):
    dx, dw, db = _ref_affine_backward(dout, cache)
    return dx.reshape(dx.shape[0], -1), dw, db
"""),
    "affine dw transposed": (LAYERS, "affine", dg.AFFINE_DW_TRANSPOSED, """
def affine_backward(dout, cache):
    x, w, b = cache
    flat = x.reshape(x.shape[0], -1)
    return (dout @ w.T).reshape(x.shape), dout.T @ flat, dout.sum(axis=0)
"""),
    "affine db keepdims": (LAYERS, "affine", dg.AFFINE_DB_KEEPDIMS, """
_ref_affine_backward = affine_backward
def affine_backward(dout, cache):
    dx, dw, db = _ref_affine_backward(dout, cache)
    return dx, dw, dout.sum(axis=0, keepdims=True)
"""),
    "affine db over the wrong axis": (LAYERS, "affine", dg.AFFINE_DB_AXIS, """
_ref_affine_backward = affine_backward
def affine_backward(dout, cache):
    dx, dw, db = _ref_affine_backward(dout, cache)
    return dx, dw, dout.sum(axis=1)
"""),
    "affine backward divides by N": (LAYERS, "affine", dg.DIVIDED_BY_N, """
_ref_affine_backward = affine_backward
def affine_backward(dout, cache):
    n = dout.shape[0]
    return tuple(g / n for g in _ref_affine_backward(dout, cache))
"""),
    "affine forward float64 for float32": (LAYERS, "affine", dg.FLOAT64_FOR_FLOAT32, """
def affine_forward(x, w, b):
    out = np.zeros((x.shape[0], w.shape[1]))
    out += x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)
"""),
    "affine forward reshapes x in place": (
        LAYERS, "affine", "affine_forward replaced its input x", """
_ref_affine_forward = affine_forward
def affine_forward(x, w, b):
    out, _ = _ref_affine_forward(x, w, b)
    shape = x.shape
    x.shape = (x.shape[0], -1)
    return out, (x.reshape(shape), w, b)
"""),
    # -- relu
    "relu mask x >= 0": (LAYERS, "relu", dg.RELU_MASK_AT_ZERO, """
def relu_backward(dout, cache):
    return dout * (cache >= 0)
"""),
    "relu mask by dividing by x": (LAYERS, "relu", dg.RELU_DIVIDES_BY_X, """
def relu_backward(dout, cache):
    return dout * (np.maximum(cache, 0) / cache)
"""),
    "relu backward times x": (LAYERS, "relu", dg.RELU_TIMES_X, """
def relu_backward(dout, cache):
    return dout * cache
"""),
    "relu forward in place": (LAYERS, "relu", "relu_forward modified its input x in place", """
def relu_forward(x):
    x[x < 0] = 0
    return x, x.copy()
"""),
    "relu backward zeroes dout in place": (
        LAYERS, "relu", "relu_backward modified its input dout in place", """
def relu_backward(dout, cache):
    dout[cache <= 0] = 0
    return dout
"""),
    "relu forward float64 for float32": (LAYERS, "relu", dg.FLOAT64_FOR_FLOAT32, """
def relu_forward(x):
    out = np.zeros(x.shape)
    out[x > 0] = x[x > 0]
    return out, x
"""),
    # -- softmax_loss
    "softmax loss not averaged": (LAYERS, "softmax_loss", dg.SOFTMAX_LOSS_NOT_AVERAGED, """
_ref_softmax = softmax_loss
def softmax_loss(x, y):
    loss, dx = _ref_softmax(x, y)
    return loss * len(y), dx
"""),
    "softmax dx not averaged": (LAYERS, "softmax_loss", dg.SOFTMAX_DX_NOT_AVERAGED, """
_ref_softmax = softmax_loss
def softmax_loss(x, y):
    loss, dx = _ref_softmax(x, y)
    return loss, dx * len(y)
"""),
    "softmax without the max shift": (LAYERS, "softmax_loss", dg.SOFTMAX_NO_SHIFT, """
def softmax_loss(x, y):
    n = x.shape[0]
    e = np.exp(x)
    p = e / e.sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(n), y]).mean()
    p[np.arange(n), y] -= 1
    return loss, p / n
"""),
    "softmax shifted by the overall maximum": (
        LAYERS, "softmax_loss", dg.SOFTMAX_GLOBAL_SHIFT, """
def softmax_loss(x, y):
    n = x.shape[0]
    e = np.exp(x - np.max(x))
    p = e / e.sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(n), y]).mean()
    p[np.arange(n), y] -= 1
    return loss, p / n
"""),
    "softmax dx without the one-hot": (LAYERS, "softmax_loss", dg.SOFTMAX_DX_NO_ONEHOT, """
_ref_softmax = softmax_loss
def softmax_loss(x, y):
    loss, dx = _ref_softmax(x, y)
    dx = dx.copy()
    dx[np.arange(len(y)), y] += 1 / len(y)
    return loss, dx
"""),
    "softmax loss sign": (LAYERS, "softmax_loss", dg.SOFTMAX_LOSS_SIGN, """
_ref_softmax = softmax_loss
def softmax_loss(x, y):
    loss, dx = _ref_softmax(x, y)
    return -loss, dx
"""),
    "softmax shifts x in place": (
        LAYERS, "softmax_loss", "softmax_loss modified its input x in place", """
_ref_softmax = softmax_loss
def softmax_loss(x, y):
    x -= x.max(axis=1, keepdims=True)
    return _ref_softmax(x, y)
"""),
    "softmax dx float64 for float32": (LAYERS, "softmax_loss", dg.FLOAT64_FOR_FLOAT32, """
_ref_softmax = softmax_loss
def softmax_loss(x, y):
    loss, dx = _ref_softmax(x, y)
    return loss, dx.astype(np.float64)
"""),
    # -- sgd
    "sgd steps with w": (OPTIM, "sgd", dg.SGD_WITH_W, """
def sgd(w, dw, config=None):
    config = {} if config is None else config
    return w - config.setdefault("learning_rate", 1e-2) * w, config
"""),
    "sgd steps up the gradient": (OPTIM, "sgd", dg.SGD_SIGN, """
def sgd(w, dw, config=None):
    config = {} if config is None else config
    return w + config.setdefault("learning_rate", 1e-2) * dw, config
"""),
    "sgd ignores the learning rate": (OPTIM, "sgd", dg.SGD_IGNORES_LR, """
def sgd(w, dw, config=None):
    return w - 1e-2 * dw, {} if config is None else config
"""),
    # -- sgd_momentum
    "momentum velocity sign": (OPTIM, "sgd_momentum", dg.MOMENTUM_VELOCITY_SIGN, """
def sgd_momentum(w, dw, config=None):
    c = {} if config is None else config
    lr, mu = c.setdefault("learning_rate", 1e-2), c.setdefault("momentum", 0.9)
    c["velocity"] = mu * c.get("velocity", np.zeros_like(w)) + lr * dw
    return w - c["velocity"], c
"""),
    "momentum ignores the velocity": (OPTIM, "sgd_momentum", dg.MOMENTUM_NO_VELOCITY, """
def sgd_momentum(w, dw, config=None):
    c = {} if config is None else config
    c["velocity"] = -c.setdefault("learning_rate", 1e-2) * dw
    c.setdefault("momentum", 0.9)
    return w + c["velocity"], c
"""),
    "momentum moves by the old velocity": (OPTIM, "sgd_momentum", dg.MOMENTUM_OLD_VELOCITY, """
def sgd_momentum(w, dw, config=None):
    c = {} if config is None else config
    lr, mu = c.setdefault("learning_rate", 1e-2), c.setdefault("momentum", 0.9)
    v = c.get("velocity", np.zeros_like(w))
    next_w = w + v
    c["velocity"] = mu * v - lr * dw
    return next_w, c
"""),
    # -- rmsprop
    "rmsprop epsilon inside the square root": (OPTIM, "rmsprop", dg.EPS_IN_SQRT, """
def rmsprop(w, dw, config=None):
    c = {} if config is None else config
    d = c.setdefault("decay_rate", 0.99)
    c["cache"] = d * c.get("cache", np.zeros_like(w)) + (1 - d) * dw**2
    lr, eps = c.setdefault("learning_rate", 1e-2), c.setdefault("epsilon", 1e-8)
    return w - lr * dw / np.sqrt(c["cache"] + eps), c
"""),
    "rmsprop without the square root": (OPTIM, "rmsprop", dg.RMSPROP_NO_SQRT, """
def rmsprop(w, dw, config=None):
    c = {} if config is None else config
    d = c.setdefault("decay_rate", 0.99)
    c["cache"] = d * c.get("cache", np.zeros_like(w)) + (1 - d) * dw**2
    lr, eps = c.setdefault("learning_rate", 1e-2), c.setdefault("epsilon", 1e-8)
    return w - lr * dw / (c["cache"] + eps), c
"""),
    "rmsprop without epsilon": (OPTIM, "rmsprop", dg.EPS_MISSING, """
def rmsprop(w, dw, config=None):
    c = {} if config is None else config
    d = c.setdefault("decay_rate", 0.99)
    c["cache"] = d * c.get("cache", np.zeros_like(w)) + (1 - d) * dw**2
    c.setdefault("epsilon", 1e-8)
    return w - c.setdefault("learning_rate", 1e-2) * dw / np.sqrt(c["cache"]), c
"""),
    "rmsprop decay swapped": (OPTIM, "rmsprop", dg.RMSPROP_DECAY_SWAPPED, """
def rmsprop(w, dw, config=None):
    c = {} if config is None else config
    d = c.setdefault("decay_rate", 0.99)
    c["cache"] = (1 - d) * c.get("cache", np.zeros_like(w)) + d * dw**2
    lr, eps = c.setdefault("learning_rate", 1e-2), c.setdefault("epsilon", 1e-8)
    return w - lr * dw / (np.sqrt(c["cache"]) + eps), c
"""),
    # -- adam
    "Adam without bias correction": (OPTIM, "adam", dg.ADAM_NO_BIAS_CORRECTION, """
def adam(w, dw, config=None):
    c = _adam_start(config)
    c["t"] += 1
    c["m"] = c["beta1"] * c["m"] + (1 - c["beta1"]) * dw
    c["v"] = c["beta2"] * c["v"] + (1 - c["beta2"]) * dw**2
    return w - c["learning_rate"] * c["m"] / (np.sqrt(c["v"]) + c["epsilon"]), c
"""),
    "Adam increments t after using it": (OPTIM, "adam", dg.ADAM_T_AFTER_USE, """
def adam(w, dw, config=None):
    c = _adam_start(config)
    t = c["t"]
    c["m"] = c["beta1"] * c["m"] + (1 - c["beta1"]) * dw
    c["v"] = c["beta2"] * c["v"] + (1 - c["beta2"]) * dw**2
    m_hat, v_hat = c["m"] / (1 - c["beta1"] ** t), c["v"] / (1 - c["beta2"] ** t)
    c["t"] = t + 1
    return w - c["learning_rate"] * m_hat / (np.sqrt(v_hat) + c["epsilon"]), c
"""),
    "Adam never increments t": (OPTIM, "adam", dg.ADAM_T_NEVER, """
def adam(w, dw, config=None):
    c = _adam_start(config)
    t = c["t"] + 1
    c["m"] = c["beta1"] * c["m"] + (1 - c["beta1"]) * dw
    c["v"] = c["beta2"] * c["v"] + (1 - c["beta2"]) * dw**2
    m_hat, v_hat = c["m"] / (1 - c["beta1"] ** t), c["v"] / (1 - c["beta2"] ** t)
    return w - c["learning_rate"] * m_hat / (np.sqrt(v_hat) + c["epsilon"]), c
"""),
    "Adam stores the bias-corrected moments": (OPTIM, "adam", dg.ADAM_STORES_HAT, """
def adam(w, dw, config=None):
    c = _adam_start(config)
    c["t"] += 1
    t = c["t"]
    m = c["beta1"] * c["m"] + (1 - c["beta1"]) * dw
    v = c["beta2"] * c["v"] + (1 - c["beta2"]) * dw**2
    c["m"], c["v"] = m / (1 - c["beta1"] ** t), v / (1 - c["beta2"] ** t)
    return w - c["learning_rate"] * c["m"] / (np.sqrt(c["v"]) + c["epsilon"]), c
"""),
    "Adam v without the square": (OPTIM, "adam", dg.ADAM_V_NOT_SQUARED, """
def adam(w, dw, config=None):
    c = _adam_start(config)
    c["t"] += 1
    t = c["t"]
    c["m"] = c["beta1"] * c["m"] + (1 - c["beta1"]) * dw
    c["v"] = c["beta2"] * c["v"] + (1 - c["beta2"]) * dw
    m_hat, v_hat = c["m"] / (1 - c["beta1"] ** t), c["v"] / (1 - c["beta2"] ** t)
    return w - c["learning_rate"] * m_hat / (np.sqrt(np.abs(v_hat)) + c["epsilon"]), c
"""),
    "Adam epsilon inside the square root": (OPTIM, "adam", dg.EPS_IN_SQRT, """
def adam(w, dw, config=None):
    c = _adam_start(config)
    c["t"] += 1
    t = c["t"]
    c["m"] = c["beta1"] * c["m"] + (1 - c["beta1"]) * dw
    c["v"] = c["beta2"] * c["v"] + (1 - c["beta2"]) * dw**2
    m_hat, v_hat = c["m"] / (1 - c["beta1"] ** t), c["v"] / (1 - c["beta2"] ** t)
    return w - c["learning_rate"] * m_hat / np.sqrt(v_hat + c["epsilon"]), c
"""),
    "Adam without epsilon": (OPTIM, "adam", dg.EPS_MISSING, """
def adam(w, dw, config=None):
    c = _adam_start(config)
    c["t"] += 1
    t = c["t"]
    c["m"] = c["beta1"] * c["m"] + (1 - c["beta1"]) * dw
    c["v"] = c["beta2"] * c["v"] + (1 - c["beta2"]) * dw**2
    m_hat, v_hat = c["m"] / (1 - c["beta1"] ** t), c["v"] / (1 - c["beta2"] ** t)
    return w - c["learning_rate"] * m_hat / np.sqrt(v_hat), c
"""),
    # -- conv_forward
    "conv forward flips the kernel": (LAYERS, "conv_forward", dg.CONV_FLIPPED, """
_ref_conv = conv_forward_naive
def conv_forward_naive(x, w, b, conv_param):
    out, _ = _ref_conv(x, w[:, :, ::-1, ::-1].copy(), b, conv_param)
    return out, (x, w, b, conv_param)
"""),
    "conv forward without the bias": (LAYERS, "conv_forward", dg.CONV_NO_BIAS, """
_ref_conv = conv_forward_naive
def conv_forward_naive(x, w, b, conv_param):
    out, _ = _ref_conv(x, w, np.zeros_like(b), conv_param)
    return out, (x, w, b, conv_param)
"""),
    "conv forward ignores the stride": (LAYERS, "conv_forward", dg.CONV_STRIDE_IGNORED, """
_ref_conv = conv_forward_naive
def conv_forward_naive(x, w, b, conv_param):
    out, _ = _ref_conv(x, w, b, {"stride": 1, "pad": conv_param["pad"]})
    return out, (x, w, b, conv_param)
"""),
    "conv forward ignores the padding": (LAYERS, "conv_forward", "the padding is ignored", """
_ref_conv = conv_forward_naive
def conv_forward_naive(x, w, b, conv_param):
    s, p = conv_param["stride"], conv_param["pad"]
    cut = x[:, :, : x.shape[2] - (x.shape[2] - w.shape[2]) % s,
            : x.shape[3] - (x.shape[3] - w.shape[3]) % s]
    out, _ = _ref_conv(cut, w, b, {"stride": s, "pad": 0})
    return out, (x, w, b, conv_param)
"""),
    "conv forward float64 for float32": (LAYERS, "conv_forward", dg.FLOAT64_FOR_FLOAT32, """
_ref_conv = conv_forward_naive
def conv_forward_naive(x, w, b, conv_param):
    out, cache = _ref_conv(x, w, b, conv_param)
    return out.astype(np.float64), cache
"""),
    "conv forward W' from the kernel height": (LAYERS, "conv_forward", dg.CONV_HW_SWAPPED, """
def conv_forward_naive(x, w, b, conv_param):
    s, p = conv_param["stride"], conv_param["pad"]
    n, c, h, wd = x.shape
    f, _, hh, ww = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    ho, wo = 1 + (h + 2 * p - ww) // s, 1 + (wd + 2 * p - hh) // s
    out = np.zeros((n, f, ho, wo), dtype=x.dtype)
    for r in range(ho):
        for q in range(wo):
            win = xp[:, :, r * s : r * s + hh, q * s : q * s + ww]
            if win.shape[2:] == (hh, ww):
                out[:, :, r, q] = np.einsum("nchw,fchw->nf", win, w) + b
    return out, (x, w, b, conv_param)
"""),
    "conv forward H' from the image width": (LAYERS, "conv_forward", dg.CONV_HW_SWAPPED, """
def conv_forward_naive(x, w, b, conv_param):
    s, p = conv_param["stride"], conv_param["pad"]
    n, c, h, wd = x.shape
    f, _, hh, ww = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    ho, wo = 1 + (wd + 2 * p - hh) // s, 1 + (h + 2 * p - ww) // s
    out = np.zeros((n, f, ho, wo), dtype=x.dtype)
    for r in range(ho):
        for q in range(wo):
            win = xp[:, :, r * s : r * s + hh, q * s : q * s + ww]
            if win.shape[2:] == (hh, ww):
                out[:, :, r, q] = np.einsum("nchw,fchw->nf", win, w) + b
    return out, (x, w, b, conv_param)
"""),
    "conv forward slices windows with the kernel's sides swapped": (
        LAYERS, "conv_forward", "on the case: pad 0, 3x2 kernel, stride 1", """
def conv_forward_naive(x, w, b, conv_param):
    s, p = conv_param["stride"], conv_param["pad"]
    n, c, h, wd = x.shape
    f, _, hh, ww = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    ho, wo = 1 + (h + 2 * p - hh) // s, 1 + (wd + 2 * p - ww) // s
    out = np.zeros((n, f, ho, wo), dtype=x.dtype)
    for r in range(ho):
        for q in range(wo):
            win = xp[:, :, r * s : r * s + ww, q * s : q * s + hh]
            out[:, :, r, q] = np.einsum("nchw,fchw->nf", win, w) + b
    return out, (x, w, b, conv_param)
"""),
    "conv forward writes into x": (
        LAYERS, "conv_forward", "conv_forward_naive modified its input x in place", """
_ref_conv = conv_forward_naive
def conv_forward_naive(x, w, b, conv_param):
    out, cache = _ref_conv(x, w, b, conv_param)
    x *= 0.5
    return out, cache
"""),
    # -- conv_backward
    "conv backward unpads with pad:-pad": (LAYERS, "conv_backward", dg.CONV_PAD_SLICE, """
_ref_conv_backward = conv_backward_naive
def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    p = conv_param["pad"]
    dx, dw, db = _ref_conv_backward(dout, cache)
    dx_pad = np.pad(dx, ((0, 0), (0, 0), (p, p), (p, p)))
    return dx_pad[:, :, p:-p, p:-p], dw, db
"""),
    "conv backward keeps the padding": (LAYERS, "conv_backward", dg.CONV_PAD_KEPT, """
_ref_conv_backward = conv_backward_naive
def conv_backward_naive(dout, cache):
    p = cache[3]["pad"]
    dx, dw, db = _ref_conv_backward(dout, cache)
    return np.pad(dx, ((0, 0), (0, 0), (p, p), (p, p))), dw, db
"""),
    "conv backward flips the kernel for dx": (LAYERS, "conv_backward", dg.CONV_FLIPPED, """
_ref_conv_backward = conv_backward_naive
def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    dx, _, _ = _ref_conv_backward(dout, (x, w[:, :, ::-1, ::-1].copy(), b, conv_param))
    _, dw, db = _ref_conv_backward(dout, cache)
    return dx, dw, db
"""),
    "conv backward divides by N": (LAYERS, "conv_backward", dg.DIVIDED_BY_N, """
_ref_conv_backward = conv_backward_naive
def conv_backward_naive(dout, cache):
    dx, dw, db = _ref_conv_backward(dout, cache)
    return dx, dw / dout.shape[0], db / dout.shape[0]
"""),
    "conv backward db per sample": (LAYERS, "conv_backward", dg.CONV_DB_SHAPE, """
_ref_conv_backward = conv_backward_naive
def conv_backward_naive(dout, cache):
    dx, dw, db = _ref_conv_backward(dout, cache)
    return dx, dw, dout.sum(axis=(1, 2, 3))
"""),
    "conv backward float64 for float32": (LAYERS, "conv_backward", dg.FLOAT64_FOR_FLOAT32, """
_ref_conv_backward = conv_backward_naive
def conv_backward_naive(dout, cache):
    return tuple(g.astype(np.float64) for g in _ref_conv_backward(dout, cache))
"""),
    "conv backward assigns dw": (LAYERS, "conv_backward", dg.CONV_DW_ASSIGNED, """
def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    s, p = conv_param["stride"], conv_param["pad"]
    hh, ww = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for r in range(dout.shape[2]):
        for q in range(dout.shape[3]):
            rows, cols = slice(r * s, r * s + hh), slice(q * s, q * s + ww)
            dw = np.einsum("nf,nchw->fchw", dout[:, :, r, q], xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += np.einsum("nf,fchw->nchw", dout[:, :, r, q], w)
    dx = dxp[:, :, p : p + x.shape[2], p : p + x.shape[3]]
    return dx, dw, dout.sum(axis=(0, 2, 3))
"""),
    "conv backward writes into dout": (
        LAYERS, "conv_backward", "conv_backward_naive modified its input dout in place", """
_ref_conv_backward = conv_backward_naive
def conv_backward_naive(dout, cache):
    grads = _ref_conv_backward(dout, cache)
    dout *= 0
    return grads
"""),
    # -- max_pool
    "max pool backward assigns": (LAYERS, "max_pool", dg.POOL_ASSIGNS, """
def max_pool_backward_naive(dout, cache):
    x, pp = cache
    ph, pw, s = pp["pool_height"], pp["pool_width"], pp["stride"]
    dx = np.zeros_like(x)
    for n, c, r, q in np.ndindex(*dout.shape):
        window = x[n, c, r * s : r * s + ph, q * s : q * s + pw]
        i, j = np.unravel_index(np.argmax(window), window.shape)
        dx[n, c, r * s + i, q * s + j] = dout[n, c, r, q]
    return dx
"""),
    "max pool width from pool_height": (LAYERS, "max_pool", dg.POOL_WIDTH_FROM_HEIGHT, """
def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    n, c, h, w = x.shape
    ho, wo = 1 + (h - ph) // s, 1 + (w - ph) // s
    out = np.zeros((n, c, ho, wo), dtype=x.dtype)
    for r in range(ho):
        for q in range(wo):
            out[:, :, r, q] = x[:, :, r * s : r * s + ph, q * s : q * s + pw].max(axis=(2, 3))
    return out, (x, pool_param)
"""),
    "max pool unravels with the height": (LAYERS, "max_pool", dg.POOL_UNRAVEL_HEIGHT, """
def max_pool_backward_naive(dout, cache):
    x, pp = cache
    ph, pw, s = pp["pool_height"], pp["pool_width"], pp["stride"]
    dx = np.zeros_like(x)
    for n, c, r, q in np.ndindex(*dout.shape):
        k = np.argmax(x[n, c, r * s : r * s + ph, q * s : q * s + pw])
        if k < ph * ph:
            i, j = np.unravel_index(k, (ph, ph))
            if r * s + i < x.shape[2] and q * s + j < x.shape[3]:
                dx[n, c, r * s + i, q * s + j] += dout[n, c, r, q]
    return dx
"""),
    "max pool backward feeds the whole window": (LAYERS, "max_pool", dg.POOL_ALL_OF_WINDOW, """
def max_pool_backward_naive(dout, cache):
    x, pp = cache
    ph, pw, s = pp["pool_height"], pp["pool_width"], pp["stride"]
    dx = np.zeros_like(x)
    for r in range(dout.shape[2]):
        for q in range(dout.shape[3]):
            dx[:, :, r * s : r * s + ph, q * s : q * s + pw] += dout[:, :, r, q, None, None]
    return dx
"""),
    "max pool forward averages": (LAYERS, "max_pool", dg.POOL_AVERAGE, """
def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    n, c, h, w = x.shape
    out = np.zeros((n, c, 1 + (h - ph) // s, 1 + (w - pw) // s), dtype=x.dtype)
    for r, q in np.ndindex(*out.shape[2:]):
        out[:, :, r, q] = x[:, :, r * s : r * s + ph, q * s : q * s + pw].mean(axis=(2, 3))
    return out, (x, pool_param)
"""),
    "max pool forward ignores the stride": (LAYERS, "max_pool", dg.POOL_STRIDE, """
_ref_pool = max_pool_forward_naive
def max_pool_forward_naive(x, pool_param):
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    n, c, h, w = x.shape
    x_cut = x[:, :, : h - (h - ph) % ph, : w - (w - pw) % pw]
    out, _ = _ref_pool(x_cut, {"pool_height": ph, "pool_width": pw, "stride": ph})
    return out, (x, pool_param)
"""),
    "max pool backward float64 for float32": (LAYERS, "max_pool", dg.FLOAT64_FOR_FLOAT32, """
_ref_pool_backward = max_pool_backward_naive
def max_pool_backward_naive(dout, cache):
    return _ref_pool_backward(dout, cache).astype(np.float64)
"""),
    "max pool forward float64 for float32": (LAYERS, "max_pool", dg.FLOAT64_FOR_FLOAT32, """
_ref_pool = max_pool_forward_naive
def max_pool_forward_naive(x, pool_param):
    out, cache = _ref_pool(x, pool_param)
    return out.astype(np.float64), cache
"""),
}  # fmt: skip

# A helper the Adam mistakes share, put in front of each: defaults and state, like the API.
ADAM_START = """
def _adam_start(config):
    c = {} if config is None else config
    for key, value in (("learning_rate", 1e-3), ("beta1", 0.9), ("beta2", 0.999),
                       ("epsilon", 1e-8), ("t", 0)):
        c.setdefault(key, value)
    c.setdefault("m", np.zeros(1))
    c.setdefault("v", np.zeros(1))
    return c
"""

# name: (module, exercises, code). Every one gets full marks.
CORRECT: dict[str, tuple[str, tuple[str, ...], str]] = {
    "affine, loops and einsum": (LAYERS, ("affine",), """
def affine_forward(x, w, b):
    flat = x.reshape(x.shape[0], -1)
    out = np.empty((x.shape[0], w.shape[1]), dtype=np.result_type(x, w))
    for i in range(flat.shape[0]):
        for j in range(w.shape[1]):
            out[i, j] = sum(flat[i, k] * w[k, j] for k in range(flat.shape[1])) + b[j]
    return out, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    dx = np.einsum("nm,dm->nd", dout, w).reshape(x.shape)
    dw = np.einsum("nd,nm->dm", x.reshape(x.shape[0], -1), dout)
    return dx, dw, np.einsum("nm->m", dout)
"""),
    "affine, tensordot and a cached flat x": (LAYERS, ("affine",), """
def affine_forward(x, w, b):
    flat = np.reshape(x, (len(x), w.shape[0]))
    return np.tensordot(flat, w, axes=1) + b, (flat, w, x.shape)


def affine_backward(dout, cache):
    flat, w, shape = cache
    db = np.ones(len(dout), dtype=dout.dtype) @ dout
    return np.dot(dout, w.T).reshape(shape), np.dot(flat.T, dout), db
"""),
    "affine, matmul operators": (LAYERS, ("affine",), """
def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1) @ w
    out += b
    return out, (x, w, b)


def affine_backward(dout, cache):
    x, w, _ = cache
    dx = (dout @ w.T).reshape(*x.shape)
    return dx, x.reshape(x.shape[0], -1).T @ dout, dout.sum(0)
"""),
    "relu, where and a masked copy": (LAYERS, ("relu",), """
def relu_forward(x):
    return np.where(x > 0, x, np.zeros_like(x)), x


def relu_backward(dout, cache):
    dx = dout.copy()
    dx[cache <= 0] = 0
    return dx
"""),
    "relu, multiply by the mask": (LAYERS, ("relu",), """
def relu_forward(x):
    return x * (x > 0), x


def relu_backward(dout, cache):
    return dout * (cache > 0)
"""),
    "relu, caching the output": (LAYERS, ("relu",), """
def relu_forward(x):
    out = np.clip(x, 0, None)
    return out, out


def relu_backward(dout, cache):
    return np.where(cache > 0, dout, 0).astype(dout.dtype)
"""),
    "relu, loops over the entries": (LAYERS, ("relu",), """
def relu_forward(x):
    out = x.copy()
    for i in np.ndindex(*x.shape):
        if out[i] < 0:
            out[i] = 0
    return out, x


def relu_backward(dout, cache):
    dx = np.empty_like(dout)
    for i in np.ndindex(*dout.shape):
        dx[i] = dout[i] if cache[i] > 0 else 0
    return dx
"""),
    "softmax, one row at a time": (LAYERS, ("softmax_loss",), """
def softmax_loss(x, y):
    n = x.shape[0]
    loss, dx = 0.0, np.empty_like(x)
    for i in range(n):
        row = x[i] - np.max(x[i])
        log_z = np.log(np.sum(np.exp(row)))
        loss += log_z - row[y[i]]
        p = np.exp(row - log_z)
        p[y[i]] -= 1
        dx[i] = p / n
    return loss / n, dx
"""),
    "softmax via normalized probabilities": (LAYERS, ("softmax_loss",), """
def softmax_loss(x, y):
    n = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)
    p = np.exp(shifted)
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(n), y]))
    dx = p.copy()
    dx[np.arange(n), y] -= 1
    return loss, dx / n
"""),
    "softmax via logaddexp and a one-hot matrix": (LAYERS, ("softmax_loss",), """
def softmax_loss(x, y):
    n, c = x.shape
    log_z = np.logaddexp.reduce(x, axis=1, keepdims=True)
    log_p = x - log_z
    onehot = np.eye(c, dtype=x.dtype)[y]
    loss = -np.sum(onehot * log_p) / n
    return loss, ((np.exp(log_p) - onehot) / n).astype(x.dtype)
"""),
    "update rules in place and the Adam paper's step form": (
        OPTIM, ("sgd", "sgd_momentum", "rmsprop", "adam"), """
def sgd(w, dw, config=None):
    config = {} if config is None else config
    w -= config.setdefault("learning_rate", 1e-2) * dw
    return w, config


def sgd_momentum(w, dw, config=None):
    config = {} if config is None else config
    lr, mu = config.setdefault("learning_rate", 1e-2), config.setdefault("momentum", 0.9)
    config["velocity"] = mu * config.get("velocity", np.zeros_like(w)) - lr * dw
    w += config["velocity"]
    return w, config


def rmsprop(w, dw, config=None):
    c = {} if config is None else config
    d = c.setdefault("decay_rate", 0.99)
    c["cache"] = d * c.get("cache", 0.0) + (1 - d) * dw * dw
    step = c.setdefault("learning_rate", 1e-2) * dw / (np.sqrt(c["cache"]) + c.get("epsilon", 1e-8))
    return w - step, c


ADAM_DEFAULTS = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}


def adam(w, dw, config=None):
    c = {} if config is None else config
    for key, value in ADAM_DEFAULTS.items():
        c.setdefault(key, value)
    t = c.get("t", 0) + 1
    m = c["beta1"] * c.get("m", 0.0) + (1 - c["beta1"]) * dw
    v = c["beta2"] * c.get("v", 0.0) + (1 - c["beta2"]) * dw**2
    lr_t = c["learning_rate"] * np.sqrt(1 - c["beta2"] ** t) / (1 - c["beta1"] ** t)
    c.update(m=m, v=v, t=t)
    return w - lr_t * m / (np.sqrt(v) + c["epsilon"]), c
"""),
    "update rules with copies and explicit state": (
        OPTIM, ("sgd", "sgd_momentum", "rmsprop", "adam"), """
def sgd(w, dw, config=None):
    if config is None:
        config = {}
    if "learning_rate" not in config:
        config["learning_rate"] = 1e-2
    next_w = w.copy()
    next_w = next_w - config["learning_rate"] * dw
    return next_w, config


def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config["velocity"] if "velocity" in config else np.zeros_like(w)
    v = config["momentum"] * v - config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config


def rmsprop(w, dw, config=None):
    if config is None:
        config = {}
    for key, value in (("learning_rate", 1e-2), ("decay_rate", 0.99), ("epsilon", 1e-8)):
        config.setdefault(key, value)
    config.setdefault("cache", np.zeros_like(w))
    d = config["decay_rate"]
    config["cache"] = d * config["cache"] + (1 - d) * np.square(dw)
    denominator = np.sqrt(config["cache"]) + config["epsilon"]
    return w - np.divide(config["learning_rate"] * dw, denominator), config


def adam(w, dw, config=None):
    if config is None:
        config = {}
    for key, value in (("learning_rate", 1e-3), ("beta1", 0.9), ("beta2", 0.999),
                       ("epsilon", 1e-8), ("t", 0)):
        config.setdefault(key, value)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    b1, b2 = config["beta1"], config["beta2"]
    config["t"] = config["t"] + 1
    config["m"] = b1 * config["m"] + (1 - b1) * dw
    config["v"] = b2 * config["v"] + (1 - b2) * (dw * dw)
    m_hat = config["m"] / (1 - b1 ** config["t"])
    v_hat = config["v"] / (1 - b2 ** config["t"])
    return w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"]), config
"""),
    "update rules written with numpy functions, fresh configs": (
        OPTIM, ("sgd", "sgd_momentum", "rmsprop", "adam"), """
def sgd(w, dw, config=None):
    config = dict(config or {})
    config.setdefault("learning_rate", 1e-2)
    return np.subtract(w, np.multiply(config["learning_rate"], dw)), config


def sgd_momentum(w, dw, config=None):
    config = dict(config or {})
    lr, mu = config.get("learning_rate", 1e-2), config.get("momentum", 0.9)
    config.update(learning_rate=lr, momentum=mu)
    config["velocity"] = np.multiply(mu, config.get("velocity", 0.0)) - np.multiply(lr, dw)
    return np.add(w, config["velocity"]), config


def rmsprop(w, dw, config=None):
    config = dict(config or {})
    lr = config.setdefault("learning_rate", 1e-2)
    d = config.setdefault("decay_rate", 0.99)
    eps = config.setdefault("epsilon", 1e-8)
    cache = config.get("cache", np.zeros_like(w))
    cache = cache * d + np.power(dw, 2) * (1 - d)
    config["cache"] = cache
    return w - lr * dw / np.add(np.sqrt(cache), eps), config


def adam(w, dw, config=None):
    config = dict(config or {})
    lr = config.setdefault("learning_rate", 1e-3)
    b1 = config.setdefault("beta1", 0.9)
    b2 = config.setdefault("beta2", 0.999)
    eps = config.setdefault("epsilon", 1e-8)
    t = config.get("t", 0) + 1
    m = np.add(np.multiply(b1, config.get("m", 0.0)), np.multiply(1 - b1, dw))
    v = np.add(np.multiply(b2, config.get("v", 0.0)), np.multiply(1 - b2, np.square(dw)))
    config.update(t=t, m=m, v=v)
    m_hat = np.divide(m, 1 - np.power(b1, t))
    v_hat = np.divide(v, 1 - np.power(b2, t))
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), config
"""),
    "conv, six loops forward and einsum backward": (
        LAYERS, ("conv_forward", "conv_backward"), """
def conv_forward_naive(x, w, b, conv_param):
    s, p = conv_param["stride"], conv_param["pad"]
    n, c, h, wd = x.shape
    f, _, hh, ww = w.shape
    xp = np.zeros((n, c, h + 2 * p, wd + 2 * p), dtype=x.dtype)
    xp[:, :, p : p + h, p : p + wd] = x
    ho, wo = 1 + (h + 2 * p - hh) // s, 1 + (wd + 2 * p - ww) // s
    out = np.zeros((n, f, ho, wo), dtype=x.dtype)
    for i in range(n):
        for k in range(f):
            for r in range(ho):
                for q in range(wo):
                    window = xp[i, :, r * s : r * s + hh, q * s : q * s + ww]
                    out[i, k, r, q] = np.sum(window * w[k]) + b[k]
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    s, p = conv_param["stride"], conv_param["pad"]
    hh, ww = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for r in range(dout.shape[2]):
        for q in range(dout.shape[3]):
            rows, cols = slice(r * s, r * s + hh), slice(q * s, q * s + ww)
            dw += np.einsum("nf,nchw->fchw", dout[:, :, r, q], xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += np.einsum("nf,fchw->nchw", dout[:, :, r, q], w)
    dx = dxp[:, :, p : p + x.shape[2], p : p + x.shape[3]]
    return dx, dw, np.einsum("nfhw->f", dout)
"""),
    "conv, stride tricks and im2col": (LAYERS, ("conv_forward", "conv_backward"), """
from numpy.lib.stride_tricks import sliding_window_view as _windows


def conv_forward_naive(x, w, b, conv_param):
    s, p = conv_param["stride"], conv_param["pad"]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    view = _windows(xp, w.shape[2:], axis=(2, 3))[:, :, ::s, ::s]
    out = np.einsum("nchwij,fcij->nfhw", view, w) + b[None, :, None, None]
    return out.astype(x.dtype), (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    s, p = conv_param["stride"], conv_param["pad"]
    n, c, h, wd = x.shape
    f, _, hh, ww = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    view = _windows(xp, (hh, ww), axis=(2, 3))[:, :, ::s, ::s]
    cols = view.transpose(0, 2, 3, 1, 4, 5).reshape(-1, c * hh * ww)
    d = dout.transpose(0, 2, 3, 1).reshape(-1, f)
    dw = (d.T @ cols).reshape(w.shape)
    dcols = (d @ w.reshape(f, -1)).reshape(n, dout.shape[2], dout.shape[3], c, hh, ww)
    dxp = np.zeros_like(xp)
    for r in range(dout.shape[2]):
        for q in range(dout.shape[3]):
            dxp[:, :, r * s : r * s + hh, q * s : q * s + ww] += dcols[:, r, q]
    return dxp[:, :, p : p + h, p : p + wd], dw, dout.sum(axis=(0, 2, 3))
"""),
    "conv, loops over samples and filters with tensordot": (
        LAYERS, ("conv_forward", "conv_backward"), """
def conv_forward_naive(x, w, b, conv_param):
    s, p = conv_param["stride"], conv_param["pad"]
    n, _, h, wd = x.shape
    f, _, hh, ww = w.shape
    xp = np.pad(x, [(0, 0), (0, 0), (p, p), (p, p)], mode="constant")
    ho, wo = (h + 2 * p - hh) // s + 1, (wd + 2 * p - ww) // s + 1
    out = np.empty((n, f, ho, wo), dtype=x.dtype)
    for r in range(ho):
        for q in range(wo):
            patch = xp[:, :, r * s : r * s + hh, q * s : q * s + ww]
            out[:, :, r, q] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    s, p = conv_param["stride"], conv_param["pad"]
    hh, ww = w.shape[2:]
    h, wd = x.shape[2:]
    xp = np.pad(x, [(0, 0), (0, 0), (p, p), (p, p)], mode="constant")
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    db = np.zeros_like(b)
    for i in range(x.shape[0]):
        for k in range(w.shape[0]):
            db[k] += dout[i, k].sum()
            for r in range(dout.shape[2]):
                for q in range(dout.shape[3]):
                    g = dout[i, k, r, q]
                    dw[k] += g * xp[i, :, r * s : r * s + hh, q * s : q * s + ww]
                    dxp[i, :, r * s : r * s + hh, q * s : q * s + ww] += g * w[k]
    return dxp[:, :, p : p + h, p : p + wd], dw, db
"""),
    "max pool backward with a mask": (LAYERS, ("max_pool",), """
def max_pool_backward_naive(dout, cache):
    x, pp = cache
    ph, pw, s = pp["pool_height"], pp["pool_width"], pp["stride"]
    dx = np.zeros_like(x)
    for r in range(dout.shape[2]):
        for q in range(dout.shape[3]):
            window = x[:, :, r * s : r * s + ph, q * s : q * s + pw]
            mask = window == window.max(axis=(2, 3), keepdims=True)
            dx[:, :, r * s : r * s + ph, q * s : q * s + pw] += mask * dout[:, :, r, q, None, None]
    return dx
"""),
    "max pool, stride tricks and argmax": (LAYERS, ("max_pool",), """
from numpy.lib.stride_tricks import sliding_window_view as _pool_windows


def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    view = _pool_windows(x, (ph, pw), axis=(2, 3))[:, :, ::s, ::s]
    return view.max(axis=(4, 5)), (x, pool_param)


def max_pool_backward_naive(dout, cache):
    x, pp = cache
    ph, pw, s = pp["pool_height"], pp["pool_width"], pp["stride"]
    view = _pool_windows(x, (ph, pw), axis=(2, 3))[:, :, ::s, ::s]
    flat = view.reshape(*view.shape[:4], ph * pw).argmax(axis=-1)
    rows, cols = np.unravel_index(flat, (ph, pw))
    dx = np.zeros_like(x)
    n, c, ho, wo = dout.shape
    for idx in np.ndindex(n, c, ho, wo):
        i, j = idx[2] * s + rows[idx], idx[3] * s + cols[idx]
        dx[idx[0], idx[1], i, j] += dout[idx]
    return dx
"""),
    "max pool, loops everywhere": (LAYERS, ("max_pool",), """
def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    n, c, h, w = x.shape
    ho, wo = (h - ph) // s + 1, (w - pw) // s + 1
    out = np.zeros((n, c, ho, wo), dtype=x.dtype)
    for a in range(n):
        for k in range(c):
            for r in range(ho):
                for q in range(wo):
                    out[a, k, r, q] = np.max(x[a, k, r * s : r * s + ph, q * s : q * s + pw])
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    x, pp = cache
    ph, pw, s = pp["pool_height"], pp["pool_width"], pp["stride"]
    dx = np.zeros_like(x)
    for a, k, r, q in np.ndindex(*dout.shape):
        best, at = -np.inf, (0, 0)
        for i in range(ph):
            for j in range(pw):
                if x[a, k, r * s + i, q * s + j] > best:
                    best, at = x[a, k, r * s + i, q * s + j], (i, j)
        dx[a, k, r * s + at[0], q * s + at[1]] += dout[a, k, r, q]
    return dx
"""),
}  # fmt: skip
