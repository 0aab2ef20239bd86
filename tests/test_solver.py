"""The Solver: options, reproducibility, histories, best-params restore, errors."""

import numpy as np
import pytest

from bpkit import optim
from bpkit.layers import softmax_loss
from bpkit.solver import Solver


class LinearSoftmax:
    """A tiny model with the model contract: scores = X W and a softmax loss."""

    def __init__(self, d=4, c=3):
        self.params = {"W": np.zeros((d, c))}

    def loss(self, X, y=None):
        scores = X @ self.params["W"]
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        return loss, {"W": X.T @ dscores}


def blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(3, size=n)
    centers = np.array([[2, 0, 0, 1], [0, 2, 0, 1], [0, 0, 2, 1]], dtype=float)
    X = centers[y] + 0.3 * rng.standard_normal((n, 4))
    return {"X_train": X[:80], "y_train": y[:80], "X_val": X[80:], "y_val": y[80:]}


def make(**kwargs):
    options = {
        "batch_size": 20,
        "num_epochs": 3,
        "verbose": False,
        "seed": 0,
        "optim_config": {"learning_rate": 0.5},
    }
    return Solver(LinearSoftmax(), blobs(), **{**options, **kwargs})


def test_histories_have_one_entry_per_iteration_and_per_epoch():
    solver = make()
    solver.train()
    assert len(solver.loss_history) == 3 * (80 // 20)
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 3
    assert solver.loss_history[-1] < solver.loss_history[0]
    assert solver.best_val_acc >= 0.9


def test_same_seed_gives_the_same_run_and_another_seed_does_not():
    a, b, c = make(seed=5), make(seed=5), make(seed=6)
    for s in (a, b, c):
        s.train()
    assert a.loss_history == b.loss_history
    assert a.loss_history != c.loss_history


def test_best_params_are_restored():
    solver = make(num_epochs=4)
    snapshots = []
    original = solver._end_epoch

    def record(bar):
        original(bar)
        snapshots.append(solver.model.params["W"].copy())

    solver._end_epoch = record
    solver.train()
    best_epoch = int(np.argmax(solver.val_acc_history))  # first best wins
    np.testing.assert_array_equal(solver.model.params["W"], snapshots[best_epoch])


def test_each_parameter_gets_its_own_optimizer_config():
    model = LinearSoftmax()
    model.params["b"] = np.zeros(3)
    base = {"learning_rate": 1e-2}

    def loss(X, y=None):
        scores = X @ model.params["W"] + model.params["b"]
        if y is None:
            return scores
        return 0.0, {"W": np.ones_like(model.params["W"]), "b": np.ones(3)}

    model.loss = loss
    solver = Solver(
        model,
        blobs(),
        update_rule="sgd_momentum",
        optim_config=base,
        batch_size=40,
        num_epochs=1,
        verbose=False,
    )
    solver.train()
    vel_w = solver.optim_configs["W"]["velocity"]
    vel_b = solver.optim_configs["b"]["velocity"]
    assert vel_w.shape == (4, 3) and vel_b.shape == (3,)
    assert base == {"learning_rate": 1e-2}, "the caller's optim_config must not be modified"


def test_lr_decay_applies_once_per_epoch():
    solver = make(update_rule="sgd", lr_decay=0.5, num_epochs=3)
    solver.train()
    assert solver.optim_configs["W"]["learning_rate"] == pytest.approx(0.5 * 0.5**3)


def test_update_rule_may_be_a_callable():
    calls = []

    def rule(w, dw, config=None):
        calls.append(1)
        return optim.sgd(w, dw, config)

    make(update_rule=rule).train()
    assert len(calls) == 3 * 4


def test_verbose_progress_bar_runs(capsys):
    make(verbose=True, print_every=2).train()
    err = capsys.readouterr().err
    assert "training" in err and "12/12" in err


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"learning_rate": 1e-3}, ValueError, r"unrecognized option\(s\) \['learning_rate'\]"),
        ({"update_rule": "adagrad"}, ValueError, r"update_rule: expected one of .*got 'adagrad'"),
        ({"batch_size": 0}, ValueError, r"batch_size: expected an integer >= 1, got 0"),
        ({"num_epochs": 2.5}, ValueError, r"num_epochs: expected an integer >= 1, got 2.5"),
    ],
)
def test_bad_options_are_named(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        make(**kwargs)


def test_bad_data_is_named():
    data = blobs()
    del data["y_val"]
    with pytest.raises(ValueError, match=r"missing key\(s\) \['y_val'\]"):
        Solver(LinearSoftmax(), data)
    data = blobs()
    data["y_train"] = data["y_train"][:10]
    with pytest.raises(ValueError, match="X_train has 80 examples but y_train has 10 labels"):
        Solver(LinearSoftmax(), data)


def test_measuring_accuracy_does_not_shift_the_minibatches():
    a, b = make(num_train_samples=10), make(num_train_samples=None)
    b.check_accuracy(b.X_train, b.y_train, num_samples=5)
    a.train()
    b.train()
    assert a.loss_history == b.loss_history
