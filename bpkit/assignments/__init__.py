"""Assignment tooling: the exercise registry, the student-edition release, hand-in and grading.

Nothing here is numerical course material; learners read ``bpkit.layers`` and friends.
"""
