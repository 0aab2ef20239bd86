"""Settings for the whole test run, the notebooks under nbval included (see pyproject.toml).

It sits at the repository root, next to ``pyproject.toml``, so that pytest loads it for any
path it is given (``tests``, ``notebooks`` or a single file), and so that ``notebooks/`` holds
nothing but the notebooks.

- **Backend.** The notebook kernels start with ``MPLBACKEND=Agg``, the setting of headless
  servers and CI images where plots go nowhere. Each notebook's setup cell selects the inline
  backend itself (``%matplotlib inline``), so its figures are stored and compared whatever the
  environment says; running the notebooks this way on every run proves it.
- **Threads.** One BLAS thread per process (see below): faster on a shared machine, and
  the same on every machine.
- **Font cache.** On a machine where matplotlib has never run, its first import builds a font
  cache, and when that takes more than a few seconds it logs "Matplotlib is building the font
  cache" to stderr. In a notebook kernel the message would become an output of the first cell
  and fail the comparison. Importing the font manager here, in the pytest process, builds the
  cache once before any kernel starts.
"""

import os
from pathlib import Path

# One BLAS thread in every process the tests start (xdist workers, notebook kernels, editions'
# own test runs, benchmark runs); set before anything here imports numpy. The suite already
# runs an xdist worker per core and one more, and OpenBLAS's threads spin while they wait for
# a core: on two busy cores, the ConvNet training of notebook 5 took 18 s of CPU time with
# OpenBLAS's default of two threads and 1.7 s with one.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import matplotlib.font_manager  # noqa: E402, F401
import pytest  # noqa: E402

# Kernels inherit the environment of the pytest process that starts them.
os.environ["MPLBACKEND"] = "Agg"

# The quick subset, `python -m pytest -m "not integration"`: the numerics, the public tests and
# the static checks of the notebooks. Everything that starts kernels, releases editions, runs
# the grader, the benchmarks or the linter is marked here by where it lives, so that a new
# test file in one of these places is marked too.
INTEGRATION = (
    "notebooks/",
    "tests/grading/",
    "tests/release/",
    "tests/student/",
    "tests/test_benchmarks.py",
    "tests/test_notebook_kernel.py",
    "tests/test_project.py",
)
ROOT = Path(__file__).resolve().parent


def pytest_xdist_auto_num_workers(config):
    """``-n auto``: one xdist worker more than the cores this process may use.

    Several tests spend most of their time waiting (for a grader's deadline, a killed
    process, a kernel to start); the extra worker runs other tests meanwhile.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return cores + 1


def pytest_collection_modifyitems(config, items):
    for item in items:
        try:
            rel = Path(item.path).resolve().relative_to(ROOT).as_posix()
        except ValueError:  # a file outside the repository: leave it alone
            continue
        if rel.startswith(INTEGRATION):
            item.add_marker(pytest.mark.integration)
