"""Bad input gets a clear error naming the argument, what was expected and what came."""

import numpy as np
import pytest

from bpkit import fast_layers, gradcheck, layer_utils, layers, optim
from bpkit.models import ThreeLayerConvNet, TwoLayerNet
from bpkit.solver import Solver

rng = np.random.default_rng(0)
X4 = rng.standard_normal((2, 3, 6, 6))
W4 = rng.standard_normal((4, 3, 3, 3))
B4 = np.zeros(4)
CONV = {"stride": 1, "pad": 1}
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        # wrong ranks and mismatched dimensions
        (
            lambda: layers.affine_forward(np.zeros((2, 5)), np.zeros((4, 3)), np.zeros(3)),
            ValueError,
            r"D\) vs w.shape\[0\]: expected 4, got 5",
        ),
        (
            lambda: layers.affine_forward(np.zeros((2, 4)), np.zeros((4, 3)), np.zeros(2)),
            ValueError,
            r"b.shape\[0\] vs w.shape\[1\] \(M\): expected 3, got 2",
        ),
        (
            lambda: layers.affine_forward(np.zeros((2, 4)), np.zeros(4), np.zeros(3)),
            ValueError,
            r"w: expected a 2-d array, got shape \(4,\)",
        ),
        (
            lambda: layers.conv_forward_naive(X4[0], W4, B4, CONV),
            ValueError,
            r"x: expected a 4-d array, got shape \(3, 6, 6\)",
        ),
        (
            lambda: layers.conv_forward_naive(X4, W4[:, :2], B4, CONV),
            ValueError,
            r"input channels C.*expected 3, got 2",
        ),
        (
            lambda: layers.conv_forward_naive(X4, W4, np.zeros(3), CONV),
            ValueError,
            r"number of filters F: expected 4, got 3",
        ),
        (
            lambda: layers.max_pool_forward_naive(X4[0], POOL),
            ValueError,
            r"x: expected a 4-d array",
        ),
        # a conv or pool whose windows do not tile the (padded) input
        (
            lambda: layers.conv_forward_naive(X4, W4, B4, {"stride": 2, "pad": 1}),
            ValueError,
            r"conv height.*= 5 is not divisible by stride 2",
        ),
        (
            lambda: layers.max_pool_forward_naive(X4[:, :, :5], POOL),
            ValueError,
            r"pool height.*= 3 is not divisible by stride 2",
        ),
        (
            lambda: layers.conv_forward_naive(X4, rng.standard_normal((4, 3, 9, 9)), B4, CONV),
            ValueError,
            r"window \(9\) is larger than the padded input",
        ),
        # missing or bad parameter keys
        (
            lambda: layers.conv_forward_naive(X4, W4, B4, {"stride": 1}),
            ValueError,
            r"conv_param: missing key\(s\) \['pad'\]",
        ),
        (
            lambda: layers.max_pool_forward_naive(X4, {"pool_height": 2, "stride": 2}),
            ValueError,
            r"pool_param: missing key\(s\) \['pool_width'\]",
        ),
        (
            lambda: layers.conv_forward_naive(X4, W4, B4, {"stride": 0, "pad": 1}),
            ValueError,
            r"conv_param\['stride'\]: expected an integer >= 1, got 0",
        ),
        (
            lambda: layers.conv_forward_naive(X4, W4, B4, {"stride": 1, "pad": 1.5}),
            ValueError,
            r"conv_param\['pad'\]: expected an integer >= 0, got 1.5",
        ),
        # labels out of range, non-integer, wrong length
        (
            lambda: layers.softmax_loss(np.zeros((3, 4)), np.array([0, 4, 1])),
            ValueError,
            r"y: expected labels in \[0, 4\).*got values from 0 to 4",
        ),
        (
            lambda: layers.softmax_loss(np.zeros((3, 4)), np.array([0, -1, 1])),
            ValueError,
            r"y: expected labels in \[0, 4\)",
        ),
        (
            lambda: layers.softmax_loss(np.zeros((3, 4)), np.array([0.0, 1.0, 2.0])),
            TypeError,
            r"y: expected integer class labels, got dtype float64",
        ),
        (
            lambda: layers.softmax_loss(np.zeros((3, 4)), np.array([0, 1])),
            ValueError,
            r"y: expected shape \(3,\).*got \(2,\)",
        ),
        # NaN / inf in the scores
        (
            lambda: layers.softmax_loss(np.array([[0.0, np.nan], [1.0, 2.0]]), np.array([0, 1])),
            ValueError,
            r"x: expected finite values, got 1 NaN/inf entries \(first at index \(0, 1\)",
        ),
        (
            lambda: layers.svm_loss(np.array([[np.inf, 0.0]]), np.array([0])),
            ValueError,
            r"x: expected finite values",
        ),
        # non-float dtypes
        (
            lambda: layers.relu_forward(np.arange(4)),
            TypeError,
            r"x: expected a floating-point array .* got dtype int64",
        ),
        (
            lambda: layers.affine_forward(np.zeros((2, 4)), np.zeros((4, 3), int), np.zeros(3)),
            TypeError,
            r"w: expected a floating-point array",
        ),
        (
            lambda: layers.conv_forward_naive([[1.0]], W4, B4, CONV),
            TypeError,
            r"x: expected a numpy array, got list",
        ),
        # an upstream gradient that does not match the forward output
        (
            lambda: layers.affine_backward(
                np.zeros((2, 4)), (np.zeros((2, 3)), np.zeros((3, 5)), np.zeros(5))
            ),
            ValueError,
            r"dout: expected the shape of the forward output, \(2, 5\), got \(2, 4\)",
        ),
        (
            lambda: layers.relu_backward(np.ones(4), np.zeros((3, 4))),
            ValueError,
            r"dout: expected the shape of the forward output, \(3, 4\), got \(4,\)",
        ),
        (
            lambda: layers.conv_backward_naive(np.zeros((2, 4, 5, 6)), (X4, W4, B4, CONV)),
            ValueError,
            r"dout: expected the shape of the forward output, \(2, 4, 6, 6\), got \(2, 4, 5, 6\)",
        ),
        (
            lambda: layers.max_pool_backward_naive(np.zeros((2, 3, 2, 3)), (X4, POOL)),
            ValueError,
            r"dout: expected the shape of the forward output, \(2, 3, 3, 3\), got \(2, 3, 2, 3\)",
        ),
        (
            lambda: layers.relu_backward(np.ones((3, 4), int), np.zeros((3, 4))),
            TypeError,
            r"dout: expected a floating-point array",
        ),
        # an empty batch
        (
            lambda: layers.affine_forward(np.zeros((0, 4)), np.zeros((4, 3)), np.zeros(3)),
            ValueError,
            r"x: expected at least one example \(N >= 1\), got shape \(0, 4\)",
        ),
        (
            lambda: layers.softmax_loss(np.zeros((0, 4)), np.zeros(0, int)),
            ValueError,
            r"x: expected at least one example",
        ),
        (
            lambda: optim.sgd(np.zeros(3), np.zeros(4)),
            ValueError,
            r"dw: expected the shape of w, \(3,\), got \(4,\)",
        ),
        (
            lambda: optim.adam(np.zeros(3), np.zeros(3), config=[]),
            TypeError,
            r"config: expected a dict or None, got list",
        ),
    ],
)
def test_bad_input_is_named(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


# ----------------------------------------------------------------------------- caches

AFFINE_OUT, AFFINE_CACHE = layers.affine_forward(
    rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), np.zeros(4)
)


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (
            lambda: layers.affine_backward(AFFINE_OUT, None),
            TypeError,
            r"cache: expected the \(x, w, b\) that affine_forward returns, got NoneType",
        ),
        (
            lambda: layers.affine_backward(AFFINE_OUT, AFFINE_CACHE[:2]),
            ValueError,
            r"cache: expected the \(x, w, b\) .* got a tuple of 2 entries",
        ),
        (
            lambda: layers.affine_backward(AFFINE_OUT, (None, *AFFINE_CACHE[1:])),
            TypeError,
            r"cache\[0\] \(x\): expected a numpy array, got NoneType",
        ),
        (
            lambda: layers.relu_backward(np.ones(3), [1.0, 2.0, 3.0]),
            TypeError,
            r"cache: expected the x that relu_forward returns, got list",
        ),
        (
            lambda: layers.conv_backward_naive(np.zeros((2, 4, 6, 6)), (X4, W4, B4, {"stride": 1})),
            ValueError,
            r"cache\[3\] \(conv_param\): missing key\(s\) \['pad'\]",
        ),
        (
            lambda: fast_layers.conv_backward_fast(
                np.zeros((2, 4, 6, 6)), (X4, W4.astype(np.int64), B4, CONV)
            ),
            TypeError,
            r"cache\[1\] \(w\): expected a floating-point array",
        ),
        (
            lambda: fast_layers.max_pool_backward_fast(np.zeros((2, 3, 3, 3)), (X4[..., :5], POOL)),
            ValueError,
            r"cache: pool width \(cache\[0\] \(x\), cache\[1\] \(pool_param\)\)",
        ),
        (
            lambda: layer_utils.affine_relu_backward(AFFINE_OUT, (AFFINE_CACHE, np.zeros((2, 5)))),
            ValueError,
            r"cache: relu cache \(x\): expected the shape \(2, 4\) of the previous part's output",
        ),
    ],
)
def test_backward_checks_its_cache(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


@pytest.mark.parametrize("param", [{"stride": 1, "pad": 10**6}, {"stride": 1, "pad": 3000}])
def test_huge_pad_is_refused_before_any_allocation(param):
    with pytest.raises(
        ValueError, match=r"conv: (padded input|output): expected at most .*conv_param\['pad'\]"
    ):
        layers.conv_forward_naive(X4, W4, B4, param)
    with pytest.raises(
        ValueError, match=r"conv: (padded input|output): expected at most .*conv_param\['pad'\]"
    ):
        fast_layers.conv_forward_fast(X4, W4, B4, param)


DTYPES = [np.float16, np.float32, np.float64, np.dtype(">f8")]


@pytest.mark.parametrize("dx", DTYPES)
@pytest.mark.parametrize("dw", DTYPES)
@pytest.mark.parametrize("dout_dtype", DTYPES)
def test_fast_layers_return_the_naive_shapes_and_dtypes(dx, dw, dout_dtype):
    x, w, param = X4[:, :, :5, :5].astype(dx), W4.astype(dw), {"stride": 2, "pad": 1}
    fast, fast_cache = fast_layers.conv_forward_fast(x, w, B4, param)
    naive, naive_cache = layers.conv_forward_naive(x, w, B4, param)
    dout = rng.standard_normal(naive.shape).astype(dout_dtype)
    got = (fast, *fast_layers.conv_backward_fast(dout, fast_cache))
    want = (naive, *layers.conv_backward_naive(dout, naive_cache))
    assert [(a.shape, a.dtype) for a in got] == [(a.shape, a.dtype) for a in want]
    x = x[:, :, :4, :4]
    fast, fast_cache = fast_layers.max_pool_forward_fast(x, POOL)
    naive, naive_cache = layers.max_pool_forward_naive(x, POOL)
    dout = rng.standard_normal(naive.shape).astype(dout_dtype)
    got = (fast, fast_layers.max_pool_backward_fast(dout, fast_cache))
    want = (naive, layers.max_pool_backward_naive(dout, naive_cache))
    assert [(a.shape, a.dtype) for a in got] == [(a.shape, a.dtype) for a in want]


def test_fast_conv_backward_follows_a_conv_param_changed_after_the_forward():
    x, w = rng.standard_normal((1, 1, 4, 4)), rng.standard_normal((1, 1, 2, 2))
    param = {"stride": 1, "pad": 0}
    out, cache = fast_layers.conv_forward_fast(x, w, np.zeros(1), param)
    param.update(stride=2, pad=1)  # same output shape (3, 3), other windows
    dout = rng.standard_normal(out.shape)
    got = fast_layers.conv_backward_fast(dout, cache)
    want = layers.conv_backward_naive(dout, (x, w, np.zeros(1), param))
    assert max(float(np.max(np.abs(g - v))) for g, v in zip(got, want, strict=True)) < 1e-12


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_fast_pool_backward_routes_nan_and_inf_like_the_naive_layer(bad):
    x = rng.permutation(2 * 3 * 36).reshape(2, 3, 6, 6).astype(np.float64)
    x[0, 0, 1, 1] = bad
    out, cache = fast_layers.max_pool_forward_fast(x, POOL)
    dout = rng.standard_normal(out.shape)
    dout[1, 2, 0, 0] = bad
    got = fast_layers.max_pool_backward_fast(dout, cache)
    want = layers.max_pool_backward_naive(dout, (x, POOL))
    np.testing.assert_array_equal(got, want)


# ----------------------------------------------------------------------------- hyperparameters


@pytest.mark.parametrize(
    ("rule", "config", "error", "pattern"),
    [
        ("sgd", {"learning_rate": "2"}, TypeError, r"config\['learning_rate'\]: expected a finite"),
        ("sgd", {"learning_rate": None}, TypeError, r"config\['learning_rate'\]"),
        ("sgd", {"learning_rate": -0.1}, ValueError, r"config\['learning_rate'\]: .*\[0, inf\)"),
        ("sgd", {"learning_rate": np.nan}, ValueError, r"config\['learning_rate'\]: .* got nan"),
        ("sgd_momentum", {"momentum": 1.5}, ValueError, r"config\['momentum'\]: .*\[0, 1\)"),
        (
            "sgd_momentum",
            {"velocity": np.zeros(4)},
            ValueError,
            r"config\['velocity'\]: expected the shape of w, \(3,\), got \(4,\)",
        ),
        ("adam", {"t": -1}, ValueError, r"config\['t'\]: expected an integer >= 0, got -1"),
        ("adam", {"beta2": True}, TypeError, r"config\['beta2'\]"),
        ("rmsprop", {"epsilon": 0.0}, ValueError, r"config\['epsilon'\]: .*\(0, inf\)"),
    ],
)
def test_optimizer_config_is_checked_before_it_changes(rule, config, error, pattern):
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in config.items()}
    with pytest.raises(error, match=pattern):
        getattr(optim, rule)(np.zeros(3), np.ones(3), config)
    assert config.keys() == before.keys(), "a refused config must not gain defaults"


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"h": 0.0}, ValueError, r"h: expected a finite number in \(0, inf\), got 0.0"),
        ({"h": "1e-5"}, TypeError, r"h: expected a finite number"),
        ({"num_checks": 10**9}, ValueError, r"num_checks: expected an integer <= 100000"),
        ({"num_checks": -1}, ValueError, r"num_checks: expected an integer >= 0, got -1"),
        ({"seed": -3}, ValueError, r"seed: expected an integer >= 0, got -3"),
    ],
)
def test_gradcheck_arguments_are_checked(kwargs, error, pattern):
    x = np.ones(3)
    args = {"num_checks": 2, "h": 1e-5, "seed": 0, **kwargs}
    with pytest.raises(error, match=pattern):
        gradcheck.grad_check_sparse(lambda v: float(v.sum()), x, np.ones(3), **args)


def test_gradcheck_refuses_a_read_only_x_and_a_non_scalar_f():
    x = np.ones(3)
    x.flags.writeable = False
    with pytest.raises(ValueError, match="x: expected a writeable array"):
        gradcheck.eval_numerical_gradient(lambda v: float(v.sum()), x)
    with pytest.raises(ValueError, match=r"f: expected a scalar value, got shape \(3,\)"):
        gradcheck.eval_numerical_gradient(lambda v: v * 2, np.ones(3))


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"reg": "0.1"}, TypeError, r"reg: expected a number >= 0, got str '0.1'"),
        ({"weight_scale": np.nan}, ValueError, r"weight_scale: expected a positive number"),
        ({"seed": -1}, ValueError, r"seed: expected an integer >= 0, got -1"),
        ({"hidden_dim": 10**9}, ValueError, r"W1 \(input_dim, hidden_dim\): expected at most"),
    ],
)
def test_model_arguments_are_checked_before_allocation(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        TwoLayerNet(**{"input_dim": 4, "hidden_dim": 3, "num_classes": 2, **kwargs})


def test_convnet_refuses_float16():
    with pytest.raises(TypeError, match="dtype: expected one of float64, float32, got float16"):
        ThreeLayerConvNet(input_dim=(1, 4, 4), dtype=np.float16)


def _data(n=20):
    x = rng.standard_normal((n, 4))
    y = rng.integers(0, 2, n)
    return {"X_train": x, "y_train": y, "X_val": x, "y_val": y}


@pytest.mark.parametrize(
    ("options", "error", "pattern"),
    [
        ({"batch_size": 0}, ValueError, r"batch_size: expected an integer >= 1, got 0"),
        ({"num_train_samples": 0}, ValueError, r"num_train_samples: expected an integer >= 1"),
        ({"lr_decay": 0.0}, ValueError, r"lr_decay: expected a finite number in \(0, 1\]"),
        ({"seed": "x"}, TypeError, r"seed: expected an integer >= 0, got str 'x'"),
        ({"optim_config": {"learning_rate": -1}}, ValueError, r"config\['learning_rate'\]"),
    ],
)
def test_solver_options_are_checked_before_training(options, error, pattern):
    with pytest.raises(error, match=pattern):
        Solver(TwoLayerNet(4, 3, 2, seed=0), _data(), **options)


@pytest.mark.parametrize(
    ("change", "error", "pattern"),
    [
        ({"X_train": []}, TypeError, r"data\['X_train'\]: expected a numpy array, got list"),
        ({"X_train": np.zeros((0, 4))}, ValueError, r"data\['X_train'\]: expected at least one"),
        ({"y_val": np.full(20, 2)}, ValueError, r"data\['y_val'\]: expected labels in \[0, 2\)"),
    ],
)
def test_solver_data_is_checked_before_training(change, error, pattern):
    data = {**_data(), **change}
    if "X_train" in change:
        data["y_train"] = data["y_train"][: len(change["X_train"])]
    with pytest.raises(error, match=pattern):
        Solver(TwoLayerNet(4, 3, 2, seed=0), data)


def test_solver_caps_the_batch_size_at_the_training_set():
    solver = Solver(TwoLayerNet(4, 3, 2, seed=0), _data(), batch_size=10**7, verbose=False)
    assert solver.batch_size == 20


def test_check_accuracy_checks_its_batch_size():
    solver = Solver(TwoLayerNet(4, 3, 2, seed=0), _data(), batch_size=5, verbose=False)
    with pytest.raises(ValueError, match="batch_size: expected an integer >= 1, got 0"):
        solver.check_accuracy(solver.X_val, solver.y_val, batch_size=0)
