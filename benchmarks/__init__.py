"""Benchmarks of bpkit's fast layers against the naive loops, PyTorch's CPU kernels and BLAS.

Run ``python -m benchmarks.run`` from the repository root (``--help`` for options).
"""
