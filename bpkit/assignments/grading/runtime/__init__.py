"""The worker's side of grading: the modules copied next to each worker process.

The worker runs student code, so it must hold nothing of the reference solution: every
module here imports only the standard library, numpy and its siblings in this folder (a
test checks it). The grader imports :mod:`.wire` and :mod:`.sandbox` from here too.
"""
