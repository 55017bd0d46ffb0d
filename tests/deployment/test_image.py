"""The image's build step (collectstatic) and entry point (gunicorn with
docker/gunicorn.conf.py, docker/healthcheck.py), run as the image runs them,
and what goes into the image."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.deployment.manifests import ROOT
from tests.ports import free_port
from tom_desc.local_services import port_open

# --- the image ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_image_build_step_and_entry_point_serve_the_site(subprocess_env, tmp_path):
    """collectstatic as the Dockerfile runs it (no database, build-only key),
    then gunicorn with docker/gunicorn.conf.py on those files, checked by
    docker/healthcheck.py as the HEALTHCHECK and the probes run it."""
    static_root = tmp_path / "static"
    build_env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "DATABASE_URL", "DJANGO_SECRET_KEY"))}
    build_env.update(
        DJANGO_SECRET_KEY="build-only-collectstatic-key",
        STATIC_ROOT=str(static_root),
        DESC_VAR_DIR=str(tmp_path / "build-var"),
        DB_HOST="database.invalid",
        DEBUG="0",
    )
    build = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=build_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    assert (static_root / "staticfiles.json").exists()
    assert not (tmp_path / "build-var" / "secret_key").exists(), "the build must not create a key"

    port = free_port()
    run_env = dict(subprocess_env)
    run_env.update(
        STATIC_ROOT=str(static_root),
        DESC_VAR_DIR=str(tmp_path / "var"),
        DJANGO_SECRET_KEY="test-run-key",
        DEBUG="0",
        ALLOWED_HOSTS="desc-tom.test",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="1",
        GUNICORN_THREADS="2",
    )
    healthcheck = [sys.executable, str(ROOT / "docker" / "healthcheck.py")]
    gunicorn = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--config", "docker/gunicorn.conf.py", "tom_desc.wsgi"],
        cwd=ROOT,
        env=run_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not port_open("127.0.0.1", port) and time.monotonic() < deadline:
            assert gunicorn.poll() is None, gunicorn.stderr.read()[-2000:]
            time.sleep(0.2)
        # As Docker does within the start period: retry while the worker loads Django.
        while True:
            check = subprocess.run(healthcheck, env=run_env, capture_output=True, text=True, timeout=30)
            if check.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert check.returncode == 0, check.stderr
        # A host Django does not accept is what the health check must not use.
        wrong = subprocess.run(
            healthcheck, env={**run_env, "ALLOWED_HOSTS": "other.test"}, capture_output=True, text=True
        )
        assert wrong.returncode == 1
        assert "HTTP 400" in wrong.stderr
        static_url = "/static/vendor/bootstrap/bootstrap.min.css"
        request = urllib.request.Request(f"http://127.0.0.1:{port}{static_url}", headers={"Host": "desc-tom.test"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
            assert b"bootstrap" in response.read(2000).lower()
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(timeout=30)
    assert gunicorn.returncode == 0, "gunicorn must stop cleanly on SIGTERM"
    down = subprocess.run(healthcheck, env=run_env, capture_output=True, text=True, timeout=30)
    assert down.returncode == 1
    assert "unhealthy" in down.stderr


def test_every_static_file_a_template_names_exists():
    """With the production (manifest) storage, one missing file named by
    {% static %} makes every page using that template answer HTTP 500."""
    from django.conf import settings
    from django.contrib.staticfiles import finders
    from django.template.loaders.app_directories import get_app_template_dirs

    pattern = re.compile(r"""\{%\s*static\s+['"]([^'"]+)['"]""")
    missing = []
    for directory in [*settings.TEMPLATES[0]["DIRS"], *get_app_template_dirs("templates")]:
        for template in Path(directory).rglob("*.html"):
            for name in pattern.findall(template.read_text(errors="replace")):
                if not finders.find(name):
                    missing.append(f"{template}: {name}")
    assert missing == []


def test_gunicorn_settings_come_from_the_environment():
    namespace: dict = {}
    env = {"GUNICORN_WORKERS": "7", "GUNICORN_THREADS": "3", "GUNICORN_TIMEOUT": "900", "GUNICORN_BIND": "[::]:9000"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        exec((ROOT / "docker" / "gunicorn.conf.py").read_text(), namespace)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key)
            else:
                os.environ[key] = value
    assert (namespace["workers"], namespace["threads"], namespace["timeout"]) == (7, 3, 900)
    assert namespace["bind"] == "[::]:9000"
    assert namespace["worker_class"] == "gthread"


def test_image_requirements_and_dockerignore():
    """What docker/requirements-not-in-image.txt leaves out of the image is
    pinned in requirements.txt and is none of what the image runs; local
    state and secrets stay out of the build context."""
    requirements = {
        re.split(r"[=<>!\[;\s]", line, maxsplit=1)[0].lower()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    excluded = [
        line.strip().lower()
        for line in (ROOT / "docker" / "requirements-not-in-image.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert set(excluded) <= requirements, "requirements-not-in-image.txt names packages that are not pinned"
    assert not {"django", "gunicorn", "psycopg", "confluent-kafka", "whitenoise"} & set(excluded)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"secrets", ".venv", ".git"} <= set(ignored), "secrets and local state must stay out of the image"
