"""Each book's reply bytes kept in SMARTLIB_HOME/derived/book-bytes (api/stored_books.py): a
restart serves them without encoding a book, byte for byte as encoded; bytes stored for another
catalog or by another conversion, and damaged files, are never served."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from smartlib_core.domain import Book
from smartlib_server.api import stored_books, wire
from smartlib_server.api.conversion import book_to_pb
from smartlib_server.services.recommend.derived_index import DerivedIndexStore
from smartlib_server.services.recommend.stored_catalog import CatalogKey

BOOKS = {f"b{i}": Book(id=f"b{i}", title=f"Tïtle {i}", authors=(f"Author {i % 3}",), description="d" * (40 * i),
                       genres=("Fantasy",), avg_rating=3.5, num_ratings=i, series_name="S" if i % 2 else "",
                       list_rank=i - 1) for i in range(40)}


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """An empty wire cache (a new process) and a derived folder holding the books' bytes."""
    monkeypatch.setattr(wire, "_BOOK_FIELDS", {})
    derived = DerivedIndexStore(tmp_path / "derived")
    assert stored_books.store(derived, "catalog-1", BOOKS) == len(BOOKS)
    monkeypatch.setattr(wire, "_BOOK_FIELDS", {})
    return derived


def encodes(monkeypatch) -> list[str]:
    """Records every book wire encodes from now on."""
    encoded: list[str] = []

    def counted(book):
        encoded.append(book.id)
        return book_to_pb(book)
    monkeypatch.setattr(wire, "book_to_pb", counted)
    return encoded


def test_restored_bytes_are_served_as_encoded_and_nothing_is_encoded(fresh, monkeypatch):
    assert stored_books.restore(fresh, "catalog-1", BOOKS) == len(BOOKS)
    encoded = encodes(monkeypatch)
    served = {book_id: wire.book_field(book) for book_id, book in BOOKS.items()}
    assert encoded == []  # every book's bytes came from the file
    assert served == {book_id: wire.encode_book_field(book) for book_id, book in BOOKS.items()}


def test_bytes_of_another_catalog_are_not_found(fresh, monkeypatch):
    assert stored_books.restore(fresh, "catalog-2", BOOKS) == 0
    encoded = encodes(monkeypatch)
    wire.book_field(BOOKS["b3"])
    assert encoded == ["b3"]


def test_a_book_replaced_after_the_restore_is_encoded_afresh(fresh):
    stored_books.restore(fresh, "catalog-1", BOOKS)
    changed = dataclasses.replace(BOOKS["b3"], title="Renamed")
    assert wire.book_field(changed) == wire.encode_book_field(changed) != wire.book_field(BOOKS["b3"])


def test_bytes_from_another_conversion_are_refused(fresh, monkeypatch, caplog):
    monkeypatch.setattr(wire, "book_to_pb", lambda book: book_to_pb(dataclasses.replace(book, title=book.title + "!")))
    assert stored_books.restore(fresh, "catalog-1", BOOKS) == 0
    assert "encoded differently" in caplog.text and wire._BOOK_FIELDS == {}


def only_file(derived: DerivedIndexStore):
    (path,) = (derived.root / stored_books.FOLDER).glob("*.npz")
    return path


def rewrite(path, change) -> None:
    with np.load(path, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    change(arrays)
    with path.open("wb") as out:
        np.savez(out, **arrays)


def truncate(path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def shift_a_start(path) -> None:
    rewrite(path, lambda a: a["starts"].__setitem__(5, a["starts"][7]))


def name_another_book(path) -> None:
    rewrite(path, lambda a: a.__setitem__("ids", np.array([*a["ids"][:-1].tolist(), "elsewhere"], dtype=str)))


def flip_a_byte(path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the data array: its CRC-32 no longer matches
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [truncate, shift_a_start, name_another_book, flip_a_byte])
def test_a_damaged_file_is_ignored(fresh, damage, caplog):
    damage(only_file(fresh))
    assert stored_books.restore(fresh, "catalog-1", BOOKS) == 0
    assert "ignoring" in caplog.text and wire._BOOK_FIELDS == {}
    assert stored_books.store(fresh, "catalog-1", BOOKS) == len(BOOKS)  # what the start then does, after SERVING
    assert stored_books.restore(fresh, "catalog-1", BOOKS) == len(BOOKS)


def test_only_the_books_a_load_read_are_stored(tmp_path):
    index = type("Index", (), {})()
    index.derived, index.state = DerivedIndexStore(tmp_path), type("State", (), {"books": BOOKS})()
    index.version, index.catalog = 7, CatalogKey(7, "catalog-1")
    assert stored_books.served(index) == (index.derived, "catalog-1", BOOKS)
    index.version = 8  # a write applied since the load: its key no longer describes the books
    assert stored_books.served(index) is None
    index.version, index.catalog = 7, CatalogKey(7, "")  # the load had no key
    assert stored_books.served(index) is None
