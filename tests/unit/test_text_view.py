"""Text search scans the 384-d text view (embedding.text_view) instead of the 2688-d vectors: a
query's score is the same either way, the view answers the same top books as a 2688-d scan, and
the serving state keeps the view in step with the baseline under writes."""
from __future__ import annotations

import numpy as np

from smartlib_core.embedding import BLOCK_DIM, DIM, normalise, place_query, text_view
from smartlib_server.services.recommend.serving_index import ServingIndex, ServingState, baseline_index
from smartlib_server.services.recommend.vector_index import VectorIndex
from smartlib_server.services.title_search import TitleIndex


def _catalog(n: int = 500, seed: int = 5) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    return [f"b{i}" for i in range(n)], rng.standard_normal((n, DIM)).astype(np.float32)


def _queries(n: int = 40, seed: int = 9) -> np.ndarray:
    raw = np.random.default_rng(seed).standard_normal((n, BLOCK_DIM)).astype(np.float32)
    return normalise(place_query(normalise(raw)))


def test_a_query_scores_the_same_through_the_view():
    _, raw = _catalog()
    books = normalise(raw)
    queries = _queries()
    full = queries @ books.T
    viewed = text_view(queries) @ text_view(books).T
    np.testing.assert_allclose(viewed, full, atol=2e-6)
    # The view of a placed, normalised query is its unit 384-d embedding.
    np.testing.assert_allclose(np.linalg.norm(text_view(queries), axis=1), 1.0, atol=1e-6)


def test_the_view_finds_the_books_a_full_scan_finds():
    ids, raw = _catalog()
    state = ServingState({}, baseline_index(ids, raw, "flat"), None)
    for query in _queries():
        full = [i for i, _ in state.baseline.search(query, 10)[0]]
        viewed = [i for i, _ in state.text_view.search(text_view(query[None, :])[0], 10)[0]]
        assert viewed == full


def test_the_view_follows_writes_to_the_baseline():
    ids, raw = _catalog(50)
    state = ServingState({}, baseline_index(ids, raw, "flat"), None)
    assert sorted(state.text_view.ids()) == sorted(ids) and state.text_view.dim == BLOCK_DIM
    stored = normalise(raw)
    np.testing.assert_allclose(state.text_view.vectors(["b3"]), text_view(stored[3:4]), atol=1e-6)


def test_an_empty_baseline_has_an_empty_view():
    state = ServingState({}, VectorIndex(DIM), None)
    assert len(state.text_view) == 0


class _Store:
    def __init__(self, ids: list[str], matrix: np.ndarray):
        self._ids, self._matrix = ids, matrix

    def version(self) -> int:
        return 3

    def all_books(self) -> list:
        return []

    def load_vectors(self, embedder_id: str):
        return self._ids, self._matrix


def test_a_load_builds_the_view_from_its_own_unit_vectors_without_reading_them_back(monkeypatch):
    ids, raw = _catalog(80)
    read_back = []
    real = VectorIndex.vectors

    def spy(self, book_ids):
        read_back.append(self.dim)
        return real(self, book_ids)

    monkeypatch.setattr(VectorIndex, "vectors", spy)
    index = ServingIndex(_Store(ids, raw), TitleIndex(), index_kind="flat")
    index.load()
    assert DIM not in read_back  # the 2688-d vectors are not copied back out of the baseline
    monkeypatch.undo()
    served = index.state
    # Exactly the view a read-back would give: the flat baseline holds these very floats.
    np.testing.assert_array_equal(served.baseline.vectors(ids), normalise(raw))
    np.testing.assert_array_equal(served.text_view.vectors(ids), text_view(served.baseline.vectors(ids)))
