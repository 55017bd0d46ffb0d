"""manage.py without a reachable database: one line and a non-zero exit, no traceback."""

import os

import pytest

from tests.manage_py import run_manage
from tests.ports import free_port


@pytest.mark.slow
def test_command_without_the_database_says_so_in_one_line():
    env = {**os.environ, "DB_HOST": "127.0.0.1", "DB_PORT": str(free_port())}
    env.pop("DATABASE_URL", None)
    result = run_manage(env, "send_elasticc_alerts", "-d", "60000", timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"cannot use the database at 127.0.0.1:{env['DB_PORT']}")
    assert "tom_desc.local_services up" in lines[0]
