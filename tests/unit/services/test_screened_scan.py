"""The text view's float16 screen returns exactly what the flat scan alone returns: the same
books, the same scores to the bit, ties in the same order, after writes too."""
from __future__ import annotations

import numpy as np
import pytest

from smartlib_server.services.recommend.screened_scan import Fp16Screen
from smartlib_server.services.recommend.serving_index import text_view_index
from smartlib_server.services.recommend.vector_index import VectorIndex

DIM = 48


def _catalog(rng: np.random.Generator) -> np.ndarray:
    """Unit vectors with what makes a screen go wrong: a crowd of near-copies of one direction
    (closer together than float16 resolves, so the screen's order among them is not the exact
    one) and exact copies (ties, whose order is the flat scan's by position)."""
    spread = rng.normal(size=(300, DIM))
    centre = rng.normal(size=DIM)
    crowd = centre + rng.normal(scale=3e-4, size=(250, DIM))
    copies = np.repeat(rng.normal(size=(5, DIM)), 12, axis=0)
    vectors = np.concatenate([spread, crowd, copies]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors[rng.permutation(len(vectors))], centre.astype(np.float32), copies[::12].astype(np.float32)


def _pair(ids: list[str], vectors: np.ndarray) -> tuple[VectorIndex, VectorIndex]:
    plain, screened = VectorIndex(DIM), VectorIndex(DIM, screened=True)
    for index in (plain, screened):
        index.upsert(ids, vectors)
    return plain, screened


def _queries(rng: np.random.Generator, centre: np.ndarray, copies: np.ndarray) -> list[np.ndarray]:
    near = [centre + rng.normal(scale=s, size=DIM) for s in (0.0, 1e-3, 1e-2)]
    return [*near, *copies, *rng.normal(size=(20, DIM))]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_screen_returns_the_flat_scans_answer(seed, monkeypatch):
    answered = []  # per screened search: True when the screen answered, False when the flat scan had to
    search = Fp16Screen.search

    def recorded(self, *args):
        found = search(self, *args)
        answered.append(found is not None)
        return found
    monkeypatch.setattr(Fp16Screen, "search", recorded)
    rng = np.random.default_rng(seed)
    vectors, centre, copies = _catalog(rng)
    ids = [f"b{i}" for i in range(len(vectors))]
    plain, screened = _pair(ids, vectors)
    queries = _queries(rng, centre, copies)
    for k in (1, 5, 10, 37, 140):
        for query in queries:
            assert screened.search(query.astype(np.float32), k) == plain.search(query.astype(np.float32), k)
    # Writes: books removed, rewritten (a new label at the end) and added; the screen follows.
    gone = ids[::7]
    rewritten = ids[3::11]
    for index in (plain, screened):
        index.remove(gone)
        index.upsert(rewritten, vectors[3::11][:, ::-1].copy())
        index.upsert(["new-a", "new-b"], copies[:2] / np.linalg.norm(copies[:2], axis=1, keepdims=True))
    answered.clear()
    for k in (1, 10, 37):
        for query in queries:
            assert screened.search(query.astype(np.float32), k) == plain.search(query.astype(np.float32), k)
    assert sum(answered) > len(answered) / 2  # the screen itself answered after the writes, not the fallback


def test_text_search_scans_through_the_screen():
    rng = np.random.default_rng(3)
    vectors, _, _ = _catalog(rng)
    baseline = VectorIndex(DIM * 56)  # text_view reads the 2688-d layout's query blocks
    unit = np.zeros((len(vectors), DIM * 56), dtype=np.float32)
    baseline.upsert([f"b{i}" for i in range(len(vectors))], unit)
    assert text_view_index(baseline, "flat", unit).nbytes == len(vectors) * 384 * 6  # float32 and float16
