"""The scale benchmark at its smallest configuration, so the code behind docs/scale.md cannot rot.
No timing is asserted: only that what it measures is measured correctly."""
from __future__ import annotations

import json

import numpy as np
import pytest

from smartlib_bench import scale_bench
from smartlib_core.domain import Book
from smartlib_server.adapters.catalog_store import sqlite_store

ENTRY_KEYS = {"build_s", "bytes", "bytes_per_book", "p50_ms", "p99_ms", "recall_at_10", "params"}


@pytest.fixture(scope="module")
def result() -> dict:
    return scale_bench.run([3000], dim=64, queries=50, latency_queries=20, progress=False)


def test_structure(result):
    assert result["data"]["kind"] == "synthetic clustered"
    assert 0.8 <= result["data"]["mean_cosine_to_parent"] <= 0.9
    size = result["sizes"]["3000"]
    configs = size["configs"]
    assert {"flat", "HNSW32 efSearch=64", "HNSW32 efSearch=128", "server ivf"} <= set(configs)
    assert any(name.startswith("IVF") and ",PQ" in name and "Refine" not in name for name in configs)
    assert any("Refine" in name for name in configs)
    assert any(name.startswith("IVF") and ",SQ8" in name for name in configs)
    for entry in configs.values():
        assert set(entry) == ENTRY_KEYS
        assert entry["build_s"] >= 0 and entry["p99_ms"] >= entry["p50_ms"] > 0
    assert size["auto"]["kind"] == "flat" and size["auto"]["config"] == "flat"
    assert set(result["uniform_random"]["configs"]) == {"server ivf"}
    assert result["target"]["measured"] is False  # no 1M size in this run
    assert set(result["flat_curve"]) == {"3000"} and result["flat_curve"]["3000"]["auto"] == "flat"
    json.dumps(result)  # the CLI writes it as JSON


def test_measurements(result):
    configs = result["sizes"]["3000"]["configs"]
    flat = configs["flat"]
    assert flat["recall_at_10"] == 1.0
    assert 64 * 4 <= flat["bytes_per_book"] <= 64 * 4 + 1  # float32 vectors plus a header
    for name, entry in configs.items():
        assert 0.0 < entry["recall_at_10"] <= 1.0, name
    for name, entry in configs.items():  # compressed codes are smaller than float32 vectors
        if ",PQ" in name and "Refine" not in name or ",SQ8 " in name:
            assert entry["bytes_per_book"] < flat["bytes_per_book"], name
    # 3,000 vectors cannot train 4 x sqrt(3000) lists, so the server's ivf falls back to flat.
    assert configs["server ivf"]["params"]["kind"] == "flat" and configs["server ivf"]["recall_at_10"] == 1.0


def test_ground_truth_is_exact():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((500, 8)).astype(np.float32)
    queries = rng.standard_normal((7, 8)).astype(np.float32)
    truth = scale_bench.ground_truth(base, queries, batch=3)
    np.testing.assert_array_equal(truth, np.argsort(-(queries @ base.T), axis=1)[:, :10])
    assert scale_bench.recall_at_k(truth, truth) == 1.0


def _home_with_vectors(home, rng) -> None:
    """A catalog written through the store: 200 books with 128-d vectors, and 5 vectors of
    another, rarer embedder that the bench must not pick."""
    store = sqlite_store(home / "catalog.sqlite3")
    try:
        store.upsert_books([Book(id=f"b{i}", title=f"Book {i}", authors=("A. Writer",)) for i in range(200)])
        store.put_vectors("e/128", [(f"b{i}", "", rng.standard_normal(128).astype(np.float32)) for i in range(200)])
        store.put_vectors("old/64", [(f"b{i}", "", rng.standard_normal(64).astype(np.float32)) for i in range(5)])
    finally:
        store.close()


def test_cli_with_real_vectors(tmp_path, capsys):
    """--home: vectors read through the catalog store, read-only, PCA-projected, then perturbed."""
    _home_with_vectors(tmp_path, np.random.default_rng(1))
    database = tmp_path / "catalog.sqlite3"
    before = database.read_bytes()
    out = tmp_path / "bench"
    scale_bench.main(["--sizes", "1500", "--dim", "32", "--queries", "20", "--home", str(tmp_path),
                      "--out", str(out), "--quiet"])
    assert database.read_bytes() == before  # read-only: the home is left exactly as it was
    saved = json.loads((out / "scale.json").read_text())
    assert saved["data"]["kind"] == "perturbed real" and saved["data"]["parents"] == 200
    assert "PCA-projected to 32-d" in saved["data"]["source"] and "e/128" in saved["data"]["source"]
    assert saved["sizes"]["1500"]["configs"]["flat"]["recall_at_10"] == 1.0
    assert "| 1,500 | flat |" in capsys.readouterr().out
