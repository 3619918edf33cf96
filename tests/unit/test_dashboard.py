"""The Grafana dashboard: valid JSON, wired to the provisioned data source, and every query
names metrics (and labels) that smartlib_server.metrics really exports."""
from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from smartlib_server.metrics import ServerMetrics, serve_metrics

DOCKER = Path(__file__).resolve().parents[2] / "docker"
DASHBOARD = DOCKER / "grafana" / "dashboards" / "smartlib.json"
DATASOURCES = DOCKER / "grafana" / "provisioning" / "datasources" / "prometheus.yaml"

# PromQL words that look like identifiers but are not metric names.
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan"}
# Labels Prometheus itself adds to every scraped series, and the histogram bucket label.
IMPLICIT_LABELS = {"job", "instance", "le", "__name__"}


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


@pytest.fixture(scope="module")
def exported() -> dict[str, set[str]]:
    """Every series name the server's registry can emit -> the label names it carries."""
    metrics = ServerMetrics()
    labels_of = {}
    for collector, names in metrics.registry._collector_to_names.items():
        labelnames = set(getattr(collector, "_labelnames", ()))
        for name in names:
            labels_of[name] = labelnames
    series: dict[str, set[str]] = {}
    for family in metrics.registry.collect():
        base = labels_of.get(family.name, labels_of.get(family.name + "_total", set()))
        if family.type == "counter":
            names = [family.name + "_total", family.name + "_created"]
        elif family.type == "histogram":
            names = [family.name + s for s in ("_bucket", "_count", "_sum", "_created")]
        elif family.type == "summary":
            names = [family.name + s for s in ("", "_count", "_sum", "_created")]
        elif family.type == "info":
            names = [family.name + "_info"]
            base = base | {label for sample in family.samples for label in sample.labels}
        else:
            names = [family.name]
        for name in names:
            series[name] = set(base) | {label for sample in family.samples for label in sample.labels}
    return series


def leaf_panels(dashboard: dict) -> list[dict]:
    panels = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            panels.extend(panel.get("panels", []))
        else:
            panels.append(panel)
    return panels


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions, keywords or labels."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)  # label lists
    text = re.sub(r"(?<![A-Za-z0-9_:])\d+(\.\d+)?([eE][+-]?\d+)?", "", text)  # numbers such as 1e-9
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        if text[match.end():].lstrip().startswith("(") or match.group().lower() in KEYWORDS:
            continue  # a function or aggregation, or an operator word
        names.add(match.group())
    return names


def selector_labels(expr: str) -> list[tuple[str, set[str]]]:
    """(metric, label names used in its matcher) for every `metric{...}` selector."""
    return [
        (m.group(1), set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", m.group(2))))
        for m in re.finditer(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*\{([^}]*)\}", expr)
    ]


def grouping_labels(expr: str) -> set[str]:
    return {
        label.strip()
        for clause in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr)
        for label in clause.split(",")
        if label.strip()
    }


def test_dashboard_identity(dashboard):
    assert dashboard["uid"] == "smartlib-overview" and dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]


def test_panels_cover_the_required_topics(dashboard):
    titles = " | ".join(p["title"].lower() for p in leaf_panels(dashboard))
    for topic in ("qps", "latency", "error", "hit ratio", "inference", "fallback", "chat", "arm"):
        assert topic in titles, topic


def test_every_panel_queries_the_provisioned_datasource(dashboard):
    uids = {ds["uid"] for ds in yaml.safe_load(DATASOURCES.read_text())["datasources"]}
    for panel in leaf_panels(dashboard):
        assert panel["targets"], f"{panel['title']} has no query"
        assert panel["datasource"]["uid"] in uids, panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"]["uid"] in uids, panel["title"]


def test_every_query_names_exported_metrics_and_labels(dashboard, exported):
    checked = 0
    for panel in leaf_panels(dashboard):
        for target in panel["targets"]:
            expr = target["expr"]
            for opener, closer in ("()", "[]", "{}"):
                assert expr.count(opener) == expr.count(closer), f"unbalanced {opener}{closer} in {expr}"
            names = metric_names(expr)
            assert names, f"{panel['title']}: no metric found in {expr}"
            unknown = names - exported.keys()
            assert not unknown, f"{panel['title']}: {sorted(unknown)} not exported by smartlib_server.metrics"
            for metric, labels in selector_labels(expr):
                assert labels <= exported[metric] | IMPLICIT_LABELS, f"{panel['title']}: {metric} has no {labels - exported[metric]}"
            available = set().union(*(exported[n] for n in names)) | IMPLICIT_LABELS
            assert grouping_labels(expr) <= available, f"{panel['title']}: grouping by {grouping_labels(expr) - available}"
            checked += 1
    assert checked >= 20


def test_every_query_parses_as_promql(dashboard, tmp_path):
    """promtool (Debian's `prometheus` package) parses each query as a recording rule."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (apt-get install prometheus); names and labels were still checked")
    rules = [
        {"record": f"dashboard:panel_{panel['id']}_{target['refId'].lower()}", "expr": target["expr"].replace("$__rate_interval", "5m")}
        for panel in leaf_panels(dashboard)
        for target in panel["targets"]
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(rules)} rules found" in result.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _query(port: int, expr: str) -> dict:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.load(resp)


def test_queries_evaluate_in_a_real_prometheus(dashboard, tmp_path):
    """A real Prometheus on loopback scrapes a real /metrics endpoint; every query evaluates."""
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    metrics = ServerMetrics()
    get = {"grpc_type": "unary", "grpc_service": "smartlib.v1.CatalogService", "grpc_method": "GetBook"}
    endpoint = serve_metrics(metrics, "127.0.0.1", 0)
    port = _free_port()
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s}\n"
        f"scrape_configs: [{{job_name: smartlib-server, static_configs: [{{targets: ['127.0.0.1:{endpoint.port}']}}]}}]\n"
    )
    server = subprocess.Popen(
        [prometheus, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            # Traffic keeps flowing until Prometheus has scraped it several times, so rate() moves.
            metrics.rpc_handled.labels(**get, grpc_code="OK").inc(5)
            metrics.rpc_seconds.labels(**get, grpc_code="OK").observe(0.004)
            metrics.cache_hits.labels(backend="memory", kind="similar_books").inc(3)
            metrics.cache_misses.labels(backend="memory", kind="similar_books").inc()
            time.sleep(0.5)
            try:
                result = _query(port, 'count_over_time(grpc_server_handled_total{grpc_method="GetBook"}[1m])')["data"]["result"]
            except OSError:
                result = []
            if result and float(result[0]["value"][1]) >= 4:
                break
        else:
            pytest.fail("Prometheus did not scrape the endpoint within 30 s")
        results = {}
        for panel in leaf_panels(dashboard):
            for target in panel["targets"]:
                answer = _query(port, target["expr"].replace("$__rate_interval", "1m"))
                assert answer["status"] == "success", (panel["title"], answer)
                results[panel["title"]] = answer["data"]["result"]
        qps = {r["metric"]["grpc_method"]: float(r["value"][1]) for r in results["QPS per method"]}
        assert qps["GetBook"] > 0
        assert float(results["Hit ratio by answer kind"][0]["value"][1]) == pytest.approx(0.75)
    finally:
        server.terminate()
        server.wait(timeout=15)
        endpoint.close()


def test_the_extractor_sees_what_it_should():
    # Guards the checks above against a parser that silently finds nothing.
    expr = 'sum by (kind) (rate(smartlib_cache_hits_total{backend="redis"}[$__rate_interval])) / clamp_min(x_total, 1e-9)'
    assert metric_names(expr) == {"smartlib_cache_hits_total", "x_total"}
    assert selector_labels(expr) == [("smartlib_cache_hits_total", {"backend"})]
    assert grouping_labels(expr) == {"kind"}
