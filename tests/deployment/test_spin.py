"""spin/ (NERSC Spin, Kubernetes), checked offline: it renders with kustomize
(`kubectl kustomize`), every object validates against the Kubernetes OpenAPI
schema (kubernetes-validate), and the commands, environment, secrets,
security context, ingress, database and volumes fit the code."""

from __future__ import annotations

import re
import shlex

import kubernetes_validate
import pytest

from tests.deployment.manifests import (
    APP_UID,
    KUBERNETES_VERSION,
    SECRET_EXAMPLES,
    SPIN,
    SPIN_ALLOWED_CAPABILITIES,
    all_containers,
    check_command_line,
    container_argv,
    container_env,
    find,
    is_app_image,
    manage_py_commands,
    render_kustomization,
    workloads,
)

# --- Kubernetes (spin/) -----------------------------------------------------------

pytestmark = pytest.mark.slow


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
                assert pod["runAsUser"] == APP_UID, where
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
    from elasticc.brokers.sources import load_sources

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
