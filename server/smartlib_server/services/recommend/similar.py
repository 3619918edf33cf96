"""SimilarBooks as one chain of strategies: the reader row, then the neighbour table, then a search.

Each strategy answers the request or passes (returns None) to the next; the last always answers.
Whether the request may block (the event-loop fast path, api/servicers.py) is carried once, in
`SimilarAsk.blocking`: a strategy that needs blocking work calls `ask.block()` before it (and
RecommendService calls `may_block` before an alias lookup or an embedding), which raises
WouldBlock on the event loop; the servicer then runs the request again on a worker thread. The
neighbour table's read is the one step that differs instead of refusing: on the loop it only
takes its lock when no writer holds or waits for it.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from operator import itemgetter

from smartlib_core.domain import Book, BookFilter, Recommendation
from smartlib_core.errors import FailedPrecondition
from smartlib_server.services.recommend.reader_rows import reader_row
from smartlib_server.services.recommend.serving_index import FinetunedModel, ServingState
from smartlib_server.services.recommend.similar_rows import SimilarRow, SimilarRows
from smartlib_server.services.recommend.vector_index import VectorIndex

OVERSAMPLE = 4  # candidates fetched per requested result before filtering and re-ranking
READER_ROW = -1  # the SimilarRows pool size under which a book's reader-ranked row is kept
# A kept reader row holds its first max_k + ROW_SLACK candidates of the 230-600 ranked (a third
# of a whole row's memory on the 10k catalog, services/recommend/similar_rows.py): any k with up
# to ROW_SLACK excluded ids among them, or a filter that drops as many, is answered from it; a
# request it leaves short ranks the whole pool again, so every answer is a whole row's answer.
ROW_SLACK = 32


class WouldBlock(Exception):
    """Raised when a request that may not block (on the event loop) needs blocking work (a vector
    search, a database read, a lock held by a writer); the caller retries on a worker thread.
    Never reaches a client."""


def may_block(blocking: bool) -> None:
    """The one decision of the event-loop fast path, called before any blocking work."""
    if not blocking:
        raise WouldBlock


@dataclasses.dataclass(frozen=True)
class SimilarAsk:
    """One SimilarBooks request, resolved against the state it reads throughout."""

    state: ServingState
    version: int  # read before the state: see services/recommend/similar_rows.py
    finetuned: FinetunedModel | None
    book: Book
    k: int
    filt: BookFilter  # the request's filter, with the book itself excluded
    blocking: bool  # False on the event loop: only kept rows and a free table may answer
    reason: Callable[[Book], str]

    @property
    def index(self) -> VectorIndex:
        return self.finetuned.index if self.finetuned else self.state.baseline

    def block(self) -> None:
        """Called before blocking work: raises WouldBlock on the event loop."""
        may_block(self.blocking)


Strategy = Callable[[SimilarAsk], "list[Recommendation] | None"]


def answer(chain: list[Strategy], ask: SimilarAsk) -> list[Recommendation]:
    """The first answer of the chain; its last strategy always answers."""
    for strategy in chain:
        items = strategy(ask)
        if items is not None:
            return items
    raise AssertionError("the SimilarBooks chain ends in a strategy that always answers")


class ReaderRows:
    """Strategy 1: the book's reader-ranked row, kept per book (needs an encoder with a ranker)."""

    def __init__(self, rows: SimilarRows, row_length: int):
        self.rows = rows
        self.row_length = row_length

    def row(self, ask: SimilarAsk) -> SimilarRow | None:
        """The book's kept row (its first `row_length` candidates), built on first use."""
        finetuned, book = ask.finetuned, ask.book

        def build() -> SimilarRow | None:
            ask.block()  # ranking a pool scans the catalog's shelves: a worker's job
            found = reader_row(ask.state.signals, finetuned.index, finetuned.ranker, book.id)
            if found is None:
                return None
            ids, scores = found
            n = self.row_length
            return SimilarRow(ids[:n], scores[:n], ask.state.books, ask.reason, complete=len(ids) <= n)

        return self.rows.row(finetuned.index, ask.version, book.id, READER_ROW, build)

    def __call__(self, ask: SimilarAsk) -> list[Recommendation] | None:
        """The best k of the pool that pass the filter; None when there is no ranker or row, or
        too few pass a narrow filter."""
        if ask.finetuned is None or ask.finetuned.ranker is None:
            return None
        row = self.row(ask)
        if row is None:
            return None
        filt, k = ask.filt, ask.k
        accepts = filt.accepts if filt.narrows else None
        picks = row.picks(k, filt.exclude_ids, accepts)
        if len(picks) < k and not row.complete:
            # The kept head ran short (many exclusions, a narrow filter): rank the whole pool
            # again for this request, not kept, so the answer is the one a whole row gives.
            ask.block()
            found = reader_row(ask.state.signals, ask.finetuned.index, ask.finetuned.ranker, ask.book.id)
            if found is None:
                return None
            row = SimilarRow(*found, ask.state.books, ask.reason)
            picks = row.picks(k, filt.exclude_ids, accepts)
        return picks if len(picks) == k or len(row.ids) >= len(ask.state.books) - 1 else None


class NeighbourTable:
    """Strategy 2: for a filter that only excludes ids, the search's answer read off the
    neighbour table, where candidates come re-ranked already, through the book's SimilarRow."""

    def __init__(self, rows: SimilarRows, baseline_rows: SimilarRows):
        self.rows = rows
        self.baseline_rows = baseline_rows

    def __call__(self, ask: SimilarAsk) -> list[Recommendation] | None:
        if ask.filt.narrows:
            return None
        excluded = ask.filt.exclude_ids
        weight, fetch, enough = pool(ask.k, excluded, ask.finetuned)
        index, book = ask.index, ask.book

        def build() -> SimilarRow | None:
            found = index.neighbours(book.id, fetch - 1, wait=ask.blocking, bias_weight=weight)
            return None if found is None else SimilarRow(*found, ask.state.books, ask.reason)

        rows = self.rows if ask.finetuned is not None else self.baseline_rows
        row = rows.row(index, ask.version, book.id, fetch, build)
        if row is None:
            return None
        ids = row.ids
        accepted = len(ids) - len(excluded.intersection(ids))  # the book itself is never in ids
        exhausted = len(ids) + 1 < fetch  # + 1: a search would have found the book too
        if accepted < enough and not exhausted:
            return None  # the search widens the candidate set
        return row.picks(ask.k, excluded)


def vector_search(ask: SimilarAsk) -> list[Recommendation]:
    """Strategy 3, always answers: the nearest books by inner product (the table's rows first,
    when it holds enough), filtered and re-ranked by the popularity prior."""
    index, book = ask.index, ask.book

    def candidates(fetch: int) -> list[tuple[str, float]]:
        # The table leaves the book itself out; the exclusions drop it from a search anyway.
        found = index.neighbours(book.id, fetch - 1, wait=ask.blocking)
        if found is not None:
            return [(book.id, 1.0), *zip(*found, strict=True)]
        ask.block()
        query = index.vector(book.id)
        if query is None:
            raise FailedPrecondition(f"book {book.id!r} has no vector yet; retry in a moment")
        return index.search(query, fetch)[0]

    return search(ask.state, candidates, ask.k, ask.filt, ask.finetuned, ask.reason)


def search(
    state: ServingState, candidates: Callable[[int], list[tuple[str, float]]], k: int, filt: BookFilter,
    finetuned: FinetunedModel | None, reason: Callable[[Book], str],
) -> list[Recommendation]:
    """The best k of `candidates(fetch)` (the top `fetch` by inner product) that pass the
    filter, re-ranked by the popularity prior when the encoder has one."""
    books, excluded = state.books, filt.exclude_ids
    # This loop runs for every candidate of every request: exclusions are checked by id,
    # and the whole filter only when it narrows by genre or rating.
    narrowing = filt.accepts if filt.narrows else None
    weight, fetch, enough = pool(k, excluded, finetuned)
    prior = finetuned.prior if finetuned else None
    while True:
        hits = candidates(fetch)
        scored: list[tuple[float, Book]] = []
        for book_id, score in hits:
            if book_id in excluded:
                continue
            book = books.get(book_id)
            if book is not None and (narrowing is None or narrowing(book)):
                scored.append((score + weight * prior(book) if weight else score, book))
        exhausted = len(hits) < fetch
        if len(scored) >= enough or exhausted:
            break
        fetch *= 4  # a selective filter: widen the candidate set until enough pass
    scored.sort(key=itemgetter(0), reverse=True)  # stable: ties keep the index's order
    return [Recommendation(book, float(score), reason(book)) for score, book in scored[:k]]


def pool(k: int, excluded: frozenset[str], finetuned: FinetunedModel | None) -> tuple[float, int, int]:
    """The popularity prior's weight, the candidates read first (`fetch`) and how many of them
    must pass the filter (`enough`; re-ranking needs a pool to choose from). The search and the
    neighbour table both size their pool here, so they give one answer."""
    weight = finetuned.popularity_weight if finetuned else 0.0
    return weight, (k + len(excluded)) * OVERSAMPLE, k * OVERSAMPLE if weight else k


def similar_reason(query: Book) -> Callable[[Book], str]:
    """A function naming why a candidate resembles `query`, from fields each book folds once."""
    series = query.series_key
    authors = set(query.authors)
    genres = query.genre_keys - {"fiction"}

    def reason(candidate: Book) -> str:
        if series and candidate.series_key == series:
            return f"same series: {candidate.series_name}"
        if not authors.isdisjoint(candidate.authors):
            return "same author: " + next(a for a in candidate.authors if a in authors)
        if genres.isdisjoint(candidate.genre_keys):
            return "similar description and themes"
        shared = [g for g, low in zip(candidate.genres, candidate.genres_lower, strict=True) if low in genres]
        return "shares genres: " + ", ".join(shared[:3])

    return reason
