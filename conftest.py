"""Settings for the whole test run, the notebooks under nbval included (see pyproject.toml).

It sits at the repository root, next to ``pyproject.toml``, so that pytest loads it for any
path it is given (``tests``, ``notebooks`` or a single file), and so that ``notebooks/`` holds
nothing but the notebooks.

- **Backend.** The notebook kernels start with ``MPLBACKEND=Agg``, the setting of headless
  servers and CI images where plots go nowhere. Each notebook's setup cell selects the inline
  backend itself (``%matplotlib inline``), so its figures are stored and compared whatever the
  environment says; running the notebooks this way on every run proves it.
- **Font cache.** On a machine where matplotlib has never run, its first import builds a font
  cache, and when that takes more than a few seconds it logs "Matplotlib is building the font
  cache" to stderr. In a notebook kernel the message would become an output of the first cell
  and fail the comparison. Importing the font manager here, in the pytest process, builds the
  cache once before any kernel starts.
"""

import os

import matplotlib.font_manager  # noqa: F401

# Kernels inherit the environment of the pytest process that starts them.
os.environ["MPLBACKEND"] = "Agg"
