"""Running Python inside a released student edition, as a learner's shell would."""

import os
import subprocess
import sys
from pathlib import Path


def run_in(folder: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python *args`` in ``folder``, with nothing in the environment pointing elsewhere."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        [sys.executable, *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
