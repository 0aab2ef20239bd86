"""The Solver: minibatch training of a model with one of the update rules in :mod:`bpkit.optim`.

A model is anything with a ``params`` dict and a ``loss(X, y=None)`` method that returns
scores without labels and ``(loss, grads)`` with them. The Solver draws minibatches, asks
the model for gradients, updates every parameter with its own copy of the optimizer
config, records the loss and the train/validation accuracy, and in the end puts back the
parameters that did best on the validation set.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
from tqdm.auto import tqdm

from bpkit import _validate, optim

RULES = ("sgd", "sgd_momentum", "rmsprop", "adam")
DATA_KEYS = ("X_train", "y_train", "X_val", "y_val")
OPTIONS = {
    "update_rule": "sgd",
    "optim_config": None,
    "lr_decay": 1.0,
    "batch_size": 100,
    "num_epochs": 10,
    "num_train_samples": 1000,
    "num_val_samples": None,
    "print_every": 100,
    "verbose": True,
    "seed": None,
}


def _check_split(name: str, X: object, y: object, y_name: str | None = None) -> None:
    """Check one split: an array of N >= 1 examples and int labels of shape (N,)."""
    y_name = y_name or name.replace("X_", "y_")
    if not isinstance(X, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {_validate.describe(X)}")
    if X.ndim == 0 or len(X) == 0:
        raise ValueError(f"{name}: expected at least one example (N >= 1), got shape {X.shape}")
    if not isinstance(y, np.ndarray) or not np.issubdtype(y.dtype, np.integer):
        raise TypeError(
            f"{y_name}: expected a numpy array of int labels, got {_validate.describe(y)}"
        )
    if y.ndim != 1:
        raise ValueError(f"{y_name}: expected a 1-d array of labels, got shape {y.shape}")
    if np.issubdtype(X.dtype, np.floating):
        _validate.finite(name, X)


def _check_options(options: dict, num_train: int) -> None:
    """Check the Solver's options, before any of them is used."""
    rule = options["update_rule"]
    if not callable(rule) and not isinstance(rule, str):
        raise TypeError(
            f"update_rule: expected a name or a callable, got {_validate.describe(rule)}"
        )
    if options["optim_config"] is not None:
        _validate.mapping("optim_config", options["optim_config"])
        if rule in RULES:
            _validate.optim_config(rule, dict(options["optim_config"]))
    _validate.number("lr_decay", options["lr_decay"], 0, 1, low_open=True)
    _validate.integer("batch_size", options["batch_size"])
    _validate.integer("num_epochs", options["num_epochs"])
    _validate.optional_integer("num_train_samples", options["num_train_samples"])
    _validate.optional_integer("num_val_samples", options["num_val_samples"])
    _validate.integer("print_every", options["print_every"])
    _validate.boolean("verbose", options["verbose"])
    _validate.seed("seed", options["seed"])


class Solver:
    """Train a model by minibatch gradient descent.

    Parameters
    ----------
    model : object
        Has ``params`` (dict of arrays) and ``loss(X, y=None)``.
    data : dict
        ``X_train`` (N_train, ...), ``y_train`` (N_train,), ``X_val`` (N_val, ...),
        ``y_val`` (N_val,); other keys are ignored.
    update_rule : str or callable, default "sgd"
        A rule's name in :mod:`bpkit.optim` (``sgd``, ``sgd_momentum``, ``rmsprop``,
        ``adam``) or a function with the same contract.
    optim_config : dict, optional
        Hyperparameters for the rule; every parameter gets its own deep copy.
    lr_decay : float, default 1.0
        Each ``learning_rate`` is multiplied by this after every epoch.
    batch_size : int, default 100
        Examples per minibatch, drawn with replacement. A value above the number of
        training examples is capped to it (so the default works on small sets, and a
        typo such as 10**7 costs nothing); ``self.batch_size`` holds the value used.
    num_epochs : int, default 10
    num_train_samples : int or None, default 1000
        Training examples used to measure train accuracy each epoch (None: all).
    num_val_samples : int or None, default None
        Validation examples used each epoch (None: all).
    print_every : int, default 100
        With ``verbose``, refresh the loss shown on the bar every this many iterations.
    verbose : bool, default True
        Show a progress bar (``tqdm.auto``: a widget in Jupyter, text in a terminal) and
        per-epoch accuracies.
    seed : int, optional
        Seed of the minibatch sampling, for runs that repeat exactly.

    Attributes
    ----------
    loss_history : list of float
        The loss of every iteration.
    train_acc_history, val_acc_history : list of float
        Accuracies at the end of every epoch.
    best_val_acc : float
    best_params : dict
        Copies of the parameters with the best validation accuracy; ``train()`` puts them
        back into the model at the end.
    """

    def __init__(self, model, data: dict, **kwargs):
        unknown = sorted(set(kwargs) - set(OPTIONS))
        if unknown:
            raise ValueError(
                f"Solver: unrecognized option(s) {unknown}; expected some of {sorted(OPTIONS)}"
            )
        _validate.mapping("data", data)
        missing = [k for k in DATA_KEYS if k not in data]
        if missing:
            raise ValueError(f"data: missing key(s) {missing}; expected {list(DATA_KEYS)}")
        for split in ("train", "val"):
            _check_split(f"data['X_{split}']", data[f"X_{split}"], data[f"y_{split}"])
            X, y = data[f"X_{split}"], data[f"y_{split}"]
            if len(X) != len(y):
                raise ValueError(
                    f"data: X_{split} has {len(X)} examples but y_{split} has {len(y)} labels; "
                    "expected one label per example"
                )
        if not hasattr(model, "params") or not callable(getattr(model, "loss", None)):
            raise TypeError(
                f"model: expected an object with params and loss(X, y), got {type(model).__name__}"
            )
        _validate.mapping("model.params", model.params)
        for name, value in model.params.items():
            _validate.float_array(f"model.params[{name!r}]", value)
        options = {**OPTIONS, **kwargs}
        _check_options(options, len(data["X_train"]))
        # One example through the model: X of the wrong size or dtype, and labels beyond
        # its classes, fail here rather than after an epoch of training.
        num_classes = np.shape(model.loss(data["X_train"][:1]))[-1]
        for split in ("train", "val"):
            _validate.labels(
                f"data['y_{split}']", data[f"y_{split}"], len(data[f"X_{split}"]), num_classes
            )
        self.model = model
        self.X_train, self.y_train = data["X_train"], data["y_train"]
        self.X_val, self.y_val = data["X_val"], data["y_val"]

        self.update_rule = self._resolve_rule(options["update_rule"])
        self.optim_config = dict(options["optim_config"] or {})
        self.lr_decay = options["lr_decay"]
        self.batch_size = min(int(options["batch_size"]), len(self.X_train))
        self.num_epochs = options["num_epochs"]
        self.num_train_samples = options["num_train_samples"]
        self.num_val_samples = options["num_val_samples"]
        self.print_every = options["print_every"]
        self.verbose = options["verbose"]
        # Two independent streams from one seed: measuring accuracy on a random subset
        # must not shift the sequence of minibatches.
        batches, subsets = np.random.SeedSequence(options["seed"]).spawn(2)
        self.rng = np.random.default_rng(batches)
        self.eval_rng = np.random.default_rng(subsets)
        self._reset()

    @staticmethod
    def _resolve_rule(rule: str | Callable) -> Callable:
        if callable(rule):
            return rule
        if rule not in RULES:
            raise ValueError(
                f"update_rule: expected one of {list(RULES)} or a callable, got {rule!r}"
            )
        return getattr(optim, rule)

    def _reset(self) -> None:
        self.epoch = 0
        self.best_val_acc = 0.0
        self.best_params = {k: v.copy() for k, v in self.model.params.items()}
        self.loss_history: list[float] = []
        self.train_acc_history: list[float] = []
        self.val_acc_history: list[float] = []
        self.optim_configs = {p: copy.deepcopy(self.optim_config) for p in self.model.params}

    def _step(self) -> float:
        """One minibatch: loss, gradients, and an update of every parameter."""
        idx = self.rng.choice(len(self.X_train), self.batch_size)
        loss, grads = self.model.loss(self.X_train[idx], self.y_train[idx])
        missing = [name for name in self.model.params if name not in grads]
        if missing:
            raise ValueError(
                f"model.loss: expected gradients for every parameter, missing {missing}"
            )
        for name, w in self.model.params.items():
            next_w, self.optim_configs[name] = self.update_rule(
                w, grads[name], self.optim_configs[name]
            )
            self.model.params[name] = next_w
        return float(loss)

    def check_accuracy(
        self, X: np.ndarray, y: np.ndarray, num_samples: int | None = None, batch_size: int = 200
    ) -> float:
        """Fraction of examples whose highest score is their label.

        Parameters
        ----------
        X : ndarray, shape (N, ...)
            Inputs, as the model's ``loss`` takes them.
        y : ndarray of int, shape (N,)
            Labels.
        num_samples : int, optional
            Score a random subset of this size (drawn from the Solver's evaluation stream,
            never the minibatch one) instead of all N.
        batch_size : int
            Examples per call to ``model.loss``, to bound memory.

        Returns
        -------
        float
            Accuracy in [0, 1].
        """
        _check_split("X", X, y, "y")
        if len(X) != len(y):
            raise ValueError(f"y: expected {len(X)} labels, one per example in X, got {len(y)}")
        _validate.optional_integer("num_samples", num_samples)
        _validate.integer("batch_size", batch_size)
        if num_samples is not None and len(X) > num_samples:
            idx = self.eval_rng.choice(len(X), num_samples, replace=False)
            X, y = X[idx], y[idx]
        scores = [self.model.loss(X[i : i + batch_size]) for i in range(0, len(X), batch_size)]
        _validate.labels("y", y, len(X), scores[0].shape[1])
        predictions = np.concatenate([np.argmax(s, axis=1) for s in scores])
        return float(np.mean(predictions == y))

    def train(self) -> None:
        """Run ``num_epochs`` epochs, then restore the parameters with the best val accuracy."""
        per_epoch = max(len(self.X_train) // self.batch_size, 1)
        total = self.num_epochs * per_epoch
        bar = tqdm(total=total, disable=not self.verbose, unit="it", desc="training")
        try:
            for t in range(total):
                self.loss_history.append(self._step())
                bar.update(1)
                if self.verbose and (t + 1) % self.print_every == 0:
                    bar.set_postfix(loss=f"{self.loss_history[-1]:.4f}")
                if (t + 1) % per_epoch == 0:
                    self._end_epoch(bar)
        finally:
            bar.close()
        self.model.params = {k: v.copy() for k, v in self.best_params.items()}

    def _end_epoch(self, bar) -> None:
        self.epoch += 1
        for config in self.optim_configs.values():
            if "learning_rate" in config:
                config["learning_rate"] *= self.lr_decay
        train_acc = self.check_accuracy(self.X_train, self.y_train, self.num_train_samples)
        val_acc = self.check_accuracy(self.X_val, self.y_val, self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        if self.verbose:
            bar.set_postfix(loss=f"{self.loss_history[-1]:.4f}", val_acc=f"{val_acc:.3f}")
        if val_acc > self.best_val_acc or self.epoch == 1:
            self.best_val_acc = val_acc
            self.best_params = {k: v.copy() for k, v in self.model.params.items()}
