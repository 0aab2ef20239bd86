"""Project hygiene: lint, the public API surface, and the two install files agreeing."""

import inspect
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Every public name of the API contract, with its positional parameters in order.
API = {
    "bpkit.layers": {
        "affine_forward": ["x", "w", "b"],
        "affine_backward": ["dout", "cache"],
        "relu_forward": ["x"],
        "relu_backward": ["dout", "cache"],
        "softmax_loss": ["x", "y"],
        "svm_loss": ["x", "y"],
        "conv_forward_naive": ["x", "w", "b", "conv_param"],
        "conv_backward_naive": ["dout", "cache"],
        "max_pool_forward_naive": ["x", "pool_param"],
        "max_pool_backward_naive": ["dout", "cache"],
    },
    "bpkit.fast_layers": {
        "conv_forward_fast": ["x", "w", "b", "conv_param"],
        "conv_backward_fast": ["dout", "cache"],
        "max_pool_forward_fast": ["x", "pool_param"],
        "max_pool_backward_fast": ["dout", "cache"],
    },
    "bpkit.layer_utils": {
        "affine_relu_forward": ["x", "w", "b"],
        "affine_relu_backward": ["dout", "cache"],
        "conv_relu_forward": ["x", "w", "b", "conv_param"],
        "conv_relu_backward": ["dout", "cache"],
        "conv_relu_pool_forward": ["x", "w", "b", "conv_param", "pool_param"],
        "conv_relu_pool_backward": ["dout", "cache"],
    },
    "bpkit.optim": {
        rule: ["w", "dw", "config"] for rule in ("sgd", "sgd_momentum", "rmsprop", "adam")
    },
    "bpkit.gradcheck": {
        "rel_error": ["x", "y"],
        "eval_numerical_gradient": ["f", "x", "verbose", "h"],
        "eval_numerical_gradient_array": ["f", "x", "df", "h"],
        "grad_check_sparse": ["f", "x", "analytic_grad", "num_checks", "h", "seed"],
    },
    "bpkit.models": {
        "TwoLayerNet": ["input_dim", "hidden_dim", "num_classes", "weight_scale", "reg"],
        "ThreeLayerConvNet": [
            "input_dim",
            "num_filters",
            "filter_size",
            "hidden_dim",
            "num_classes",
            "weight_scale",
            "reg",
            "dtype",
        ],
    },
    "bpkit.solver": {"Solver": ["model", "data"]},
    "bpkit.data": {"load_digits": [], "load_cifar10": ["root"], "load_mnist": ["root"]},
}


@pytest.mark.parametrize(("module", "name"), [(m, n) for m, names in API.items() for n in names])
def test_api_name_exists_with_its_signature(module, name):
    obj = getattr(__import__(module, fromlist=[name]), name)
    params = list(inspect.signature(obj).parameters)
    expected = API[module][name]
    assert params[: len(expected)] == expected, f"{module}.{name}{tuple(params)}"
    assert obj.__doc__ and len(obj.__doc__.strip().splitlines()) > 3, f"{name} lacks a docstring"


def test_defaults_of_the_optimizer_rules_match_the_contract():
    import numpy as np

    from bpkit import optim

    w = np.zeros(2)
    expected = {
        "sgd": {"learning_rate": 1e-2},
        "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
        "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
        "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
    }
    for rule, defaults in expected.items():
        _, config = getattr(optim, rule)(w.copy(), w.copy())
        assert {k: config[k] for k in defaults} == defaults, rule


def _requirement_names(requirements):
    return {re.split(r"[<>=\[ ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_environment_yml_installs_what_pyproject_declares():
    # The installed metadata is pyproject.toml's dependency list, extras included.
    requirements = [r for r in metadata.requires("bpkit") if 'extra == "bench"' not in r]
    wanted = _requirement_names(requirements)
    text = (ROOT / "environment.yml").read_text()
    listed = {name.lower() for name in re.findall(r"^\s+- ([A-Za-z0-9_.-]+)", text, re.MULTILINE)}
    assert wanted <= listed, f"missing from environment.yml: {sorted(wanted - listed)}"
    assert re.search(r"^\s+- -e \.$", text, re.MULTILINE), "environment.yml must install bpkit"


@pytest.mark.parametrize(
    "args", [["check", "."], ["format", "--check", "."]], ids=["lint", "format"]
)
def test_ruff_is_clean(args):
    done = subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_exercise_has_a_registered_marker_and_a_public_test_file(pytestconfig):
    from bpkit.assignments.student.exercises import EXERCISES

    # The markers registered in this run, which read the repository's pyproject.toml: what
    # `python -m pytest --markers` lists there, without starting a second pytest to ask.
    assert pytestconfig.inipath is not None
    assert pytestconfig.inipath.resolve() == (ROOT / "pyproject.toml").resolve()
    # A name as --strict-markers takes it from an ini line ("name(args): text").
    registered = {
        line.split(":")[0].split("(")[0].strip() for line in pytestconfig.getini("markers")
    }
    for ex in EXERCISES:
        assert ex.name in registered, f"exercise {ex.name} has no marker in pyproject.toml"
        assert (ROOT / ex.public_tests).is_file(), f"{ex.public_tests} is missing"


def test_pyproject_markers_are_the_registrys_word_for_word():
    # The edition's pyproject.toml is generated from the registry; the repository's is typed,
    # so it is held to the same lines, in the same order, before its own (integration).
    from bpkit.assignments.student import exercises

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    typed = project["tool"]["pytest"]["ini_options"]["markers"]
    expected = exercises.pytest_markers()
    assert len(expected) == len(exercises.EXERCISES) + 1
    own = typed[len(expected) :]
    assert typed[: len(expected)] == expected, "pyproject.toml's markers differ from the registry's"
    assert not {line.split(":")[0] for line in own} & {*exercises.BY_NAME, "slow"}, own


def test_readme_shows_the_benchmark_tables_as_the_command_wrote_them():
    # `python -m benchmarks.run --markdown benchmarks/RESULTS.md` writes the file; the README
    # must hold it unchanged between its markers, so no figure there is typed by hand.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- benchmark-table:start -->\n", "<!-- benchmark-table:end -->"
    assert start in readme and end in readme, "README lacks the benchmark markers"
    block = readme[readme.index(start) + len(start) : readme.index(end)]
    written = (ROOT / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
    assert block == written, "README's benchmark block differs from benchmarks/RESULTS.md"
    assert written.startswith("Machine: "), "the tables must say which machine ran them"
