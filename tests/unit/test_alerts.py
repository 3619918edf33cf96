"""docker/prometheus/alerts.yml: wired into Prometheus, built on metrics the server exports,
documented, and each alert tested firing and not firing by `promtool test rules`."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from smartlib_server.metrics import ServerMetrics

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS = REPO / "docker" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
ALERT_TESTS = PROMETHEUS / "alerts_test.yml"
DOC = REPO / "docs" / "observability.md"
# Series Prometheus makes itself, and PromQL words that look like names.
PROMETHEUS_OWN = {"up"}
WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "bool", "le"}


@pytest.fixture(scope="module")
def rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


@pytest.fixture(scope="module")
def exported() -> set[str]:
    """Every series name the server's registry can emit (counters with _total, histograms' parts)."""
    names = set()
    for family in ServerMetrics().registry.collect():
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "info": ("_info",)}
        names.update(family.name + s for s in suffixes.get(family.type, ("",)))
    return names


def metric_names(expr: str) -> set[str]:
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", text)  # matchers and ranges
    text = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", text)  # label lists
    text = re.sub(r"(?<![\w:])\d+(\.\d+)?", "", text)
    return {m.group() for m in re.finditer(r"[A-Za-z_:][\w:]*", text)
            if m.group() not in WORDS and not text[m.end():].lstrip().startswith("(")}


def test_prometheus_loads_the_rules_and_compose_mounts_them():
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    compose = yaml.safe_load((REPO / "docker" / "compose.yaml").read_text())
    assert "./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in compose["services"]["prometheus"]["volumes"]
    assert yaml.safe_load(ALERT_TESTS.read_text())["rule_files"] == ["alerts.yml"]


def test_the_required_topics_have_an_alert(rules):
    names = {rule["alert"] for rule in rules}
    assert names == {
        "SmartlibHighErrorRatio", "SmartlibHighLatencyP99", "SmartlibAdmissionRejections",
        "SmartlibCacheRedisCircuitOpen", "SmartlibMemoryRedisCircuitOpen", "SmartlibReplicaBehindChangeLog",
        "SmartlibWorkerDown", "SmartlibRowWarmerStalled", "SmartlibBatcherStalled", "SmartlibTorchServeDown",
    }


def test_every_alert_uses_only_exported_metrics(rules, exported):
    assert {"smartlib_worker_up", "grpc_server_handled_total"} <= exported  # the extractor sees the registry
    assert metric_names('rate(a_total{x="y"}[5m]) / on (job) b > 0.5 unless c') == {"a_total", "b", "c"}
    for rule in rules:
        unknown = metric_names(rule["expr"]) - exported - PROMETHEUS_OWN
        assert not unknown, f"{rule['alert']} names metrics the server does not export: {unknown}"


def test_every_alert_has_a_firing_and_a_silent_case(rules):
    cases = [case for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"] for case in test["alert_rule_test"]]
    for rule in rules:
        mine = [case for case in cases if case["alertname"] == rule["alert"]]
        assert any(case["exp_alerts"] for case in mine), f"{rule['alert']} is never expected to fire"
        assert any(not case["exp_alerts"] for case in mine), f"{rule['alert']} is never expected to stay silent"


def test_every_alert_is_documented_where_its_runbook_points(rules):
    anchors = {re.sub(r"[^a-z0-9-]", "", line[4:].strip().lower()) for line in DOC.read_text().splitlines()
               if line.startswith("### ")}
    for rule in rules:
        runbook = rule["annotations"]["runbook"]
        assert runbook == f"docs/observability.md#{rule['alert'].lower()}"
        assert rule["alert"].lower() in anchors, f"docs/observability.md has no '### {rule['alert']}' section"
        assert rule["labels"]["severity"] in ("warning", "critical")


def test_promtool_runs_the_rule_tests():
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (apt-get install prometheus); the structure was still checked")
    checked = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run([promtool, "test", "rules", str(ALERT_TESTS)], capture_output=True, text=True, cwd=PROMETHEUS)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout
