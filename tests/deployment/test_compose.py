"""docker-compose.yml, checked against the code without Docker: it validates
against the Compose Specification schema (the copy check-jsonschema ships),
its references resolve, it starts in order, every `manage.py` command line
names a command the project has with options its parser accepts, every
environment variable given to the TOM's containers is one the code reads,
and every `*_FILE` path is a mounted secret."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deployment.manifests import (
    COMPOSE_FILE,
    SECRET_EXAMPLES,
    app_services,
    check_command_line,
    image_command,
    load_compose,
    upstream,
)

# --- docker compose -------------------------------------------------------------


@pytest.mark.slow
def test_compose_file_follows_the_compose_specification():
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_references_resolve(compose):
    services = compose["services"]
    declared_secrets = set(compose.get("secrets", {}))
    declared_volumes = set(compose.get("volumes", {}))
    for name, svc in services.items():
        for dep in svc.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown service {dep}"
            if not svc.get("profiles"):
                assert not services[dep].get("profiles"), f"{name} (always on) depends on {dep}, which is opt-in"
        assert set(svc.get("secrets", [])) <= declared_secrets, f"{name} uses undeclared secrets"
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared_volumes, f"{name} mounts undeclared volume {source}"
    examples = {p.stem for p in SECRET_EXAMPLES}
    for name, secret in compose["secrets"].items():
        path = Path(secret["file"])
        assert path.parts[:2] == (".", "secrets") or path.parts[0] == "secrets", f"secret {name} outside ./secrets/"
        assert path.name in examples, f"secrets/{path.name}.example is missing (docker/make-secrets.sh needs it)"


def test_compose_comes_up_in_order(compose):
    services = compose["services"]
    apps = app_services(compose)
    assert services["postgres"]["image"].split(":")[1].split(".")[0] == "15"
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"], "Kafka must run in KRaft mode"
    node = str(kafka["environment"]["KAFKA_NODE_ID"])
    assert kafka["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{node}@kafka:")
    for name, svc in services.items():
        for dep, condition in svc.get("depends_on", {}).items():
            if condition["condition"] == "service_healthy":
                assert "test" in services[dep].get("healthcheck", {}), f"{name} waits for {dep}'s missing healthcheck"
            if condition["condition"] == "service_completed_successfully":
                assert services[dep].get("restart") == "no", f"{dep} is a one-shot job: restart must be 'no'"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "manage.py migrate" in " ".join(services["migrate"]["command"])
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    # Everything that uses the database starts after the migrate job (the
    # fake broker only talks to Kafka).
    for name in set(apps) - {"migrate", "fakebroker"}:
        assert "migrate" in upstream(services, name), f"{name} must start after the migrate job succeeded"
    assert "test" in services["web"]["healthcheck"], "web needs a healthcheck"
    assert not [name for name, svc in apps.items() if "entrypoint" in svc], "tini must stay the entry point"
    demo = {name for name, svc in services.items() if "demo" in svc.get("profiles", [])}
    assert {"fakebroker", "send_alerts"} <= demo


@pytest.mark.parametrize("service", sorted(app_services(load_compose())))
def test_compose_commands_exist_in_the_project(compose, service):
    svc = compose["services"][service]
    command = svc.get("command") or image_command()
    if isinstance(command, str):
        command = shlex.split(command)
    assert check_command_line(command) == []


def test_compose_env_vars_are_read_by_the_code(compose, code_env_vars):
    for name, svc in app_services(compose).items():
        unknown = set(svc.get("environment", {})) - code_env_vars
        assert not unknown, f"{name}: environment variables no code reads: {sorted(unknown)}"


def test_compose_secret_files_are_mounted(compose):
    for name, svc in compose["services"].items():
        mounted = {f"/run/secrets/{secret}" for secret in svc.get("secrets", [])}
        for var, value in svc.get("environment", {}).items():
            if var.endswith("_FILE"):
                assert value in mounted, f"{name}: {var}={value} is not one of its secrets"
