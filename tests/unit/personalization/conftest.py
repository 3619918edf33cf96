"""Fixtures for personalisation: a real SQL database (SQLite, or PostgreSQL where asked) and a
small synthetic catalog whose vectors encode genre, so content behaviour is predictable."""
from __future__ import annotations

import numpy as np
import pytest

from smartlib_core.domain import Approach, Book
from smartlib_server.adapters.experiment_store import ExperimentStore
from smartlib_server.adapters.interaction_store import InteractionStore
from smartlib_server.adapters.sql import sqlite_database
from smartlib_server.services.personalization.blend import ContentView
from smartlib_server.services.recommend.vector_index import VectorIndex

GENRES = ("Fantasy", "Science Fiction", "History")
PER_GENRE = 20
DIM = 16


@pytest.fixture
def sqlite_db(tmp_path):
    db = sqlite_database(tmp_path / "catalog.sqlite3")
    yield db
    db.close()


@pytest.fixture
def interaction_store(sqlite_db) -> InteractionStore:
    return InteractionStore(sqlite_db)


@pytest.fixture
def experiment_store(sqlite_db, interaction_store) -> ExperimentStore:
    return ExperimentStore(sqlite_db, interaction_store)


def make_catalog() -> dict[str, Book]:
    """60 books: 20 per genre; within a genre, a lower number means more ratings (more popular)."""
    books = {}
    rank = 0
    for g, genre in enumerate(GENRES):
        for i in range(PER_GENRE):
            book_id = f"{genre[:3].lower()}-{i:02d}"
            books[book_id] = Book(
                id=book_id, title=f"{genre} Book {i}", authors=(f"Author {g}-{i % 7}",), genres=(genre, "Fiction"),
                num_ratings=10 ** (6 - i // 4), list_rank=rank,
            )
            rank += 1
    return books


def make_vectors(books: dict[str, Book], seed: int = 3) -> np.ndarray:
    """Genre one-hot blocks plus noise: books of a genre are near each other, far from others."""
    rng = np.random.default_rng(seed)
    out = np.zeros((len(books), DIM), dtype=np.float32)
    for row, book in enumerate(books.values()):
        out[row, GENRES.index(book.genres[0])] = 1.0
        out[row, 3:] = rng.normal(0, 0.15, DIM - 3)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture
def catalog() -> dict[str, Book]:
    return make_catalog()


@pytest.fixture
def view(catalog) -> ContentView:
    index = VectorIndex(DIM)
    index.upsert(list(catalog), make_vectors(catalog))
    return ContentView(catalog, index, Approach.BASELINE, "baseline:test", 1)


@pytest.fixture
def pools(catalog):
    """Reader rows for RecommendForUser's tests, by genre."""
    def pool(book_id):  # a book's row: the other books of its genre, most popular first
        if book_id not in catalog:
            return None
        genre = catalog[book_id].genres[0]
        ids = [b for b in catalog if b != book_id and catalog[b].genres[0] == genre]
        return ids, [float(-i) for i in range(len(ids))]
    return pool
