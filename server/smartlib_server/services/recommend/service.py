"""Recommendation use cases over the serving index: similar books and free-text search."""
from __future__ import annotations

import dataclasses

import numpy as np

from smartlib_core.co_reading import CoReading
from smartlib_core.domain import Approach, BookFilter, Recommendation, RecommendResult
from smartlib_core.embedding import EMBEDDER_ID, normalise
from smartlib_core.errors import BookNotFound, FailedPrecondition, Unavailable
from smartlib_core.text import fold
from smartlib_core.tracing import span
from smartlib_server.adapters.inference import Inference, PendingRows
from smartlib_server.services.recommend import stored_rows
from smartlib_server.services.recommend.serving_index import FinetunedModel, ServingIndex, ServingState
from smartlib_server.services.recommend.similar import (
    READER_ROW,
    ROW_SLACK,
    NeighbourTable,
    ReaderRows,
    SimilarAsk,
    WouldBlock,
    answer,
    may_block,
    search,
    similar_reason,
    vector_search,
)
from smartlib_server.services.recommend.similar_rows import SimilarRows
from smartlib_server.services.recommend.vector_index import VectorIndex
from smartlib_server.services.text_search import TextSearch, text_reasons
from smartlib_server.services.validation import require_id, require_k, require_text

__all__ = ["READER_ROW", "RecommendService", "TextAsk", "WouldBlock"]


@dataclasses.dataclass(frozen=True)
class TextAsk:
    """One SearchByText between `start_search` and `finish_search`: the request resolved against
    the state it reads throughout, and its query's rows being embedded."""

    query: str
    k: int
    filt: BookFilter
    version: int  # read before the state: see services/recommend/similar_rows.py
    state: ServingState
    routed: bool  # the default or FINETUNED route (services/text_search.py); False: plain BASELINE cosine
    approach: Approach
    finetuned: FinetunedModel | None
    pending: PendingRows


class RecommendService:
    def __init__(self, index: ServingIndex, inference: Inference, max_k: int = 100, max_query_chars: int = 512,
                 text_fusion: bool = True):
        self.index = index
        self.inference = inference
        self.max_k = max_k
        self.max_query_chars = max_query_chars
        self.rows = SimilarRows()  # FINETUNED rows: reader-ranked and neighbour-table ones
        # BASELINE requests keep theirs apart: a set of rows belongs to one index, and a BASELINE
        # request in the same set would empty every FINETUNED row (all of them built ahead).
        self.baseline_rows = SimilarRows()
        self.row_length = max_k + ROW_SLACK
        self.text = TextSearch()
        self.text_fusion = text_fusion  # SMARTLIB_TEXT_FUSION; make bench flips it for its same-run A/B
        self.reader_rows = ReaderRows(self.rows, self.row_length)
        # SimilarBooks asks these in order; each answers or passes, and the search always answers.
        self.similar_chain = [self.reader_rows, NeighbourTable(self.rows, self.baseline_rows), vector_search]

    def resolve_approach(
        self, approach: Approach | None, state: ServingState | None = None
    ) -> tuple[Approach, FinetunedModel | None]:
        """The approach that will answer: UNSPECIFIED means FINETUNED when a model is active."""
        finetuned = (state or self.index.state).finetuned
        if approach is None:
            return (Approach.FINETUNED, finetuned) if finetuned else (Approach.BASELINE, None)
        if approach is Approach.FINETUNED and finetuned is None:
            raise FailedPrecondition(
                "APPROACH_FINETUNED needs a trained encoder, and none is active: run `smartlib train` "
                "(or activate a version), or use APPROACH_BASELINE"
            )
        return approach, finetuned if approach is Approach.FINETUNED else None

    def similar_books(
        self, book_id: str, k: int, approach: Approach | None, filt: BookFilter, *, wait: bool = True
    ) -> RecommendResult:
        """Books like `book_id`, from the first strategy of `similar_chain` that answers
        (services/recommend/similar.py). With `wait=False` (the event loop) only kept rows and
        the neighbour table may answer (no search, no database, no waiting on a lock): otherwise
        WouldBlock, and the caller asks again on a worker thread."""
        book_id = require_id(book_id, "book_id")
        k = require_k(k, self.max_k)
        version = self.index.version  # before the state: see services/recommend/similar_rows.py
        state = self._ready_state()
        approach, finetuned = self.resolve_approach(approach, state)
        book = state.books.get(book_id)
        if book is None:
            may_block(wait)  # maybe an alias: resolving it reads the database
            canonical = self.index.store.resolve_id(book_id)
            book = state.books.get(canonical) if canonical else None
        if book is None:
            raise BookNotFound(book_id)
        excluded = BookFilter(filt.include_genres, filt.exclude_genres, filt.min_avg_rating, filt.exclude_ids | {book.id})
        ask = SimilarAsk(state, version, finetuned, book, k, excluded, wait, similar_reason(book))
        items = answer(self.similar_chain, ask)
        return RecommendResult(tuple(items), approach, self.model_version(approach, finetuned, version))

    def search_by_text(self, query: str, k: int, approach: Approach | None, filt: BookFilter) -> RecommendResult:
        """Books matching a free-text description, waiting for the query's embedding; the event
        loop uses `start_search`, awaits `ask.pending` and calls `finish_search` instead."""
        with span("embed"):  # the batcher's thread has no call context, so the span is taken here
            ask = self.start_search(query, k, approach, filt)
            words = self.search_words(ask)  # while the query waits for its batch
            ask.pending.result()
        return self.finish_search(ask, words)

    def start_search(
        self, query: str, k: int, approach: Approach | None, filt: BookFilter, *, wait: bool = True
    ) -> TextAsk:
        """A valid SearchByText with its query queued for embedding; `finish_search` ranks it
        once `ask.pending` has its rows. With `wait=False` (the event loop) only an inference
        whose `start_queries` merely queues may start it, else WouldBlock."""
        query = require_text(query, "query", self.max_query_chars)
        k = require_k(k, self.max_k)
        version = self.index.version  # before the state: see services/recommend/similar_rows.py
        state = self._ready_state()
        may_block(wait or getattr(self.inference, "queues_queries", False))
        routed = approach is None or approach is Approach.FINETUNED
        approach, finetuned = self.resolve_approach(approach, state)
        return TextAsk(query, k, filt, version, state, routed, approach, finetuned, self.inference.start_queries([query]))

    def search_words(self, ask: TextAsk, *, wait: bool = True) -> list[tuple[str, float]] | None:
        """BM25's pool to fuse with the dense ranking (None: dense only). The lexical step needs
        no vector, so it runs while the query waits for its batch and fusion adds no step after
        the embedding (README, "Text search")."""
        if not (ask.routed and self.text_fusion):
            return None
        return self.text.words(ask.state.books, ask.version, ask.query, ask.filt, self.index.lexical, wait=wait)

    def finish_search(self, ask: TextAsk, words: list[tuple[str, float]] | None, *, wait: bool = True) -> RecommendResult:
        """The answer to `ask`, whose rows `ask.pending` holds or waits for; `words` from
        `search_words`. With `wait=False` (the event loop; the rows must be there), WouldBlock
        where ranking would wait for a writer or build this version's shelves."""
        state, version, books = ask.state, ask.version, ask.state.books
        raw = ask.pending.result()
        reason = text_reasons(fold(ask.query))
        # The default (and FINETUNED) route text asks by kind over the 2688-d vectors (see
        # services/text_search.py): it needs no encoder, so a server without one answers broad
        # asks with well-loved books too. Only an explicit BASELINE is plain cosine.
        if ask.routed:
            ranked = self.text.rank(books, version, state.text_view, ask.query, normalise(raw)[0], ask.k, ask.filt, words,
                                    wait=wait)
            items = [Recommendation(books[hit.id], hit.score, reason(books[hit.id], hit.part)) for hit in ranked]
            return RecommendResult(tuple(items), ask.approach, self.model_version(ask.approach, ask.finetuned, version))
        may_block(wait)  # the baseline index's search takes its lock
        vector = normalise(raw)[0]

        def candidates(fetch: int):
            return state.baseline.search(vector, fetch)[0]
        items = search(state, candidates, ask.k, ask.filt, None, reason)
        return RecommendResult(tuple(items), ask.approach, self.model_version(ask.approach, None, version))

    def model_version(self, approach: Approach, finetuned: FinetunedModel | None, version: int | None = None) -> str:
        model = f"encoder:{finetuned.version}" if finetuned else EMBEDDER_ID
        return f"{approach.value}:{model}@catalog-{self.index.version if version is None else version}"

    def _ready_state(self) -> ServingState:
        """The state this request uses throughout: read once, so a hot swap cannot split it."""
        if not self.index.ready.is_set():
            raise Unavailable("the recommendation index is still loading; retry shortly", retry_after=2.0)
        return self.index.state

    def build_reader_row(self, book_id: str) -> bool:
        """Builds and keeps `book_id`'s reader-ranked row, exactly as the first SimilarBooks
        request about it would (services/recommend/row_warmer.py calls this ahead of requests).
        False when there was nothing to build: no ranker is active, the book is not served or
        has no vector yet, or its row is kept already."""
        ask = self._row_ask(book_id)
        if ask is None or self.rows.holds(ask.finetuned.index, ask.version, book_id, READER_ROW):
            return False
        return self.reader_rows.row(ask) is not None

    def restore_reader_rows(self) -> int:
        """Keeps the reader rows SMARTLIB_HOME/derived holds for the index and catalog version
        served now (services/recommend/stored_rows.py); returns how many. Called after a load,
        before SERVING, so the first requests find them and the warmer builds none of them."""
        version = self.index.version  # before the state: see services/recommend/similar_rows.py
        state = self.index.state
        key = self._rows_key(state, version)
        if key is None:
            return 0
        found = stored_rows.load(stored_rows.rows_store(self.index.derived), key, state.books)
        return self.rows.install(state.finetuned.index, version, READER_ROW, found)

    def store_reader_rows(self, index: VectorIndex, version: int) -> int:
        """Stores the reader rows kept for `index` at `version` (the warmer calls this after a
        pass that built some); returns how many, 0 when the index is no longer served."""
        state = self.index.state
        finetuned = state.finetuned
        key = self._rows_key(state, version)
        rows = self.rows.kept(index, version, READER_ROW)
        if key is None or finetuned.index is not index or not rows or self.index.version != version:
            return 0  # (a write since: the books named in the key may not be those the rows saw)
        stored_rows.rows_store(self.index.derived).save(key, stored_rows.pack(key, rows))
        return len(rows)

    def _rows_key(self, state: ServingState, version: int) -> str | None:
        """The stored rows' key, None when they cannot be stored (no ranker, fingerprint or store)."""
        finetuned = state.finetuned
        if finetuned is None or finetuned.ranker is None or not finetuned.fingerprint or self.index.derived is None:
            return None
        return stored_rows.rows_key(finetuned.fingerprint, version, state.books, self.row_length)

    def reader_pool(self, book_id: str, wait: bool = True) -> tuple[list[str], np.ndarray] | None:
        """The head of `book_id`'s reader-ranked row (ids and reader-ranker scores, best first):
        what RecommendForUser merges over a user's books. None without an active reader ranker,
        or when the book is not served or has no vector yet.

        Raises:
            WouldBlock: `wait` is false (the event loop) and the row is not kept: building it is a worker's job.
        """
        ask = self._row_ask(book_id, wait)
        row = None if ask is None else self.reader_rows.row(ask)
        return None if row is None else row.head()

    def reader_pool_now(self, book_id: str) -> tuple[list[str], np.ndarray] | None:
        """reader_pool on the event loop: a kept row, or WouldBlock."""
        return self.reader_pool(book_id, wait=False)

    def co_reading(self) -> CoReading | None:
        """The co-reading graph of the active encoder, for RecommendForUser; None without one or
        without a reader ranker (the graph is blended into the reader ranking only)."""
        finetuned = self.index.state.finetuned
        return finetuned.co_reading if finetuned is not None and finetuned.ranker is not None else None

    def _row_ask(self, book_id: str, blocking: bool = True) -> SimilarAsk | None:
        """An ask for `book_id`'s reader row (`blocking`: on a worker thread); None without a ranker or the book."""
        version = self.index.version  # before the state: see services/recommend/similar_rows.py
        state = self.index.state
        finetuned = state.finetuned
        book = state.books.get(book_id)
        if finetuned is None or finetuned.ranker is None or book is None:
            return None
        return SimilarAsk(state, version, finetuned, book, 0, BookFilter(), blocking, similar_reason(book))
