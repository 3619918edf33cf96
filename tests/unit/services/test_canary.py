"""The activation canary on hand-made indexes: each way a candidate can fail it, and a pass."""
from __future__ import annotations

import numpy as np
import pytest

from smartlib_core.domain import Book
from smartlib_core.errors import FailedPrecondition
from smartlib_server.services.recommend.vector_index import VectorIndex
from smartlib_server.services.versions import CANARY_WINDOW, _canary

DIM = 8
BOOKS = {f"b{i:02d}": Book(id=f"b{i:02d}", title=f"Book {i}", authors=("A",)) for i in range(40)}
CANARY = sorted(BOOKS)[0]  # the first canary the check picks


def _index(vectors: np.ndarray) -> VectorIndex:
    index = VectorIndex(DIM)
    index.upsert(sorted(BOOKS), vectors)
    return index


def _distinct() -> np.ndarray:
    vectors = np.random.default_rng(0).standard_normal((len(BOOKS), DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_distinct_vectors_pass():
    _canary(_index(_distinct()), _index(_distinct()), BOOKS)


def test_a_non_finite_vector_is_refused():
    vectors = _distinct()
    vectors[0] = np.nan
    with pytest.raises(FailedPrecondition, match=f"canary {CANARY}: no finite vector"):
        _canary(_index(vectors), _index(_distinct()), BOOKS)


def test_a_tie_that_fills_the_window_is_a_partial_collapse():
    # The canary and the next CANARY_WINDOW - 1 books share one vector: the canary is among its
    # tied neighbours, but nothing tells them apart. The rest of the catalog stays distinct.
    vectors = _distinct()
    vectors[:CANARY_WINDOW] = vectors[0]
    with pytest.raises(FailedPrecondition, match=f"canary {CANARY}: nearest neighbours"):
        _canary(_index(vectors), _index(_distinct()), BOOKS)
    vectors[CANARY_WINDOW - 1] = _distinct()[CANARY_WINDOW - 1]  # one fewer: duplicates, not a collapse
    _canary(_index(vectors), _index(_distinct()), BOOKS)
