"""SearchByText under the default approach: broad genre asks by what readers love, the rest by content.

The rules live in smartlib_core.text_ranking, where `smartlib eval` measures them too; this
module keeps one ShelfIndex per catalog version and lends it the baseline's 384-d text view.
Both kinds of ask score against the 2688-d vectors' description and genre blocks, never the
256-d space, which keeps too little of what makes one book itself to find it from a sentence;
the text view (embedding.text_view) gives those scores from 384 floats a book instead of 2688,
so a scan reads 15 MB instead of 106 MB at 10k books.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

import numpy as np

from smartlib_core.domain import Book, BookFilter
from smartlib_core.embedding import text_view
from smartlib_core.lexical import LexicalIndex
from smartlib_core.text_ranking import LEXICAL_POOL, ShelfIndex, TextHit, rank_text
from smartlib_server.services.recommend.vector_index import VectorIndex


class TextSearch:
    def __init__(self) -> None:
        self._shelves: tuple[tuple[int, int], ShelfIndex] | None = None
        self._lock = threading.Lock()

    def shelves(self, books: Mapping[str, Book], version: int) -> ShelfIndex:
        """The ShelfIndex of this catalog version, built once per version (tens of ms at 10k)."""
        key = (id(books), version)
        with self._lock:
            if self._shelves is None or self._shelves[0] != key:
                self._shelves = (key, ShelfIndex(books))
            return self._shelves[1]

    def words(
        self, books: Mapping[str, Book], version: int, query: str, filt: BookFilter, lexical: LexicalIndex,
    ) -> list[tuple[str, float]] | None:
        """BM25's pool for a description, to fuse in `rank`; None for a broad genre ask, which
        keeps its shelf route. Needs no query vector, so SearchByText runs it while its query
        waits for the embedding batch."""
        if self.shelves(books, version).asked(query, filt):
            return None
        return lexical.search(query, LEXICAL_POOL)

    def rank(
        self, books: Mapping[str, Book], version: int, view: VectorIndex, query: str, vector: np.ndarray,
        k: int, filt: BookFilter, words: list[tuple[str, float]] | None = None,
    ) -> list[TextHit]:
        """The best k answers to a text query whose 2688-d unit vector is `vector`, scored in
        `view`, the catalog's text view, and fused with `words`, BM25's pool from `words()`
        (None: the dense ranking alone)."""
        query_view = text_view(vector[None, :])[0]
        return rank_text(
            self.shelves(books, version), books, query, k, filt,
            similarity_of=lambda ids: view.vectors(ids) @ query_view,
            search=lambda n: view.search(query_view, n)[0],
            lexical=(lambda n: words[:n]) if words is not None else None,
            # words() found no broad ask, or it would have returned None: no second parse
            genres=() if words is not None else None,
        )


def text_reason(folded_query: str, candidate: Book, part: str = "meaning") -> str:
    """Why a book answers a text ask: the genres the ask names; else which index found it, the
    lexical one ("matches your words") or the dense one ("close to your description")."""
    return text_reasons(folded_query)(candidate, part)


def text_reasons(folded_query: str) -> Callable[[Book, str], str]:
    """`text_reason` for every answer to one query: the query's words are split once, not once
    an answer."""
    words = set(folded_query.split())

    def reason(candidate: Book, part: str = "meaning") -> str:
        named = [g for g, folded in zip(candidate.genres, candidate.genres_folded, strict=True)
                 if folded in folded_query or set(folded.split()) <= words]
        if named:
            return "matches " + ", ".join(named[:3])
        if part == "words":
            return "matches your words"
        close = f"close to your description ({candidate.main_genre})" if candidate.main_genre else "close to your description"
        return f"matches your words and {close}" if part == "both" else close
    return reason
