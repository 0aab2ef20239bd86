"""``bpkit release``: the instructor's tool that writes a student edition from the source.

:mod:`.edition` renders and writes the edition, :mod:`.markers` finds solution regions and
turns them into stubs, :mod:`.nbfiles` does the same for notebooks, and
:mod:`.student_files` writes the edition's own README, pyproject and manifest. Never shipped.
"""
