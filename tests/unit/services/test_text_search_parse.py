"""SearchByText's text ranking parses a query's broad ask once: the lexical step's parse decides
the route, and the ranking reuses it (it used to parse again, a tenth of the ranking's Python)."""
from __future__ import annotations

import numpy as np
import pytest

from smartlib_core.domain import Book, BookFilter
from smartlib_core.lexical import LexicalIndex
from smartlib_core.text_ranking import ShelfIndex
from smartlib_server.services.text_search import TextSearch

BOOKS = {b.id: b for b in [
    Book("a", "The Salt Island", ("Ann Author",), description="An island keeps its secrets.", genres=("Fantasy",),
         num_ratings=5_000, list_rank=3),
    Book("b", "Stars Apart", ("Bo Writer",), description="Two ships drift between the stars.",
         genres=("Science Fiction",), num_ratings=800, list_rank=40),
    Book("c", "Harbour Lights", ("Cy Poet",), description="A fishing town and a lighthouse keeper.",
         genres=("Fiction", "Fantasy"), num_ratings=90, list_rank=-1),
]}
VECTORS = {"a": [1.0, 0.0], "b": [0.0, 1.0], "c": [0.6, 0.8]}


class View:
    """A two-dimensional stand-in for the catalog's text view."""

    def vectors(self, ids, *, wait=True):
        return np.array([VECTORS[i] for i in ids], dtype=np.float32)

    def search(self, query, n, *, wait=True):
        scored = sorted(((i, float(np.dot(v, query))) for i, v in VECTORS.items()), key=lambda p: -p[1])
        return [scored[:n]]


@pytest.fixture
def counted(monkeypatch):
    calls = []
    asked = ShelfIndex.asked

    def counting(self, query, filt):
        calls.append(query)
        return asked(self, query, filt)
    monkeypatch.setattr(ShelfIndex, "asked", counting)
    return calls


def _search(text: TextSearch, query: str, fused: bool = True):
    lexical = LexicalIndex()
    lexical.upsert(BOOKS.values())
    words = text.words(BOOKS, 1, query, BookFilter(), lexical) if fused else None
    vector = np.zeros(2688, dtype=np.float32)  # the text view of this query is [1, 0] (see View)
    return text.rank(BOOKS, 1, View(), query, vector, 3, BookFilter(), words), words


def test_a_description_is_parsed_once(counted, monkeypatch):
    monkeypatch.setattr("smartlib_server.services.text_search.text_view", lambda v: np.array([[1.0, 0.0]], np.float32))
    hits, words = _search(TextSearch(), "an island with secrets")
    assert counted == ["an island with secrets"]
    assert words and words[0][0] == "a"  # the lexical pool was fused
    assert hits[0].id == "a" and hits[0].part == "both"


def test_a_broad_ask_and_a_dense_only_search_still_parse_in_the_ranking(counted, monkeypatch):
    monkeypatch.setattr("smartlib_server.services.text_search.text_view", lambda v: np.array([[1.0, 0.0]], np.float32))
    hits, words = _search(TextSearch(), "fantasy books")
    assert words is None and {hit.part for hit in hits} == {"shelves"}
    assert counted == ["fantasy books", "fantasy books"]  # words() found the ask; rank_text ranks it
    counted.clear()
    hits, _ = _search(TextSearch(), "an island with secrets", fused=False)
    assert counted == ["an island with secrets"] and {hit.part for hit in hits} == {"meaning"}
