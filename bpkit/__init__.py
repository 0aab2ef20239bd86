"""bpkit: backpropagation from scratch in numpy.

The numerical modules a learner reads are ``layers``, ``fast_layers``, ``layer_utils``,
``optim``, ``models``, ``solver``, ``gradcheck`` and ``data``. The tooling that releases
and grades assignments lives apart, in ``bpkit.assignments``.
"""

__version__ = "0.1.0"
