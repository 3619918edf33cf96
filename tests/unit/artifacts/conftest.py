"""A tiny catalog with random vectors: knowledge-base tests need no embedding model."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from smartlib_core.domain import Book
from smartlib_core.embedding import DIM, EMBEDDER_ID
from smartlib_server.adapters.catalog_store import SqlCatalogStore, sqlite_store
from smartlib_server.artifacts import knowledge_base as kb
from smartlib_server.config import Settings

BOOKS = (
    Book(id="1", title="The Hobbit", authors=("J.R.R. Tolkien",), description="A hobbit, a dragon, \"gold\".",
         genres=("Fantasy", "Classics"), characters=("Bilbo Baggins", "Smaug"), avg_rating=4.28, num_ratings=3_000_000,
         url="https://example.org/1", list_rank=1),
    Book(id="2", title="Dune", authors=("Frank Herbert",), description="Spice,\nsand and\tworms.",
         genres=("Science Fiction",), characters=("Paul Atreides",), avg_rating=4.27, num_ratings=1_000_000,
         series_name="Dune", series_position="1"),
    Book(id="3", title="Good Omens", authors=("Terry Pratchett", "Neil Gaiman"), genres=("Fantasy, Comic", "Humor")),
    Book(id="4", title="Ficciones", authors=("Jorge Luis Borges",), description="Laberintos — ñ, ü, 漢字."),
    Book(id="5", title="Emma", authors=("Jane Austen",), genres=("Romance",)),
    Book(id="6", title="No Vector Yet", authors=("Nobody",)),  # stored but not embedded
)
EMBEDDED = [b.id for b in BOOKS[:5]]


@pytest.fixture
def books() -> tuple[Book, ...]:
    return BOOKS


@pytest.fixture
def embedded_ids() -> list[str]:
    return list(EMBEDDED)


def fill(store: SqlCatalogStore) -> SqlCatalogStore:
    store.upsert_books(BOOKS)
    rng = np.random.default_rng(7)
    store.put_vectors(EMBEDDER_ID, [(i, f"h{i}", rng.standard_normal(DIM).astype(np.float32)) for i in EMBEDDED])
    return store


@pytest.fixture
def catalog(tmp_path) -> Iterator[SqlCatalogStore]:
    store = fill(sqlite_store(tmp_path / "c.db"))
    yield store
    store.close()


@pytest.fixture
def artifact_settings(tmp_path) -> Settings:
    """Settings whose SQLite catalog holds the tiny catalog, for the CLI handlers."""
    settings = Settings(home=tmp_path / "home", model_store=tmp_path / "model_store")
    fill(sqlite_store(settings.sqlite_path)).close()
    return settings


def project_256(vectors: np.ndarray) -> np.ndarray:
    """A fixed random projection standing in for the FINETUNED encoder."""
    weights = np.random.default_rng(11).standard_normal((vectors.shape[1], 256)).astype(np.float32)
    out = vectors @ weights
    return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture
def encoder() -> kb.VersionedEncoder:
    return kb.VersionedEncoder("enc-test-1", project_256)
