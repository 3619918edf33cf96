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
from smartlib_server.services.recommend.similar import WouldBlock
from smartlib_server.services.recommend.vector_index import VectorIndex


class TextSearch:
    def __init__(self) -> None:
        self._shelves: tuple[tuple[int, int], ShelfIndex] | None = None
        self._lock = threading.Lock()

    def shelves(self, books: Mapping[str, Book], version: int, *, wait: bool = True) -> ShelfIndex:
        """The ShelfIndex of this catalog version, built once per version (tens of ms at 10k).
        With `wait=False` (the event loop), WouldBlock when it would be built or waited for."""
        key = (id(books), version)
        if not wait:
            built = self._shelves
            if built is None or built[0] != key:
                raise WouldBlock("the shelves of this catalog version are not built yet")
            return built[1]
        with self._lock:
            if self._shelves is None or self._shelves[0] != key:
                self._shelves = (key, ShelfIndex(books))
            return self._shelves[1]

    def words(
        self, books: Mapping[str, Book], version: int, query: str, filt: BookFilter, lexical: LexicalIndex,
        *, wait: bool = True,
    ) -> list[tuple[str, float]] | None:
        """BM25's pool for a description, to fuse in `rank`; None for a broad genre ask, which
        keeps its shelf route. Needs no query vector, so SearchByText runs it while its query
        waits for the embedding batch. (The lexical index's own lock is held by a writer only
        while it swaps postings in memory, so `wait=False` takes it.)"""
        if self.shelves(books, version, wait=wait).asked(query, filt):
            return None
        return lexical.search(query, LEXICAL_POOL)

    def rank(
        self, books: Mapping[str, Book], version: int, view: VectorIndex, query: str, vector: np.ndarray,
        k: int, filt: BookFilter, words: list[tuple[str, float]] | None = None, *, wait: bool = True,
    ) -> list[TextHit]:
        """The best k answers to a text query whose 2688-d unit vector is `vector`, scored in
        `view`, the catalog's text view, and fused with `words`, BM25's pool from `words()`
        (None: the dense ranking alone). With `wait=False` (the event loop), WouldBlock where
        it would wait: the shelves not built for this version, or a write on the view."""
        query_view = text_view(vector[None, :])[0]

        def similarity_of(ids: list[str]) -> np.ndarray:
            return _now(view.vectors(ids, wait=wait)) @ query_view
        return rank_text(
            self.shelves(books, version, wait=wait), books, query, k, filt,
            similarity_of=similarity_of,
            search=lambda n: _now(view.search(query_view, n, wait=wait))[0],
            lexical=(lambda n: words[:n]) if words is not None else None,
            # words() found no broad ask, or it would have returned None: no second parse
            genres=() if words is not None else None,
        )


def _now(found):
    """What the view answered, or WouldBlock when it would have waited for a writer (None)."""
    if found is None:
        raise WouldBlock("a write holds the text view")
    return found


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
