"""What ships with every student edition: the exercise registry, ``bpkit collect``, the
failure messages of the public tests and the nbval plugin they run with.

Everything in this folder is copied into the edition as it is, so nothing here may import
the release or grading code.
"""
