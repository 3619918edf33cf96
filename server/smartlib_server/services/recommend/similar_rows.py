"""SimilarBooks candidates read off the neighbour table once per book, kept until the catalog changes.

Two requests for the same book and pool size re-rank the same table row the same way and give
each candidate the same reason; only their exclusions and k differ. So a row (the re-ranked
candidate ids and scores) is read once, and each Recommendation is built the first time a
request returns it, then reused by every later request, whose own work shrinks to skipping its
excluded ids.

Rows belong to one index object at one catalog version: a write bumps the version and a swap
or a new encoder replaces the index, and either starts an empty set of rows. A request that read
an older version of the same index (it began before the write) still gets its row, but the row
is not kept: it would otherwise throw away the rows of the newer version.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from smartlib_core.domain import Book, Recommendation
from smartlib_server.services.recommend.vector_index import VectorIndex

# A bound on memory, not an eviction policy. It holds a reader row for every book of a 10k
# catalog (services/recommend/row_warmer.py builds them ahead of requests, up to 3/4 of the bound) with
# room for neighbour-table rows besides. A reader row keeps its first max_k + 32 candidates
# (RecommendService): measured over the 10k catalog, 4.7 KB a row, 8.0 KB once its first 20
# answers are built (a whole row of ~530 took 14.3 / 17.6 KB), so 16,384 rows of that kind
# stay under about 130 MB; the 9,880 reader rows of the 10k catalog took 47 / 76 MiB.
MAX_ROWS = 16_384


class SimilarRow:
    """The table's candidates for one book and pool size, best first, with the `Recommendation`
    of each candidate built on first use (None where the candidate has no book in the catalog).
    `complete` is False when the row keeps only the head of a longer ranked pool: fewer than k
    picks from it then say nothing about the whole pool, and the caller must rank it again.
    `reasons`, when given, holds each candidate's reason by position, made ahead (rows restored
    from SMARTLIB_HOME/derived, stored_rows.py); `reason(candidate)` is then never called."""

    __slots__ = ("ids", "complete", "_scores", "_items", "_books", "_reason", "_reasons")

    def __init__(
        self, ids: list[str], scores: list[float], books: dict[str, Book], reason: Callable[[Book], str] | None,
        complete: bool = True, reasons: Sequence[str] | None = None,
    ):
        self.ids = ids
        self.complete = complete
        self._scores = np.asarray(scores, dtype=np.float64)  # a third of a list of floats' memory
        self._items: list[Recommendation | None | bool] = [False] * len(ids)  # False: not built yet
        self._books = books
        self._reason = reason
        self._reasons = reasons

    def picks(
        self, k: int, excluded: frozenset[str], accepts: Callable[[Book], bool] | None = None
    ) -> list[Recommendation]:
        """The first k candidates that are not excluded, have a book and pass `accepts`, in row order."""
        picks: list[Recommendation] = []
        items = self._items
        for position, book_id in enumerate(self.ids):
            if book_id in excluded:
                continue
            item = items[position]
            if item is False:
                item = items[position] = self._build(position)  # racing threads build equal items
            if item is not None and (accepts is None or accepts(item.book)):
                picks.append(item)
                if len(picks) == k:
                    break
        return picks

    def head(self) -> tuple[list[str], np.ndarray]:
        """The kept candidates and their scores (float64, not copied), best first."""
        return self.ids, self._scores

    @property
    def scores(self) -> np.ndarray:
        """The kept candidates' scores, best first (float64; stored as they are)."""
        return self._scores

    def reasons(self) -> list[str]:
        """Every candidate's reason, by position ("" where the candidate has no book): what
        stored_rows keeps beside the row, so a restored row makes none on a request's time."""
        items, reasons, books = self._items, self._reasons, self._books
        out = []
        for position, book_id in enumerate(self.ids):
            item = items[position]
            if isinstance(item, Recommendation):
                out.append(item.reason)
            elif reasons is not None:
                out.append(reasons[position])
            else:
                candidate = books.get(book_id)
                out.append("" if candidate is None else self._reason(candidate))
        return out

    def _build(self, position: int) -> Recommendation | None:
        candidate = self._books.get(self.ids[position])
        if candidate is None:
            return None
        reasons = self._reasons
        reason = reasons[position] if reasons is not None else self._reason(candidate)
        return Recommendation(candidate, float(self._scores[position]), reason)


class SimilarRows:
    """SimilarRow objects by (book id, pool size) for the index and catalog version last asked for."""

    def __init__(self, max_rows: int = MAX_ROWS):
        self.max_rows = max_rows
        self._current: tuple[VectorIndex | None, int, dict[tuple[str, int], SimilarRow]] = (None, -1, {})
        self.generation = 0  # counts the row sets started (and bound-emptied): the warmer watches it

    def row(
        self, index: VectorIndex, version: int, book_id: str, fetch: int, build: Callable[[], SimilarRow | None]
    ) -> SimilarRow | None:
        """The row of `book_id` for a pool of `fetch` candidates, from `build()` on first use.

        `version` must be read before the state `build` reads from, so a row built from data
        newer than `version` can only be reused by requests that are concurrent with the write.
        None when `build()` returns None (the table cannot answer right now); that is not kept.
        """
        current = self._current  # one read: another thread may replace it meanwhile
        if current[0] is index and version < current[1]:
            return build()  # read before a write that newer rows already follow: answer, keep nothing
        if current[0] is not index or current[1] != version:
            current = self._current = (index, version, {})
            self.generation += 1
        rows = current[2]
        key = (book_id, fetch)
        found = rows.get(key)
        if found is None:
            found = build()
            if found is None:
                return None
            if len(rows) >= self.max_rows:
                rows.clear()
                self.generation += 1
            rows[key] = found
        return found

    def holds(self, index: VectorIndex, version: int, book_id: str, fetch: int) -> bool:
        """Whether the row of `book_id` for `fetch` is kept for this index at this version."""
        index_now, version_now, rows = self._current
        return index_now is index and version_now == version and (book_id, fetch) in rows

    def kept(self, index: VectorIndex, version: int, fetch: int) -> dict[str, SimilarRow]:
        """The rows kept for `fetch` at this index and version, by book id (what gets stored)."""
        index_now, version_now, rows = self._current
        if index_now is not index or version_now != version:
            return {}
        return {book_id: row for (book_id, size), row in list(rows.items()) if size == fetch}

    def install(self, index: VectorIndex, version: int, fetch: int, found: dict[str, SimilarRow]) -> int:
        """Keeps `found` (rows read back from disk) as if built by requests at this index and
        version, up to the bound; returns how many were kept. Rows of a newer version win."""
        current = self._current
        if current[0] is index and version < current[1]:
            return 0
        if current[0] is not index or current[1] != version:
            current = self._current = (index, version, {})
            self.generation += 1
        rows = current[2]
        room = max(self.max_rows - len(rows), 0)
        kept = 0
        for book_id, row in found.items():
            if kept == room:
                break
            if rows.setdefault((book_id, fetch), row) is row:
                kept += 1
        return kept

    def __len__(self) -> int:
        return len(self._current[2])
