"""A read-only SQLite catalog store: reads a catalog another process wrote, and can change nothing."""
from __future__ import annotations

import numpy as np
import pytest

from smartlib_core.domain import Book
from smartlib_core.errors import Unavailable
from smartlib_server.adapters.catalog_store import sqlite_store


def test_a_read_only_store_reads_vectors_and_refuses_every_write(tmp_path):
    path = tmp_path / "catalog.sqlite3"
    writer = sqlite_store(path)
    writer.upsert_books([Book(id="b1", title="One", authors=("A. Writer",)), Book(id="b2", title="Two", authors=("B. Writer",))])
    writer.put_vectors("e/4", [("b1", "h1", np.ones(4, dtype=np.float32)), ("b2", "h2", np.arange(4, dtype=np.float32))])
    writer.put_vectors("rare/4", [("b1", "h1", np.zeros(4, dtype=np.float32))])
    writer.close()
    before = path.read_bytes()

    reader = sqlite_store(path, read_only=True)
    try:
        assert reader.embedders() == ["e/4", "rare/4"]  # most vectors first
        ids, matrix = reader.load_vectors("e/4")
        assert ids == ["b1", "b2"] and matrix[1].tolist() == [0.0, 1.0, 2.0, 3.0]
        with pytest.raises(Unavailable):
            reader.upsert_books([Book(id="b3", title="Three", authors=("C. Writer",))])
        with pytest.raises(Unavailable):
            reader.delete_book("b1")
    finally:
        reader.close()
    assert path.read_bytes() == before


def test_a_read_only_store_does_not_create_a_missing_catalog(tmp_path):
    with pytest.raises(FileNotFoundError):
        sqlite_store(tmp_path / "absent" / "catalog.sqlite3", read_only=True).count_books()
    assert not (tmp_path / "absent").exists()
