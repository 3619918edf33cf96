"""The lexical index in SMARTLIB_HOME/derived/lexical is reused only for exactly the same books,
in the same order, by the same analyser; anything else, or a damaged file, is built afresh."""
from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest

from smartlib_core.domain import Book
from smartlib_core.lexical import LexicalIndex
from smartlib_server.services.recommend import stored_lexical
from smartlib_server.services.recommend.derived_index import DerivedIndexStore
from smartlib_server.services.recommend.stored_lexical import lexical_index

QUERIES = ["keeper lighthouse", "harbour nets", "salt sea", "ann"]


@pytest.fixture
def books() -> list[Book]:
    return [
        Book(id="a", title="The Lighthouse", authors=("Ann Author",), description="A keeper tends the lighthouse."),
        Book(id="b", title="Harbour Days", authors=("Bo Writer",), description="A fisherman mends nets in a harbour."),
        Book(id="c", title="Salt", authors=("Cy Poet",), description="The sea keeps the rest."),
    ]


@pytest.fixture
def builds(monkeypatch) -> list[int]:
    """Counts the books each real build analysed."""
    counted: list[int] = []
    upsert = LexicalIndex.upsert

    def counting(self, books):
        books = list(books)
        counted.append(len(books))
        return upsert(self, books)

    monkeypatch.setattr(LexicalIndex, "upsert", counting)
    return counted


def answers(index: LexicalIndex) -> list:
    return [index.search(q, 5, field) for q in QUERIES for field in ("text", "names")]


def files(root) -> list:
    return sorted((root / stored_lexical.FOLDER).glob("*.npz"))


def test_a_restart_restores_the_index_and_answers_the_same(tmp_path, books, builds):
    derived = DerivedIndexStore(tmp_path)
    first = lexical_index(derived, books)
    assert builds == [3] and len(files(tmp_path)) == 1
    again = lexical_index(derived, books)
    assert builds == [3]  # restored: nothing analysed
    assert answers(again) == answers(first)


def change(books: list[Book], how: str) -> list[Book]:
    if how == "description":
        return [books[0], dataclasses.replace(books[1], description="A fisherman mends sails."), books[2]]
    if how == "author":
        return [dataclasses.replace(books[0], authors=("Ann Other",)), *books[1:]]
    if how == "order":
        return list(reversed(books))
    return books[:2]  # a book fewer


@pytest.mark.parametrize("how", ["description", "author", "order", "fewer"])
def test_any_change_to_the_books_builds_afresh(tmp_path, books, builds, how):
    derived = DerivedIndexStore(tmp_path)
    lexical_index(derived, books)
    changed = change(books, how)
    index = lexical_index(derived, changed)
    assert len(builds) == 2  # built again, never the stored index of the other books
    fresh = LexicalIndex()
    fresh.upsert(changed)
    assert answers(index) == answers(fresh)


def test_another_analyser_builds_afresh(tmp_path, books, builds, monkeypatch):
    derived = DerivedIndexStore(tmp_path)
    lexical_index(derived, books)
    monkeypatch.setattr(stored_lexical, "_analyser_digest", lambda: b"lexical.py as edited")
    lexical_index(derived, books)
    assert len(builds) == 2


def test_reuse_false_builds_and_stores_afresh(tmp_path, books, builds):
    derived = DerivedIndexStore(tmp_path)
    lexical_index(derived, books)
    lexical_index(derived, books, reuse=False)
    assert len(builds) == 2 and len(files(tmp_path)) == 1


@pytest.mark.parametrize("damage", ["truncated", "inconsistent", "renamed"])
def test_a_damaged_file_is_ignored_built_and_replaced(tmp_path, books, builds, caplog, damage):
    derived = DerivedIndexStore(tmp_path)
    first = lexical_index(derived, books)
    path = files(tmp_path)[0]
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    else:
        with np.load(path) as stored:
            arrays = dict(stored)
        if damage == "inconsistent":
            arrays["f0_rows"] = arrays["f0_rows"] + 50
        else:
            arrays["key"] = np.array("another key")
        with path.open("wb") as out:
            np.savez(out, **arrays)
    with caplog.at_level(logging.WARNING):
        again = lexical_index(derived, books)
    assert len(builds) == 2 and "ignoring" in caplog.text
    assert answers(again) == answers(first)
    restored = lexical_index(derived, books)  # the file was stored anew, and serves the next start
    assert len(builds) == 2 and answers(restored) == answers(first)


def test_without_a_derived_store_it_builds(books, builds):
    assert answers(lexical_index(None, books)) and builds == [3]
