"""The code base stays ruff clean (config in pyproject.toml)."""

import subprocess
import sys

import pytest

from tom_desc.local_services import BASE_DIR


@pytest.mark.slow
def test_ruff_check_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=BASE_DIR, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
