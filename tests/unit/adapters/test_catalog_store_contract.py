"""The same contract for both catalog stores: SQLite (default) and the real PostgreSQL."""
from __future__ import annotations

import numpy as np
import pytest

from smartlib_core.domain import Book
from smartlib_server.adapters.catalog_store import postgres_store, sqlite_store
from tests.unit.backends import BACKENDS, on_backend


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    s = on_backend(request, tmp_path, sqlite_store, postgres_store)
    yield s
    s.close()


def book(book_id="gr-1", title="Dune (Dune, #1)", author="Frank Herbert", **kw) -> Book:
    return Book(id=book_id, title=title, authors=(author,), genres=kw.pop("genres", ("Science Fiction",)), **kw)


def vec(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(2688).astype(np.float32)


def test_upsert_then_read_back(store):
    outcome = store.upsert_books([book(), book("gr-2", "Foundation", "Isaac Asimov")])
    assert outcome.created == ("gr-1", "gr-2") and outcome.ids == ("gr-1", "gr-2")
    got = store.get_books(["gr-1", "gr-2", "nope"])
    assert set(got) == {"gr-1", "gr-2"}
    assert got["gr-1"].title == "Dune (Dune, #1)" and got["gr-1"].authors == ("Frank Herbert",)
    assert store.count_books() == 2


def test_second_identical_upsert_is_unchanged_and_logs_nothing(store):
    store.upsert_books([book()])
    version = store.version()
    outcome = store.upsert_books([book()])
    assert outcome.unchanged == ("gr-1",) and not outcome.created and not outcome.updated
    assert store.version() == version


def test_changed_book_is_updated_and_logged(store):
    store.upsert_books([book()])
    version = store.version()
    outcome = store.upsert_books([book(description="Spice and sand.")])
    assert outcome.updated == ("gr-1",)
    assert store.get_books(["gr-1"])["gr-1"].description == "Spice and sand."
    assert [c.op for c in store.changes_since(version)] == ["upsert"]


def test_another_edition_merges_into_the_stored_book(store):
    store.upsert_books([book()])
    outcome = store.upsert_books([book("gr-999", title="DUNE", author="frank herbert")])
    assert outcome.ids == ("gr-1",)
    assert store.count_books() == 1
    assert store.resolve_id("gr-999") == "gr-1"
    assert store.aliases_of("gr-1") == ["gr-999"]


def test_vectors_are_written_with_their_book_and_deleted_with_it(store):
    store.upsert_books([book()], {"gr-1": ("h1", vec(1))}, "emb")
    ids, matrix = store.load_vectors("emb")
    assert ids == ["gr-1"] and matrix.shape == (1, 2688)
    np.testing.assert_array_equal(matrix[0], vec(1))
    assert store.vector_hashes("emb") == {"gr-1": "h1"}
    assert store.stored_text_hashes([book("other-id", title="Dune")], "emb") == {"other-id": "h1"}
    assert store.delete_book("gr-1") is True
    assert store.load_vectors("emb")[0] == [] and store.count_books() == 0
    assert store.delete_book("gr-1") is False
    assert [c.op for c in store.changes_since(0)][-1] == "delete"


def test_vectors_load_in_id_order_and_refuse_rows_of_another_length(store):
    store.upsert_books([book(f"gr-{i}", title=f"Book {i}") for i in (2, 0, 1)],
                       {f"gr-{i}": (f"h{i}", vec(i)) for i in (2, 0, 1)}, "emb")
    ids, matrix = store.load_vectors("emb")
    assert ids == ["gr-0", "gr-1", "gr-2"] and matrix.dtype == np.float32 and matrix.flags.writeable
    np.testing.assert_array_equal(matrix, np.stack([vec(0), vec(1), vec(2)]))
    # One row a float short and one a float long still add up to three full rows: refused, not misread.
    store.put_vectors("emb", [("gr-1", "h1", vec(1)[:-1]), ("gr-2", "h2", np.append(vec(2), 1.0))])
    with pytest.raises(ValueError):
        store.load_vectors("emb")

def test_list_books_pages_in_id_order(store):
    store.upsert_books([book(f"gr-{i}", title=f"Book {i}", author="A") for i in range(7)])
    first = store.list_books("", 3)
    second = store.list_books(first[-1].id, 3)
    assert [b.id for b in first] == ["gr-0", "gr-1", "gr-2"]
    assert [b.id for b in second] == ["gr-3", "gr-4", "gr-5"]


def test_unicode_round_trips(store):
    b = book("gr-7", title="Cem Anos de Solidão", author="Gabriel García Márquez", characters=("José Arcadio Buendía",))
    store.upsert_books([b])
    assert store.get_books(["gr-7"])["gr-7"] == b


def test_integrity_check_passes_on_healthy_data(store):
    store.upsert_books([book()], {"gr-1": ("h", vec(2))}, "emb")
    assert store.integrity_check() == []


@pytest.mark.postgres
def test_replicas_creating_the_schema_at_once_do_not_collide(postgres_url):
    """Replicas start together; PostgreSQL's IF NOT EXISTS alone lets one of them fail."""
    from concurrent.futures import ThreadPoolExecutor

    from smartlib_server.adapters.experiment_store import ExperimentStore
    from smartlib_server.adapters.interaction_store import InteractionStore

    def start(_):
        store = postgres_store(postgres_url)
        try:
            ExperimentStore(store.db, InteractionStore(store.db))
            return store.count_books()
        finally:
            store.close()

    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(start, range(6))) == [0] * 6


def test_a_re_embed_of_an_unchanged_book_moves_the_version(store):
    # A stored catalog (services/recommend/stored_catalog.py) is named by the version: a new
    # vector for the same text must not leave it where it was.
    store.upsert_books([book()], {"gr-1": ("h1", vec(1))}, "emb")
    version = store.version()
    outcome = store.upsert_books([book()], {"gr-1": ("h1", vec(2))}, "emb")
    assert outcome.unchanged == ("gr-1",)
    assert [(c.book_id, c.op) for c in store.changes_since(version)] == [("gr-1", "upsert")]
    version = store.version()
    store.put_vectors("emb", [("gr-1", "h1", vec(3))])
    assert [c.book_id for c in store.changes_since(version)] == ["gr-1"]


def test_content_hashes_name_every_book_by_all_its_fields(store):
    store.upsert_books([book(), book("gr-2", "Foundation", "Isaac Asimov")])
    assert store.content_hashes() == {"gr-1": book().content_hash(), "gr-2": book("gr-2", "Foundation", "Isaac Asimov").content_hash()}
