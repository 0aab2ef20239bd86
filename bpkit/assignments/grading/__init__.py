"""``bpkit grade`` and ``bpkit autograder``: the instructor's side of grading. Never shipped.

This process holds the reference solution and computes every score. :mod:`.submission`
reads what a student handed in, :mod:`.worker_client` starts and talks to a confined worker
process, :mod:`.checks` are the hidden checks, :mod:`.report` writes the table, CSV and
Gradescope JSON. Student code runs only in the worker, whose modules are in :mod:`.runtime`.
"""
