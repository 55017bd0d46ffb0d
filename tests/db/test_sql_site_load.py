"""Slow SQL cannot take the site down: with gunicorn as deployed (gthread
workers), eight slow queries leave the login page fast (regression: with 8
slow queries an anonymous login page took 16 s)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
import requests
from rest_framework.authtoken.models import Token

from tests.builders import make_user
from tests.ports import free_port
from tom_desc.local_services import BASE_DIR, port_open

pytestmark = pytest.mark.slow


def test_slow_sql_leaves_pages_responsive(subprocess_env, tmp_path):
    tokens = [Token.objects.get_or_create(user=make_user(f"sqluser{i}"))[0].key for i in range(3)]
    env = {**subprocess_env, "STATIC_ROOT": str(tmp_path / "static"), "SQL_STATEMENT_TIMEOUT_MS": "30000"}
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=BASE_DIR, env=env, check=True
    )
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--threads", "4", "--bind", f"127.0.0.1:{port}",
         "tom_desc.wsgi"],
        cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    answers: list[dict] = []
    try:
        deadline = time.monotonic() + 60
        while not port_open("127.0.0.1", port):
            assert server.poll() is None, "gunicorn exited"
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.3)

        for _ in range(4):  # both workers have loaded the page once
            requests.get(f"{url}/accounts/login/", timeout=60)
        quiet_started = time.monotonic()
        requests.get(f"{url}/accounts/login/", timeout=60)
        quiet = time.monotonic() - quiet_started

        def slow_query(token: str) -> None:
            response = requests.post(
                f"{url}/db/runsqlquery/",
                json={"query": "SELECT pg_sleep(6) AS slept"},
                headers={"Authorization": f"Token {token}"},
                timeout=60,
            )
            answers.append(response.json())

        threads = [threading.Thread(target=slow_query, args=(tokens[i % 3],)) for i in range(8)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        started = time.monotonic()
        page = requests.get(f"{url}/accounts/login/", timeout=30)
        elapsed = time.monotonic() - started
        for thread in threads:
            thread.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert page.status_code == 200
    assert elapsed < max(2.0, 5 * quiet), f"the login page took {elapsed:.1f} s while slow SQL ran ({quiet:.2f} s idle)"
    finished = [a for a in answers if a["status"] == "ok"]
    refused = [a for a in answers if a["status"] == "error"]
    assert len(finished) + len(refused) == 8
    assert finished, answers
    assert all("SQL_MAX_CONCURRENT" in a["error"] for a in refused), refused
