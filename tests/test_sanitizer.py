"""The nbval sanitizer file parses, and rewrites the volatile outputs and nothing else.

nbval reads ``tests/nbval_sanitize.cfg`` with its own parser (a ``regex: `` line followed
directly by a ``replace: `` line) and applies every rule, in order, with ``re.sub`` to the
stored and to the fresh outputs before comparing them. These tests use that same parser and
the same substitution, on sample lines and on every line the committed notebooks print.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from nbval.plugin import get_sanitize_patterns

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "tests" / "nbval_sanitize.cfg"
EXPECTED_RULES = 3


def rules() -> list[tuple[str, str]]:
    return get_sanitize_patterns(CONFIG.read_text(encoding="utf-8"))


def sanitize(text: str) -> str:
    """What nbval does to one output string."""
    for regex, replace in rules():
        text = re.sub(regex, replace, text)
    return text


def stdout_lines() -> list[tuple[str, str]]:
    """(notebook name, line) for every line of stdout stored in the committed notebooks."""
    found = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            # A cell's stdout may be stored in several pieces, split anywhere: join them first.
            text = "".join(
                "".join(out["text"])
                for out in cell.get("outputs", [])
                if out.get("output_type") == "stream" and out.get("name") == "stdout"
            )
            found += [(path.name, line) for line in text.splitlines()]
    return found


def test_the_file_parses_into_the_expected_rules():
    text = CONFIG.read_text(encoding="utf-8")
    parsed = rules()
    assert len(parsed) == EXPECTED_RULES, parsed
    # A "regex:" line that nbval's parser skipped (a blank line or a second space before its
    # "replace:") would silently drop its rule: every one must have been parsed.
    regex_lines = [line for line in text.splitlines() if line.startswith("regex:")]
    assert len(regex_lines) == EXPECTED_RULES, regex_lines
    for regex, _ in parsed:
        re.compile(regex)
        assert regex == regex.strip(), f"pattern {regex!r} starts or ends with a space"


@pytest.mark.parametrize(
    ("volatile", "expected"),
    [
        (
            "conv forward       naive     8.14 ms   fast    0.34 ms   speed-up 23.9x",
            "conv forward       naive <time> ms   fast <time> ms   "
            "speed-up <varies from run to run>",
        ),
        (
            "max pool backward  naive   112.70 ms   fast   10.05 ms   speed-up 11.2x",
            "max pool backward  naive <time> ms   fast <time> ms   "
            "speed-up <varies from run to run>",
        ),
        ("speed-up > 2x for every pass: PASS", "speed-up <varies from run to run>"),
        ("speed-up > 2x for every pass: FAIL", "speed-up <varies from run to run>"),
        (
            "<matplotlib.lines.Line2D at 0x7f3a2c1d0e50>",
            "<matplotlib.lines.Line2D at 0x<address>>",
        ),
    ],
)
def test_each_volatile_line_is_rewritten(volatile, expected):
    assert sanitize(volatile) == expected


@pytest.mark.parametrize("index", range(EXPECTED_RULES))
def test_every_rule_matches_a_volatile_sample(index):
    samples = [
        "naive     8.14 ms   fast    0.34 ms",
        "speed-up 23.9x",
        "at 0x7f3a2c1d0e50",
    ]
    regex, _ = rules()[index]
    assert re.search(regex, samples[index]), (regex, samples[index])


@pytest.mark.parametrize(
    "stable",
    [
        "dx: rel error < 1e-06  PASS",
        "sigmoid dx without dout (a bug): rel error > 0.01  PASS",
        "affine dw: rel error < 1e-06 (got 1.65e-05)  FAIL",
        "final train accuracy 0.81, best val accuracy 0.82",
        "test accuracy        0.99",
        "best: learning rate 1, reg 0.0001, val accuracy 0.97",
        "initial loss 2.303, ln 10 = 2.303",
        "sgd           1               2.21                 0.19             0.96",
        "X_train (1197, 1, 8, 8) X_val (300, 1, 8, 8) X_test (300, 1, 8, 8)",
        "<Figure size 640x400 with 1 Axes>",
    ],
)
def test_verdicts_accuracies_and_losses_are_left_alone(stable):
    assert sanitize(stable) == stable


def test_the_committed_notebooks_lose_only_their_timing_lines():
    lines = stdout_lines()
    assert len(lines) > 100, "expected the executed notebooks' outputs"
    changed = [(name, line) for name, line in lines if sanitize(line) != line]
    untouched = [(name, line) for name, line in lines if sanitize(line) == line]
    # Exactly the four timing rows and the speed verdict of the convolution notebook change.
    assert len(changed) == 5, changed
    assert {name for name, _ in changed} == {"03_convolution.ipynb"}
    assert all("speed-up" in line for _, line in changed), changed
    verdicts = [line for _, line in untouched if line.endswith(("PASS", "FAIL"))]
    assert len(verdicts) > 80, len(verdicts)
