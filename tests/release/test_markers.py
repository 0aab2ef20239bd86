"""Finding solution regions: pairing, errors with file and line, and whose region it is."""

import re
import textwrap

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

from bpkit.assignments.release import markers, stubs
from bpkit.assignments.release.markers import MarkerError
from bpkit.assignments.student import exercises


def where(i):
    return f"f.py:{i + 1}"


def regions(text):
    return markers.find_regions(textwrap.dedent(text).split("\n"), markers.PYTHON, where)


def module(body):
    """A fake ``bpkit.layers`` source: the registry says which functions are targets."""
    return textwrap.dedent(body)


def test_pairs_regions_in_order_with_their_indentation():
    found = regions(
        """\
        a = 1
            # BEGIN SOLUTION
            b = 2
            # END SOLUTION
        # BEGIN SOLUTION
        # END SOLUTION
        """
    )
    assert found == [markers.Region(1, 3, "    "), markers.Region(4, 5, "")]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("x = 1\n# BEGIN SOLUTION\ny = 2\n", 2, "never closed"),
        ("x = 1\n# END SOLUTION\n", 2, "without a '# BEGIN SOLUTION'"),
        ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n", 2, "nested"),
        ("    # BEGIN SOLUTION\n    y = 1\n# END SOLUTION\n", 3, "indented 0 characters"),
        ("#BEGIN SOLUTION\n# END SOLUTION\n", 1, "malformed"),
        ("# END SOLUTION:\n", 1, "malformed"),
        ("# begin solution\n", 1, "malformed"),
    ],
    ids=["unclosed", "end-without-begin", "nested", "indent", "no-space", "colon", "lowercase"],
)
def test_marker_errors_name_the_file_and_line(text, line, words):
    with pytest.raises(MarkerError) as info:
        markers.find_regions(text.split("\n"), markers.PYTHON, where)
    assert info.value.where == f"f.py:{line}"
    assert str(info.value).startswith(f"f.py:{line}: ")
    assert words in info.value.message


@pytest.mark.parametrize(
    "comment",
    [
        "# BEGIN_SOLUTION",
        "# BEGIN SOLUTIONS",
        "## BEGIN SOLUTION",
        "# END_SOLUTION",
        "#  END  SOLUTION",
        "# BEGIN SOLUTION here",
        "# begin the solution",
        "# ENDSOLUTION",
        "# --- BEGIN SOLUTION ---",
        "# solution: begin",
    ],
)
def test_a_near_miss_marker_in_a_module_stops_it_naming_the_line(comment):
    # Missed as a marker, the line would leave the solution below it unmarked: it would ship.
    text = (
        f"def affine_forward(x):\n    {comment}\n    out = x\n    # END SOLUTION\n    return out\n"
    )
    with pytest.raises(MarkerError) as info:
        stubs.module_regions(text, "bpkit/layers.py", "bpkit.layers")
    assert info.value.where == "bpkit/layers.py:2"
    assert "malformed solution marker" in info.value.message
    assert repr(comment) in info.value.message


def test_a_near_miss_in_a_trailing_comment_is_refused_too():
    text = "def affine_forward(x):\n    out = x  # BEGIN SOLUTION\n    return out\n"
    with pytest.raises(MarkerError, match=r"bpkit/layers\.py:2: .*alone on its line"):
        stubs.module_regions(text, "bpkit/layers.py", "bpkit.layers")


@pytest.mark.parametrize(
    "line",
    [
        "# The solution depends on the stride.",
        "# appended to the solution list",
        "x = 'BEGIN SOLUTION'",
        "# BEGIN",
        "# no markers here",
    ],
)
def test_lines_that_only_mention_solutions_are_not_markers(line):
    text = f'"""Doc.\n\n# BEGIN SOLUTION in a docstring is text.\n"""\n{line}\n'
    assert stubs.module_regions(text, "bpkit/layers.py", "bpkit.layers") == []


@pytest.mark.parametrize(
    ("kind", "line"),
    [
        ("code", "## BEGIN SOLUTION"),
        ("code", "    # BEGIN SOLUTIONS"),
        ("code", "# end_solution"),
        ("code", "y = 2  # BEGIN SOLUTION"),
        ("markdown", "# BEGIN SOLUTION"),
        ("markdown", "<!-- BEGIN SOLUTIONS -->"),
        ("markdown", "<!--BEGIN SOLUTION-->"),
        ("markdown", "**End of solution**"),
        ("markdown", "<!-- END SOLUTION --> and more"),
    ],
)
def test_a_near_miss_in_a_notebook_cell_names_cell_and_line(kind, line):
    def cell_where(i):
        return f"nb.ipynb, cell 3, line {i + 1}"

    with pytest.raises(MarkerError) as info:
        markers.cell_regions(f"text\n{line}\nmore", kind, cell_where)
    assert info.value.where == "nb.ipynb, cell 3, line 2"
    assert "malformed solution marker" in info.value.message


def test_a_markdown_cell_may_mention_solutions_without_begin_or_end():
    text = "Compare your solution with the numbers below; the depend-on-it part."
    assert markers.cell_regions(text, "markdown", str) == []


def test_nested_error_also_names_the_open_region():
    with pytest.raises(MarkerError, match=r"f\.py:3: nested .* opened at f\.py:1"):
        regions("# BEGIN SOLUTION\nx = 1\n# BEGIN SOLUTION\n# END SOLUTION\n# END SOLUTION\n")


def test_module_regions_belong_to_the_enclosing_target():
    text = module(
        '''\
        """Doc mentioning # BEGIN SOLUTION inline is not a marker."""


        def affine_forward(x, w, b):
            """The docstring.

            # BEGIN SOLUTION
            """
            # BEGIN SOLUTION
            out = x @ w + b
            # END SOLUTION
            return out, None


        class Holder:
            def tidy(self):
                return 1
        '''
    )
    found = stubs.module_regions(text, "bpkit/layers.py", "bpkit.layers")
    assert [(o.exercise, o.qualname, o.region.begin) for o in found] == [
        ("affine", "affine_forward", 8)
    ]


def test_region_in_a_nested_function_belongs_to_the_outer_target():
    text = module(
        """\
        class TwoLayerNet:
            def loss(self, X, y=None):
                def inner():
                    # BEGIN SOLUTION
                    return 1
                    # END SOLUTION
                return inner()
        """
    )
    (found,) = stubs.module_regions(text, "bpkit/models.py", "bpkit.models")
    assert (found.exercise, found.qualname) == ("two_layer_net", "TwoLayerNet.loss")


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        ("def tidy():\n    # BEGIN SOLUTION\n    x = 1\n    # END SOLUTION\n", 2, "'tidy'"),
        ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", 1, "at module level"),
        (
            "def affine_forward():\n    # BEGIN SOLUTION\n    x = 1\n\n\n"
            "def relu_forward():\n    y = 2\n    # END SOLUTION\n",
            2,
            "more than one function",
        ),
    ],
    ids=["not-a-target", "module-level", "spans-two-functions"],
)
def test_region_outside_a_target_is_an_error(body, line, words):
    with pytest.raises(MarkerError) as info:
        stubs.module_regions(body, "bpkit/layers.py", "bpkit.layers")
    assert info.value.where == f"bpkit/layers.py:{line}"
    assert words in info.value.message


def test_a_region_that_cuts_a_block_fails_the_stubbing_with_the_line():
    text = module(
        """\
        def relu_forward(x):
            if x:
            # BEGIN SOLUTION
                y = 1
            # END SOLUTION
            return y
        """
    )
    with pytest.raises(MarkerError, match=r"bpkit/layers\.py:\d+: the stubbed module is not valid"):
        stubs.render_module(text, "bpkit/layers.py", "bpkit.layers", {"relu"})


def test_markdown_markers_and_wrong_kind_in_a_cell():
    cell = new_markdown_cell("Q?\n<!-- BEGIN SOLUTION -->\nA.\n<!-- END SOLUTION -->")

    def cell_where(i):
        return f"nb.ipynb, cell 2, line {i + 1}"

    assert markers.cell_regions(cell.source, "markdown", cell_where) == [markers.Region(1, 3, "")]
    code = new_code_cell("x = 1\n<!-- BEGIN SOLUTION -->\n")
    with pytest.raises(MarkerError, match=r"nb\.ipynb, cell 2, line 2: malformed"):
        markers.cell_regions(code.source, "code", cell_where)
    unclosed = new_code_cell("x = 1\n# BEGIN SOLUTION\ny = 2")
    with pytest.raises(MarkerError, match=r"nb\.ipynb, cell 2, line 2: .* never closed"):
        markers.cell_regions(unclosed.source, "code", cell_where)


@pytest.fixture
def other_stub_spelling(monkeypatch):
    """Give the registry another stub message, to see who follows it."""
    monkeypatch.setattr(exercises, "stub_message", lambda name, qualname: f"{name}/{qualname} todo")
    monkeypatch.setattr(
        exercises, "STUB_MESSAGE", re.compile(r"(?P<exercise>\w+)/(?P<qualname>[\w.]+) todo")
    )


def test_stubs_are_written_and_filled_with_the_registry_message(other_stub_spelling):
    text = module(
        """\
        def affine_forward(x):
            # BEGIN SOLUTION
            out = x
            # END SOLUTION
            return out
        """
    )
    stubbed = stubs.render_module(text, "bpkit/layers.py", "bpkit.layers", {"affine"})
    assert '    raise NotImplementedError("affine/affine_forward todo")' in stubbed.split("\n")
    filled = stubs.fill_module(stubbed, text, "bpkit/layers.py", "bpkit.layers", {"affine"})
    assert filled == stubs.render_module(text, "bpkit/layers.py", "bpkit.layers", ())


def test_the_registry_pattern_reads_back_every_stub_message():
    for ex in exercises.EXERCISES:
        for target in ex.targets:
            found = exercises.STUB_MESSAGE.fullmatch(exercises.stub_message(ex.name, target))
            assert found is not None, (ex.name, target)
            assert (found["exercise"], found["qualname"]) == (ex.name, target)
