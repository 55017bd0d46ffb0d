"""Secrets: docker/make-secrets.sh, and no file that looks like a real
secret is tracked by git."""

from __future__ import annotations

import stat
import subprocess

import pytest

from tests.deployment.manifests import (
    ROOT,
    SECRET_EXAMPLES,
    suspicious_tracked_files,
)

# --- secrets --------------------------------------------------------------------------------


@pytest.mark.slow
def test_make_secrets_fills_missing_files_only(tmp_path):
    target = tmp_path / "secrets"
    script = ROOT / "docker" / "make-secrets.sh"
    subprocess.run([str(script), str(target)], check=True, capture_output=True)
    values = {p.name: p.read_text().strip() for p in target.iterdir()}
    assert set(values) == {p.stem for p in SECRET_EXAMPLES}
    assert all(len(v) >= 32 for v in values.values())
    assert len(set(values.values())) == len(values)
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    (target / "admin_password").write_text("chosen by the operator\n")
    (target / "db_password").unlink()
    subprocess.run([str(script), str(target)], check=True, capture_output=True)
    assert (target / "admin_password").read_text() == "chosen by the operator\n"
    assert (target / "django_secret_key").read_text().strip() == values["django_secret_key"]
    assert (target / "db_password").read_text().strip() not in {"", values["db_password"]}


def test_secret_scanner_flags_what_it_should():
    contents = {
        "secrets/db_password": "x",
        "spin/overlays/nersc/secrets/admin_password": "x",
        "deploy/.env": "A=1",
        "certs/tls.key": "x",
        "notes/key.txt": "-----BEGIN RSA " + "PRIVATE KEY-----\nabc\n",
        "deploy/values.yaml": "db:\n  password: hunter2hunter2\n",
        "secrets/README.md": "password: see below",
        "secrets/db_password.example": "example",
        "compose.yml": "DB_PASS_FILE: /run/secrets/db_password\nsasl.password: {file: /run/x}\n",
        "app/settings.py": 'PASSWORD = "correct-horse-battery-staple"',
        "spin/secret.yaml": "apiVersion: v1\nkind: Secret\nstringData:\n  db_password: x\n",
        "spin/template.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n",
        "spin/app.env": "DB_PASS_FILE=/run/secrets/desc-tom/db_password\nSQL_ADMIN_ROLE_PASSWORD=s3cr3t-value\n",
    }
    flagged = {line.split(":")[0] for line in suspicious_tracked_files(list(contents), contents.__getitem__)}
    assert flagged == {
        "secrets/db_password",
        "spin/overlays/nersc/secrets/admin_password",
        "deploy/.env",
        "certs/tls.key",
        "notes/key.txt",
        "deploy/values.yaml",
        "spin/secret.yaml",
        "spin/app.env",
    }


@pytest.mark.slow
def test_no_real_secret_is_tracked():
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True)
    paths = [p for p in listed.stdout.split("\0") if p and (ROOT / p).is_file()]

    def read(path: str) -> str:
        try:
            return (ROOT / path).read_text(errors="replace")[:200_000]
        except OSError:
            return ""

    assert suspicious_tracked_files(paths, read) == []
    for path in ("secrets/db_password", "spin/overlays/nersc/secrets/db_password"):
        ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
        assert ignored.returncode == 0, f"{path} must be git-ignored"
