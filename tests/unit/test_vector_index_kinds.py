"""VectorIndex kinds: the IVF-SQ8 index must behave like the flat one (upsert, update, remove,
vector, search) and stay close to it in results; choose_index_kind and SMARTLIB_INDEX_KIND."""
from __future__ import annotations

import logging

import faiss
import numpy as np
import pytest

from smartlib_core.embedding import normalise
from smartlib_core.errors import ConfigError
from smartlib_server.config import Settings
from smartlib_server.services.recommend import serving_index
from smartlib_server.services.recommend.serving_index import FinetunedModel, ServingIndex, with_index
from smartlib_server.services.recommend.vector_index import VectorIndex, choose_index_kind, ivf_nlist
from smartlib_server.services.title_search import TitleIndex

DIM = 32


def clustered(rng: np.random.Generator, count: int, dim: int = DIM, centres: int = 100) -> np.ndarray:
    """Points around random centres (cosine to the centre about 0.85), like a catalog's topics."""
    c = normalise(rng.standard_normal((centres, dim)))
    return normalise(c[rng.integers(0, centres, count)] + rng.standard_normal((count, dim)) * 0.62 / np.sqrt(dim))


def ids(count: int, prefix: str = "b") -> list[str]:
    return [f"{prefix}{i}" for i in range(count)]


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    return clustered(rng, 6000), clustered(rng, 100)


def ivf(vectors: np.ndarray, nlist: int = 64, nprobe: int = 16) -> VectorIndex:
    index = VectorIndex(vectors.shape[1], "ivf", nlist=nlist, nprobe=nprobe)
    index.upsert(ids(len(vectors)), vectors)
    assert index.kind == "ivf"
    return index


def test_ivf_search_matches_flat(data):
    base, queries = data
    flat = VectorIndex(DIM)
    flat.upsert(ids(len(base)), base)
    approx = ivf(base)
    exact, found = flat.search(queries, 10), approx.search(queries, 10)
    recall = np.mean([len({b for b, _ in f} & {b for b, _ in e}) / 10 for f, e in zip(found, exact, strict=True)])
    assert recall >= 0.9
    # Same return format: (book id, inner product) tuples, best first, scores near the exact ones.
    assert all(isinstance(b, str) and isinstance(s, float) for row in found for b, s in row)
    top_scores = np.array([row[0][1] for row in found])
    assert np.all(np.diff([s for _, s in found[0]]) <= 1e-6)
    np.testing.assert_allclose(top_scores, [row[0][1] for row in exact], atol=0.02)


def test_ivf_update_replaces_the_vector(data):
    base, queries = data
    index = ivf(base)
    target = queries[0]
    assert index.search(target, 1)[0][0][0] != "b17"
    index.upsert(["b17"], target[None])
    assert len(index) == len(base)
    best, score = index.search(target, 1)[0][0]
    assert best == "b17" and score == pytest.approx(1.0, abs=0.01)
    assert float(index.vector("b17") @ target) > 0.999
    # The old vector no longer answers for b17.
    assert "b17" not in [b for b, _ in index.search(base[17], 10)[0]]


def test_ivf_remove_and_vector(data):
    base, _ = data
    index = ivf(base)
    v = index.vector("b5")
    assert v is not None and v.shape == (DIM,) and float(v @ base[5]) > 0.999  # 8-bit decoded
    assert index.search(base[5], 1)[0][0][0] == "b5"
    index.remove(["b5", "b6", "missing"])
    assert len(index) == len(base) - 2 and "b5" not in index and index.vector("b5") is None
    returned = {b for row in index.search(base[:50], 10) for b, _ in row}
    assert not returned & {"b5", "b6"}
    index.upsert(["b5"], base[5:6])  # back again under a new label
    assert index.search(base[5], 1)[0][0][0] == "b5"


def test_ivf_nbytes_matches_serialised_size(data):
    base, _ = data
    index = ivf(base)
    serialised = len(faiss.serialize_index(index._index))
    assert abs(index.nbytes - serialised) / serialised < 0.01
    assert index.nbytes < len(base) * DIM * 4  # smaller than the flat vectors


def test_ivf_trains_with_default_lists():
    rng = np.random.default_rng(1)
    base = clustered(rng, 25_000, dim=16, centres=300)  # ivf_nlist(25k) = 632 lists, 24,648 to train
    index = VectorIndex(16, "ivf")
    index.upsert(ids(len(base)), base)
    assert index.kind == "ivf" and index._index.nlist == ivf_nlist(len(base))
    assert index.search(base[123], 1)[0][0][0] == "b123"


def test_small_start_falls_back_to_flat(data, caplog):
    base, queries = data
    index = VectorIndex(DIM, "ivf", nlist=64)  # 64 lists need 2,496 vectors
    with caplog.at_level(logging.WARNING, logger="smartlib_server.services.recommend.vector_index"):
        index.upsert(ids(1000), base[:1000])
    assert index.kind == "flat" and "using flat" in caplog.text
    assert index.nbytes == 1000 * DIM * 4
    scores = base[:1000] @ queries[0]
    assert [b for b, _ in index.search(queries[0], 3)[0]] == [f"b{i}" for i in np.argsort(-scores)[:3]]
    index.upsert(ids(3000), base[:3000])  # only the first upsert trains: it stays flat
    assert index.kind == "flat" and len(index) == 3000


def test_empty_ivf_index_searches_and_reports_nothing():
    index = VectorIndex(DIM, "ivf")
    assert index.search(np.ones(DIM, dtype=np.float32), 5) == [[]] and index.nbytes == 0
    index.remove(["x"])
    assert index.vector("x") is None


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        VectorIndex(DIM, "hnsw")


@pytest.mark.parametrize(
    "n, dim, configured, kind",
    [
        (1_000_000, 256, "flat", "flat"),
        (10, 256, "ivf", "ivf"),
        (0, 256, "auto", "flat"),
        (10_000, 256, "auto", "flat"),
        (32_768, 256, "auto", "flat"),  # exactly 32 MiB of float32
        (32_769, 256, "auto", "ivf"),
        (100_000, 256, "auto", "ivf"),
        (1_000_000, 256, "auto", "ivf"),
        (7_680, 2688, "auto", "flat"),
        (20_000, 2688, "auto", "flat"),  # over 32 MiB, but too few vectors to train 566 lists
        (30_000, 2688, "auto", "ivf"),
    ],
)
def test_choose_index_kind(n, dim, configured, kind):
    assert choose_index_kind(n, dim, configured) == kind


def test_choose_index_kind_refuses_unknown():
    with pytest.raises(ValueError):
        choose_index_kind(10, 256, "hnsw")


def test_settings_index_kind():
    assert Settings.from_env({}).index_kind == "auto"
    assert Settings.from_env({"SMARTLIB_INDEX_KIND": "ivf"}).index_kind == "ivf"
    with pytest.raises(ConfigError, match="SMARTLIB_INDEX_KIND"):
        Settings.from_env({"SMARTLIB_INDEX_KIND": "hnsw"})


def test_with_index_uses_the_configured_kind():
    rng = np.random.default_rng(2)
    raw = clustered(rng, 25_000, dim=16, centres=300)
    model = FinetunedModel(version="v", encode=lambda x: x, index=VectorIndex(16))
    assert with_index(model, ids(len(raw)), raw, {}, "ivf").index.kind == "ivf"
    assert with_index(model, ids(len(raw)), raw, {}, "flat").index.kind == "flat"
    assert with_index(model, ids(100), raw[:100], {}).index.kind == "flat"  # auto, small
    assert with_index(model, [], raw[:0], {}, "ivf").index.kind == "flat"  # empty state stays flat


class _Store:
    def __init__(self, ids: list[str], matrix: np.ndarray):
        self._ids, self._matrix = ids, matrix

    def version(self) -> int:
        return 7

    def all_books(self) -> list:
        return []

    def load_vectors(self, embedder_id: str):
        return self._ids, self._matrix


def test_serving_index_load_passes_its_kind(monkeypatch):
    calls = []

    def spy(n_books, dim, configured):
        calls.append((n_books, dim, configured))
        return "flat"

    monkeypatch.setattr(serving_index, "choose_index_kind", spy)
    matrix = np.random.default_rng(0).standard_normal((3, serving_index.DIM)).astype(np.float32)
    index = ServingIndex(_Store(["a", "b", "c"], matrix), TitleIndex(), index_kind="ivf")
    index.load()
    assert calls == [(3, serving_index.DIM, "ivf"), (3, serving_index.BLOCK_DIM, "ivf")]  # the baseline, its text view
    assert len(index.baseline) == 3 and index.applied_seq == 7
