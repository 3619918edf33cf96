"""Cold-start signal: how popular each book is, overall and within the genres a user showed interest in.

The popularity itself is core's cold-start prior (`catalog_popularity`); core's module says why it
is not the ranking prior SimilarBooks adds to a cosine.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from smartlib_core.domain import Book
from smartlib_core.genres import TASTE_GENERIC_KEYS as GENERIC_GENRES
from smartlib_core.popularity import catalog_popularity


def genre_weights(genres: Iterable[str]) -> dict[str, float]:
    """Shelves are ordered by how many readers chose them, so earlier ones weigh more."""
    out: dict[str, float] = {}
    for position, genre in enumerate(genres):
        key = genre.lower()
        if key not in GENERIC_GENRES and key not in out:
            out[key] = 1.0 / (1.0 + 0.5 * position)
    return out


class CatalogPriors:
    """Popularity and book-genre incidence for one catalog version, as arrays for fast scoring."""

    def __init__(self, books: Mapping[str, Book], version: object = None):
        self.version = version
        self.ids = list(books)
        self.row = {b: i for i, b in enumerate(self.ids)}
        size = len(self.ids)
        self.pop = np.array(
            [catalog_popularity(books[b].list_rank, books[b].num_ratings, size) for b in self.ids], dtype=np.float32
        )
        # Popularity as a percentile: scale-free, so a catalog whose priors bunch near 0.3 (no
        # rating counts) weighs content and CF the same way as one whose priors spread to 1.
        order = np.argsort(self.pop, kind="stable")
        self.percentile = np.empty(size, dtype=np.float32)
        self.percentile[order] = (np.arange(size, dtype=np.float32) + 1) / max(size, 1)
        self.genres: dict[str, int] = {}
        self.genre_names: dict[str, str] = {}
        rows, cols, vals = [], [], []
        for i, book_id in enumerate(self.ids):
            for genre, weight in genre_weights(books[book_id].genres).items():
                column = self.genres.setdefault(genre, len(self.genres))
                self.genre_names.setdefault(genre, next(g for g in books[book_id].genres if g.lower() == genre))
                rows.append(i)
                cols.append(column)
                vals.append(weight)
        from scipy import sparse  # here, when a reader's ranking first needs it, not at start

        self.incidence = sparse.csr_matrix(
            (np.array(vals, dtype=np.float32), (rows, cols)), shape=(size, max(1, len(self.genres)))
        )

    def affinity(self, prefs: Mapping[str, float], books: Mapping[str, Book]) -> dict[str, float]:
        """Genre -> share of the user's preference mass, from the genres of the books they liked."""
        totals: dict[str, float] = {}
        for book_id, weight in prefs.items():
            book = books.get(book_id)
            if book is None:
                continue
            for genre, share in genre_weights(book.genres).items():
                totals[genre] = totals.get(genre, 0.0) + weight * share
        mass = sum(totals.values())
        return {g: v / mass for g, v in totals.items()} if mass else {}

    def scores(self, affinity: Mapping[str, float]) -> np.ndarray:
        """Per book: popularity, times the user's genre match when there is a genre profile."""
        if not affinity:
            return self.pop.copy()
        vector = np.zeros(self.incidence.shape[1], dtype=np.float32)
        for genre, value in affinity.items():
            column = self.genres.get(genre)
            if column is not None:
                vector[column] = value
        match = self.incidence @ vector
        top = match.max() if match.size else 0.0
        if top <= 0:
            return self.pop.copy()
        return self.pop * (0.1 + match / top)  # a little mass outside the user's genres keeps variety

    def reason(self, book: Book, affinity: Mapping[str, float]) -> str:
        shared = [(affinity[g], g) for g in genre_weights(book.genres) if g in affinity]
        if shared:
            return f"popular in {self.genre_names.get(max(shared)[1], max(shared)[1])}"
        return "popular with readers"
