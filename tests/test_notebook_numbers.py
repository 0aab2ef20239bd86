"""Numbers that the notebooks' text states about their own outputs match the stored outputs.

An inline answer or a paragraph that quotes a result ("climbs from about 0.37 to about 0.97")
must agree with the output it describes; when a change to the package or to a notebook moves
the output, this test names the sentence to update. Each claim pairs a pattern in the markdown
with a pattern in the stored outputs; the stated number must be the output rounded to as
many decimals as the text gives.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

# (notebook, pattern in the markdown, pattern in the stored text outputs); group 1 of each is
# the number.
CLAIMS = [
    (
        "02_two_layer_net",
        r"climbs from about (0\.\d+) to",
        r"learning rate 0\.03 +val accuracy (0\.\d+)",
    ),
    (
        "02_two_layer_net",
        r"climbs from about 0\.\d+ to about (0\.\d+);",
        r"best: learning rate 1, reg \S+, val accuracy (0\.\d+)",
    ),
    (
        "04_update_rules",
        r"\\approx (\d\.\d)\\,\\eta\$ at \$t = 1\$",
        r"t = +1: with correction \S+ lr, without (\d+\.\d+) lr",
    ),
    (
        "04_update_rules",
        r"climbs to about \$(\d\.\d)\\,\\eta\$\s+near \$t = 12\$",
        r"t = +12: with correction \S+ lr, without (\d+\.\d+) lr",
    ),
    ("05_convnet", r"= (\d+\{,\}\d+)\$ of the", r"W2: shape .* (\d+) numbers"),
    ("05_convnet", r"of the \$(\d+\{,\}\d+)\$\s+numbers", r"total: (\d+) numbers"),
    ("05_convnet", r"a network with\s+(\d+,\d+) parameters", r"total: (\d+) numbers"),
    ("05_convnet", r"= (\d+)\$ weights and \d+ biases", r"W1: shape .* (\d+) numbers"),
    ("05_convnet", r"weights and (\d+) biases", r"b1: shape .* (\d+) numbers"),
]


def _texts(name: str) -> tuple[str, str]:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    markdown = "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    outputs = "\n".join(
        out.get("text", "")
        for c in nb.cells
        if c.cell_type == "code"
        for out in c.outputs
        if out.output_type == "stream"
    )
    return markdown, outputs


def _number(text: str) -> tuple[float, int]:
    """The value of a stated number, and its decimals ("51{,}200" and "52,630" included)."""
    plain = text.replace("{,}", "").replace(",", "")
    decimals = len(plain.split(".")[1]) if "." in plain else 0
    return float(plain), decimals


def check_claim(name, markdown, outputs, stated, measured):
    said = re.findall(stated, markdown)
    shown = re.findall(measured, outputs)
    assert len(said) == 1, f"{name}: expected one sentence matching {stated!r}, found {said}"
    assert len(shown) == 1, f"{name}: expected one output matching {measured!r}, found {shown}"
    value, decimals = _number(said[0])
    output = float(shown[0])
    assert value == round(output, decimals), (
        f"{name}: the text says {said[0]}, the output it describes is {shown[0]}"
    )


@pytest.mark.parametrize(
    ("name", "stated", "measured"), CLAIMS, ids=[f"{c[0]}: {c[1][:30]}" for c in CLAIMS]
)
def test_a_stated_number_matches_the_output_it_describes(name, stated, measured):
    check_claim(name, *_texts(name), stated, measured)


def test_a_number_that_does_not_match_its_output_fails():
    _, stated, measured = CLAIMS[0]
    outputs = "learning rate 0.03  val accuracy 0.37  0.37  0.36  0.33\n"
    check_claim("ok", "it climbs from about 0.37 to about 0.97;", outputs, stated, measured)
    with pytest.raises(AssertionError, match="the text says 0.33, the output it describes is 0.37"):
        check_claim("off", "it climbs from about 0.33 to about 0.97;", outputs, stated, measured)
    with pytest.raises(AssertionError, match="expected one sentence"):
        check_claim("gone", "it climbs from below 0.3 to about 0.97;", outputs, stated, measured)
