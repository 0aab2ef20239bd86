"""Test-suite settings shared by every test module."""

import os

from hypothesis import HealthCheck, settings

# Shared machines are noisy: no per-example deadline, and a fixed example budget so that a
# run takes the same time everywhere. CI gets a derandomized profile so a failure repeats.
settings.register_profile(
    "dev", deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=25,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
