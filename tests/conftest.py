"""Test-suite settings shared by every test module.

Hypothesis profiles (``python -m pytest --hypothesis-profile NAME``):

- ``default`` (used unless told otherwise): derandomized, so every run on every machine
  draws the same examples and a failure repeats exactly; no example database, so no
  ``.hypothesis/`` folder replays an old failure into a later run; no per-example deadline,
  because a shared or slow machine must not turn a correct result into a failure; no
  explain phase, which re-runs a failing test many times (seconds each) to annotate it.
- ``explore``: fresh random examples, ten times as many, for hunting new failing cases,
  with failing examples explained.
  Still no database: a failure prints the example and the ``@reproduce_failure`` line to
  paste into the test, so nothing is replayed behind anyone's back.
"""

from hypothesis import HealthCheck, Phase, settings

_COMMON = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow],
}
settings.register_profile(
    "default",
    max_examples=25,
    derandomize=True,
    phases=[p for p in Phase if p is not Phase.explain],
    **_COMMON,
)
settings.register_profile(
    "explore", max_examples=250, derandomize=False, print_blob=True, **_COMMON
)
settings.load_profile("default")
