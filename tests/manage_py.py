"""Running `manage.py` in a subprocess, as production runs the commands."""

import subprocess
import sys

from tom_desc.local_services import BASE_DIR


def run_manage(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`manage.py ARGS` run to its end in the project directory, its output captured as text."""
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=timeout
    )
