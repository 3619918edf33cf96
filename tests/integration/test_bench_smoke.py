"""`make bench` in its smallest configuration, once, so the benchmark code cannot rot.

No figure is asserted against a speed: only that every section ran, produced sane numbers
and that the load generator saw no errors.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import dataset_path


def test_bench_smoke_runs_every_section(tmp_path):
    out = tmp_path / "bench"
    bench = str(Path(__file__).resolve().parents[2] / "bench")  # not installed: `make bench` puts it on the path
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=os.pathsep.join(filter(None, [bench, os.environ.get("PYTHONPATH")])))
    run = subprocess.run(
        [sys.executable, "-m", "smartlib_bench", "--smoke", "--out", str(out), "--data-dir", str(dataset_path().parent)],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    report = (out / "report.md").read_text()
    assert "| what | measured | relative |" in report and "| what | measured | relative |" in run.stdout

    grpc = results["grpc"]
    for phase in ("empty_c8", "empty_c32", "similar_baseline_miss_c8", "similar_finetuned_miss_c8",
                  "similar_finetuned_deep_c8", "similar_finetuned_hit_c8", "text_finetuned_miss_c8",
                  "text_finetuned_miss_c8_fusion_ab"):
        assert grpc[phase]["calls"] > 0 and grpc[phase]["errors"] == 0, (phase, grpc[phase])
    # Every ratio is over the higher empty-RPC reading of the run, recomputed here from the raw
    # qps (tests/unit/bench/test_grpc_bench.py pins which reading that is, with fixed figures).
    ceiling = max(grpc["empty_c8"]["qps"], grpc["empty_c8_end"]["qps"])
    assert ceiling > 0
    for phase, figures in grpc.items():
        assert figures["ratio_to_empty_c8"] == pytest.approx(figures["qps"] / ceiling, rel=1e-9), phase

    # The same-run A/B of SearchByText with the lexical fusion on and off (issue 26).
    ab = grpc["text_finetuned_miss_c8_fusion_ab"]
    assert ab["windows"] == 16 and ab["fused_qps"] > 0 and ab["dense_only_qps"] > 0
    assert ab["fused_vs_dense_only"] == pytest.approx(ab["fused_qps"] / ab["dense_only_qps"], rel=1e-9)
    assert "lexical fusion on vs off" in report

    # SearchByText's work without gRPC beside it (issue 25): the query batcher and the service.
    in_process = results["in_process_text"]
    for name in ("query_batcher_c8", "search_service_c8", "query_batcher_c32", "search_service_c32"):
        assert in_process[name]["calls"] > 0 and 0 < in_process[name]["p50_ms"] <= in_process[name]["p99_ms"], name
    assert "in process, no gRPC: search_service_c8" in report and "over gRPC at c8 gets" in report

    chat = results["extra"]["chat_concurrency"]["figures"]
    assert {(p["streams"], p["think_ms"]) for p in chat} == {(1, 0), (16, 0), (1, 1000), (16, 1000)}
    assert all(p["turns"] > 0 and p["errors"] == 0 for p in chat), chat
    assert "chat, 16 conversations vs 1" in report

    assert results["faiss_finetuned"]["dim"] == 256 and results["faiss_baseline"]["dim"] == 2688
    memory = results["index_memory"]
    assert memory["baseline_flat_2688d"]["bytes_per_book"] == 2688 * 4
    assert memory["finetuned_256d"]["bytes_per_book"] == 256 * 4
    assert memory["finetuned_neighbour_table"]["bytes"] > 0
    lexical = results["extra"]["lexical"]
    assert lexical["books"] > 0 and 0 < lexical["lexical_p50_ms"] <= lexical["lexical_p99_ms"]
    assert lexical["bytes_per_book"] > 0 and "lexical step (BM25" in report
    assert 0 < results["server_process"]["seconds_to_serving"] < 120
    assert results["server_process"]["rss_mib"] > 50
    first = results["server_process"]["after_serving"]  # the restart's first seconds, same process
    assert first["varied_qps"] > 0 and first["varied_errors"] == 0 and 0 < first["window_s"][0] < first["window_s"][1]
    assert first["ratio_to_empty_c8"] == pytest.approx(first["varied_qps"] / first["empty_qps"], rel=1e-9)
    assert "after that SERVING" in report
    if dataset_path().is_file():  # CI has the 10k CSV: the embedding section must have run
        assert results["embedding"]["naive_books_per_s"] > 0
        assert results["embedding"]["bf16"]["cosine_min"] > 0.99
    else:
        assert str(dataset_path()) in results["embedding"]["skipped"]

    scale = results["scale"]["sizes"]["2000"]
    assert scale["configs"]["flat"]["recall_at_10"] == 1.0
    # Every approximate index finds most true neighbours (0.84 and up measured at 2,000 books); an
    # index answering with the wrong ids scores near 10/2000.
    assert all(c["recall_at_10"] > 0.5 for c in scale["configs"].values()), scale["configs"]
    assert scale["auto"]["kind"] == "flat"  # 2,000 x 256 floats fit in the cache: no approximation
    assert "## Index types on synthetic catalogs" in report
