"""A restart serves the stored catalog (vectors, signals, the lexical key) only for exactly the
catalog the store holds, and rebuilds it, never serving it, when it is stale or damaged."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from smartlib_core.domain import Book
from smartlib_core.embedding import EMBEDDER_ID, normalise
from smartlib_server.adapters.catalog_store import sqlite_store
from smartlib_server.services.recommend import serving_index
from smartlib_server.services.recommend.derived_index import DerivedIndexStore
from smartlib_server.services.recommend.serving_index import FinetunedModel, ServingIndex
from smartlib_server.services.recommend.stored_catalog import FOLDER, catalog_key
from smartlib_server.services.recommend.vector_index import VectorIndex
from smartlib_server.services.title_search import TitleIndex

N, DIM = 120, 2688  # at least the neighbour table depth, as test_derived_index
GENRES = [("Fantasy", "Fiction"), ("Romance",), ("History", "Fiction", "War")]


def _book(i: int, description: str = "") -> Book:
    return Book(id=f"b{i:03d}", title=f"Title {i}", authors=(f"Author {i % 7}",), genres=GENRES[i % 3],
                description=description or f"words about topic{i % 5} and more", num_ratings=10 * i, list_rank=i)


def _vector(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)


@pytest.fixture
def store(tmp_path):
    s = sqlite_store(tmp_path / "catalog.sqlite3")
    s.upsert_books([_book(i) for i in range(N)], {f"b{i:03d}": (f"h{i}", _vector(i)) for i in range(N)}, EMBEDDER_ID)
    yield s
    s.close()


class CountingEncoder:
    def __init__(self):
        self.projection = np.random.default_rng(0).standard_normal((DIM, 256)).astype(np.float32)
        self.seen: list[np.ndarray] = []

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        self.seen.append(raw.copy())
        return raw @ self.projection


def _model(encoder, fingerprint="local:a") -> FinetunedModel:
    return FinetunedModel("v1", encoder, VectorIndex(256), fingerprint=fingerprint)


def _load(store, tmp_path, model=None) -> ServingIndex:
    index = ServingIndex(store, TitleIndex(), index_kind="flat", derived=DerivedIndexStore(tmp_path / "derived"))
    index.load(finetuned=model)
    return index


def _files(tmp_path):
    return sorted((tmp_path / "derived" / FOLDER).glob("*.npz"))


def _served(index: ServingIndex) -> dict:
    """What requests read: vectors, text search, signals and lexical answers."""
    state = index.state
    ids = sorted(state.books)
    signals = state.signals
    features = signals.features(signals.slot("b001"), np.array([signals.slot(i) for i in ids]), np.zeros(len(ids), np.float32))
    return {
        "vectors": state.baseline.vectors(ids), "text": state.text_view.vectors(ids), "features": features,
        "lexical": index.lexical.search("topic3", 10), "version": index.version,
        "descriptions": [state.books[i].description for i in ids],
    }


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(np.asarray(a[name], dtype=object), np.asarray(b[name], dtype=object), err_msg=name)


def test_a_restart_serves_the_stored_catalog_without_reading_a_vector(store, tmp_path, monkeypatch):
    first = _load(store, tmp_path)
    assert len(_files(tmp_path)) == 1
    monkeypatch.setattr(store, "load_vectors", lambda embedder_id: pytest.fail("read the vectors again"))
    monkeypatch.setattr(serving_index, "text_view", lambda matrix: pytest.fail("computed the text view again"))
    again = _load(store, tmp_path)
    _same(_served(again), _served(first))
    np.testing.assert_allclose(again.state.baseline.vectors(["b007"])[0], normalise(_vector(7)[None])[0], rtol=1e-6)


@pytest.mark.parametrize("write", ["description", "re-embed", "delete", "new book"])
def test_any_write_since_the_file_was_stored_misses_it(store, tmp_path, write):
    _load(store, tmp_path)
    if write == "description":
        store.upsert_books([_book(3, "a new description about topic3 and topic3")])
    elif write == "re-embed":  # same text, a new vector: the version moves (catalog_store)
        store.upsert_books([_book(3)], {"b003": ("h3", _vector(1000))}, EMBEDDER_ID)
    elif write == "delete":
        store.delete_book("b003")
    else:
        store.upsert_books([_book(N)], {f"b{N:03d}": ("hN", _vector(N))}, EMBEDDER_ID)
    again = _load(store, tmp_path)
    fresh = ServingIndex(store, TitleIndex(), index_kind="flat")  # no derived store at all
    fresh.load()
    _same(_served(again), _served(fresh))
    assert len(_files(tmp_path)) == 2  # the new catalog's file beside the old one


def _ignored(caplog) -> list[str]:
    """The server's own 'ignoring' warnings: other libraries log at WARNING too (an OpenTelemetry
    processor another test shut down says "ignoring call")."""
    return [r.getMessage() for r in caplog.records if r.name.startswith("smartlib") and "ignoring" in r.getMessage()]


@pytest.mark.parametrize("damage", ["flipped", "truncated", "foreign", "garbage"])
def test_a_damaged_or_foreign_file_is_ignored_rebuilt_and_stored_anew(store, tmp_path, damage, caplog):
    expected = _served(_load(store, tmp_path))
    [path] = _files(tmp_path)
    data = bytearray(path.read_bytes())
    if damage == "flipped":  # inside the vectors: np.load's CRC check catches it
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    elif damage == "truncated":
        path.write_bytes(bytes(data[: len(data) // 3]))
    elif damage == "garbage":
        path.write_bytes(b"not a zip file at all")
    else:  # a whole, valid file of another catalog renamed to this catalog's name
        other = tmp_path / "other"
        other_store = sqlite_store(other / "catalog.sqlite3")
        other_store.upsert_books([_book(i, "other words") for i in range(N)],
                                 {f"b{i:03d}": (f"h{i}", _vector(i + 500)) for i in range(N)}, EMBEDDER_ID)
        _load(other_store, other)
        other_store.close()
        [foreign] = _files(other)
        path.write_bytes(foreign.read_bytes())
    with caplog.at_level(logging.WARNING):
        again = _load(store, tmp_path)
    _same(_served(again), expected)
    assert _ignored(caplog)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        _same(_served(_load(store, tmp_path)), expected)  # the file was stored anew and serves the next start
    assert not _ignored(caplog)


def test_a_write_during_the_load_stores_no_file_and_the_change_is_caught_up(store, tmp_path, monkeypatch):
    read_books = store.all_books

    def books_then_a_write():
        books = read_books()
        monkeypatch.setattr(store, "all_books", read_books)
        store.upsert_books([_book(5, "written while the load read")])
        return books

    monkeypatch.setattr(store, "all_books", books_then_a_write)
    index = _load(store, tmp_path)
    assert _files(tmp_path) == []  # the data read may be newer than the key: nothing is stored under it
    index.catch_up()
    assert index.state.books["b005"].description == "written while the load read"


def test_a_write_while_the_key_is_read_gives_no_key(store, monkeypatch):
    read = store.content_hashes

    def hashes_then_a_write():
        hashes = read()
        store.upsert_books([_book(6, "written while the key was read")])
        return hashes

    monkeypatch.setattr(store, "content_hashes", hashes_then_a_write)
    assert catalog_key(store, EMBEDDER_ID).key == ""


def test_a_new_encoder_over_a_stored_catalog_encodes_the_stored_vectors(store, tmp_path):
    _load(store, tmp_path, _model(CountingEncoder(), "local:a"))
    encoder = CountingEncoder()
    index = _load(store, tmp_path, _model(encoder, "local:b"))  # the catalog's file, no file for this encoder
    [raw] = encoder.seen
    np.testing.assert_array_equal(raw, store.load_vectors(EMBEDDER_ID)[1])
    again = CountingEncoder()
    _load(store, tmp_path, _model(again, "local:b"))
    assert again.seen == []  # now stored under the catalog key as well
    assert index.state.finetuned.index.vector("b002") is not None
