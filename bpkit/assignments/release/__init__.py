"""``bpkit release``: the instructor's tool that writes a student edition from the source.

:mod:`.edition` renders and writes the edition, :mod:`.markers` finds and pairs the solution
markers (and stubs notebook cells), :mod:`.stubs` says which exercise owns each region of a
module and turns the released ones into stubs or back, :mod:`.nbfiles` applies the markers to
whole notebooks, :mod:`.student_files` writes the edition's own README, pyproject and
manifest, :mod:`.fill` puts the reference code back into an edition (for tests and
benchmarks), and :mod:`.source` finds the source and its files for both. Never shipped.
"""
