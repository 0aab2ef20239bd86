"""Settings for running the notebooks under nbval (pytest --nbval, see pyproject.toml).

On a machine where matplotlib has never run, its first import builds a font cache, and when
that takes more than a few seconds it logs "Matplotlib is building the font cache" to stderr.
In a notebook kernel the message would become an output of the first cell and fail nbval's
comparison. Importing the font manager here, in the pytest process, builds the cache once
before any kernel starts.
"""

import matplotlib.font_manager  # noqa: F401
