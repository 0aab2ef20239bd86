"""The public tests fail with words that point at the mistake: run them on wrong answers.

Each case feeds a public test function a module stand-in whose exercise is wrong in one
usual way, and checks that the failure names the likely cause and shows the numbers.
"""

import importlib.util
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from bpkit import layers
from bpkit.assignments.student import diagnose, exercises

PUBLIC = Path(__file__).resolve().parents[1] / "exercises"


def public(name: str):
    """Load tests/exercises/test_<name>.py as a module of its own."""
    spec = importlib.util.spec_from_file_location(f"public_{name}", PUBLIC / f"test_{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def failure(test, *args, **kwargs) -> str:
    with pytest.raises(AssertionError) as info:
        test(*args, **kwargs)
    return str(info.value)


def with_layers(**wrong):
    return SimpleNamespace(**{**vars(layers), **wrong})


def rng():
    return np.random.default_rng(231)


# --- the message itself ---------------------------------------------------------------


def test_mismatch_names_index_got_expected_and_cause():
    text = diagnose.mismatch(
        "f: out",
        [[1.0, 2.0], [3.0, 5.0]],
        [[1.0, 2.0], [3.0, 4.0]],
        [("off by one", [[1, 2], [3, 5]])],
    )
    assert "f: out does not match the expected value" in text
    assert "largest difference at index (1, 1): got 5.0, expected 4.0" in text
    assert "rel_error 1.111e-01" in text
    assert "likely cause: off by one" in text


def test_gradient_mismatch_names_the_argument():
    text = diagnose.gradient_mismatch("g", "w", np.zeros(3), np.array([0.0, 1.0, 0.0]))
    assert text.startswith("g: dw, the gradient with respect to w, does not match the numerical")
    assert "index (1,): got 0.0, expected 1.0" in text


def test_no_cause_when_no_hint_matches_and_nan_is_counted():
    text = diagnose.mismatch("h", [np.nan, 1.0], [0.0, 1.0], [("never", [7.0, 7.0])])
    assert "1 entries are NaN or inf (the first at index (0,))" in text
    assert "likely cause" not in text


def test_wrong_shape_message():
    text = diagnose.wrong_shape("dx", np.zeros((2, 6)), (2, 3, 2), "reshape it")
    assert text == "dx: expected shape (2, 3, 2), got shape (2, 6)\n  likely cause: reshape it"
    assert "got NoneType" in diagnose.wrong_shape("dx", None, (2,))


# --- the public tests on wrong answers --------------------------------------------------


def test_affine_dx_left_flat():
    def affine_backward(dout, cache):
        dx, dw, db = layers.affine_backward(dout, cache)
        return dx.reshape(dx.shape[0], -1), dw, db

    text = failure(
        public("affine").test_backward_matches_numerical_gradient,
        with_layers(affine_backward=affine_backward),
        rng(),
        (2, 3, 2),
        4,
    )
    assert "expected shape (2, 3, 2), got shape (2, 6)" in text
    assert "reshape it back with x.shape" in text


def test_affine_db_averaged():
    def affine_backward(dout, cache):
        dx, dw, db = layers.affine_backward(dout, cache)
        return dx, dw, db / dout.shape[0]

    text = failure(
        public("affine").test_backward_hand_example, with_layers(affine_backward=affine_backward)
    )
    assert "affine_backward: db does not match" in text and "expected the sum" in text


def test_relu_mask_includes_zero():
    def relu_backward(dout, cache):
        return dout * (cache >= 0)

    text = failure(
        public("relu").test_backward_hand_example, with_layers(relu_backward=relu_backward)
    )
    assert "likely cause: x == 0 must get gradient 0" in text


def test_softmax_loss_not_divided_by_n():
    def softmax_loss(x, y):
        loss, dx = layers.softmax_loss(x, y)
        return loss * x.shape[0], dx * x.shape[0]

    text = failure(
        public("softmax_loss").test_equal_scores_hand_example,
        with_layers(softmax_loss=softmax_loss),
    )
    assert "likely cause: the loss is summed over the batch; divide it by N" in text
    assert "got 4.39444915467" in text


def test_softmax_loss_without_the_shift_overflows():
    def softmax_loss(x, y):
        p = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
        dx = p.copy()
        dx[np.arange(len(y)), y] -= 1
        return -np.log(p[np.arange(len(y)), y]).mean(), dx / len(y)

    text = failure(
        public("softmax_loss").test_stable_for_large_scores,
        with_layers(softmax_loss=softmax_loss),
        1e4,
    )
    assert "likely cause: exp overflowed" in text


def test_max_pool_gradient_assigned_instead_of_added():
    def max_pool_backward_naive(dout, cache):
        x, param = cache
        ph, pw, s = param["pool_height"], param["pool_width"], param["stride"]
        dx = np.zeros_like(x)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                window = x[0, 0, i * s : i * s + ph, j * s : j * s + pw]
                k = int(np.argmax(window))
                dx[0, 0, i * s + k // pw, j * s + k % pw] = dout[0, 0, i, j]
        return dx

    text = failure(
        public("max_pool").test_backward_overlapping_windows_accumulate,
        with_layers(max_pool_backward_naive=max_pool_backward_naive),
    )
    assert "likely cause: overlapping windows that share a maximum must add" in text
    assert "index (0, 0, 1, 2): got 4.0, expected 6.0" in text


def test_conv_backward_assigned_instead_of_added():
    def conv_backward_naive(dout, cache):
        dx, dw, db = layers.conv_backward_naive(dout, cache)
        wrong = np.array([[1.0, 1.0, 2.0], [1.0, 1.0, 2.0], [3.0, 3.0, 4.0]])
        return wrong.reshape(dx.shape), dw, db

    text = failure(
        public("conv_backward").test_hand_example,
        with_layers(conv_backward_naive=conv_backward_naive),
    )
    assert "must add up (+=), not overwrite each other (=)" in text


def test_sgd_stepping_with_w():
    def sgd(w, dw, config=None):
        config = {"learning_rate": 1e-2, **(config or {})}
        return w - config["learning_rate"] * w, config

    text = failure(public("sgd").test_hand_example, SimpleNamespace(sgd=sgd))
    assert "likely cause: the step uses w where it should use dw" in text


def adam_variant(shift_t: int, correct: bool):
    """An Adam that uses t + shift_t for the bias correction, or none at all."""

    def adam(w, dw, config=None):
        config = {} if config is None else config
        for key, value in (
            ("learning_rate", 1e-3),
            ("beta1", 0.9),
            ("beta2", 0.999),
            ("epsilon", 1e-8),
        ):
            config.setdefault(key, value)
        config.setdefault("m", np.zeros_like(w))
        config.setdefault("v", np.zeros_like(w))
        config.setdefault("t", 0)
        b1, b2, t = config["beta1"], config["beta2"], config["t"] + shift_t
        config["m"] = b1 * config["m"] + (1 - b1) * dw
        config["v"] = b2 * config["v"] + (1 - b2) * dw**2
        m, v = config["m"], config["v"]
        if correct:
            with np.errstate(all="ignore"):
                m, v = m / (1 - b1**t), v / (1 - b2**t)
        config["t"] += 1
        return w - config["learning_rate"] * m / (np.sqrt(v) + config["epsilon"]), config

    return SimpleNamespace(adam=adam)


def test_adam_without_bias_correction():
    text = failure(public("adam").test_first_step_by_hand, adam_variant(1, correct=False))
    assert "likely cause: no bias correction" in text


def test_adam_with_t_incremented_after_use():
    tests = public("adam")
    text = failure(tests.test_first_step_by_hand, adam_variant(0, correct=True))
    assert "t is used before it is incremented" in text
    text = failure(tests.test_step_from_carried_state, adam_variant(0, correct=True))
    assert "likely cause: t is incremented after it is used" in text


class NoRegGradient:
    """A TwoLayerNet whose gradients lack the reg * W term."""

    def __init__(self, *args, **kwargs):
        from bpkit.models import TwoLayerNet

        self._net = TwoLayerNet(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._net, name)

    def __setattr__(self, name, value):
        if name == "_net":
            object.__setattr__(self, name, value)
        else:
            setattr(self._net, name, value)

    def loss(self, X, y=None):
        if y is None:
            return self._net.loss(X)
        loss, grads = self._net.loss(X, y)
        for name in ("W1", "W2"):
            grads[name] = grads[name] - self._net.reg * self._net.params[name]
        return loss, grads


def test_two_layer_net_gradient_off_by_reg_w():
    models = SimpleNamespace(TwoLayerNet=NoRegGradient)
    tests = public("two_layer_net")
    text = failure(tests.test_l2_term_on_first_layer_by_hand, models)
    assert "likely cause: the gradient of the L2 term, reg * W1, is missing" in text
    text = failure(tests.test_gradients_match_numerical_gradients, models, rng(), 0.7)
    assert "likely cause: the L2 gradient reg * W1 is missing" in text
    assert "dW1, the gradient with respect to W1" in text


# --- the report hook of the public tests ---------------------------------------------------


def report_for(exc: BaseException):
    """Run the public conftest's report hook on a test that raised ``exc``."""
    spec = importlib.util.spec_from_file_location("public_conftest", PUBLIC / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    report = SimpleNamespace(failed=True, sections=[], longrepr="traceback")
    try:
        raise exc
    except type(exc):
        call = SimpleNamespace(excinfo=pytest.ExceptionInfo.from_current())
    item = SimpleNamespace(iter_markers=lambda: [SimpleNamespace(name="relu")])
    hook = conftest.pytest_runtest_makereport(item, call)
    next(hook)
    with pytest.raises(StopIteration):
        hook.send(SimpleNamespace(get_result=lambda: report))
    return report


def test_a_stub_is_reported_as_its_exercise():
    report = report_for(NotImplementedError("adam: adam is not implemented yet"))
    assert report.longrepr.startswith(
        "exercise adam is not implemented yet: adam in bpkit/optim.py still raises"
    )


def test_the_report_reads_the_stub_with_the_registry_pattern(monkeypatch):
    monkeypatch.setattr(
        exercises, "STUB_MESSAGE", re.compile(r"(?P<exercise>\w+)/(?P<qualname>[\w.]+) todo")
    )
    report = report_for(NotImplementedError("sgd/sgd todo"))
    assert report.longrepr.startswith("exercise sgd is not implemented yet: sgd in bpkit/optim.py")


def test_a_missing_return_gets_a_likely_cause():
    report = report_for(TypeError("cannot unpack non-iterable NoneType object"))
    assert report.longrepr == "traceback"
    assert report.sections == [
        ("likely cause", "the function returned None: is its `return` line missing?")
    ]
    shape = report_for(ValueError("rel_error: expected arrays of one shape, got () and (2, 3)"))
    assert "wrong shape, or is None" in shape.sections[0][1]
    assert report_for(ValueError("other")).sections == []


def test_a_nan_scalar_is_called_so_and_gets_the_nan_hint():
    text = diagnose.mismatch(
        "softmax_loss: loss", np.float64("inf"), 1.2, nan_hint=diagnose.SOFTMAX_NO_SHIFT
    )
    assert "got inf: NaN or inf instead of a number" in text
    assert "entries" not in text
    assert text.endswith("likely cause: " + diagnose.SOFTMAX_NO_SHIFT)


def test_a_scalar_shows_got_and_expected_in_full():
    text = diagnose.mismatch("loss", 1.0 + 3e-9, 1.0, [("the L2 term without 0.5", 1.5)])
    assert "got 1.000000003, expected 1.0" in text
    assert "likely cause" not in text
    text = diagnose.mismatch("loss", 1.5, 1.0, [(diagnose.L2_WITHOUT_HALF, 1.5)])
    assert text.endswith(
        "likely cause: the L2 term is 0.5 * reg * sum(W**2) (its gradient is reg * W)"
    )
