"""Recommendation use cases over the serving index: similar books and free-text search."""
from __future__ import annotations

from operator import itemgetter

from smartlib_core.domain import Approach, Book, BookFilter, Recommendation, RecommendResult
from smartlib_core.embedding import EMBEDDER_ID, normalise
from smartlib_core.errors import BookNotFound, FailedPrecondition, Unavailable
from smartlib_core.text import fold
from smartlib_core.tracing import span
from smartlib_server.adapters.inference import Inference
from smartlib_server.services.recommend.reader_rows import reader_row
from smartlib_server.services.recommend.serving_index import FinetunedModel, ServingIndex, ServingState
from smartlib_server.services.recommend.similar_rows import SimilarRow, SimilarRows
from smartlib_server.services.recommend.vector_index import VectorIndex
from smartlib_server.services.text_search import TextSearch, text_reason
from smartlib_server.services.validation import require_id, require_k, require_text

OVERSAMPLE = 4  # candidates fetched per requested result before filtering and re-ranking
READER_ROW = -1  # the SimilarRows pool size under which a book's reader-ranked row is kept
# A kept reader row holds its first max_k + ROW_SLACK candidates of the 230-600 ranked (a third
# of a whole row's memory on the 10k catalog, services/recommend/similar_rows.py): any k with up to
# ROW_SLACK excluded ids among them, or a filter that drops as many, is answered from it; a
# request it leaves short ranks the whole pool again, so every answer is a whole row's answer.
ROW_SLACK = 32


class WouldBlock(Exception):
    """Raised with `wait=False` when answering needs blocking work (a vector search, a database
    read, a lock held by a writer); the caller retries on a worker thread. Never reaches a client."""


class RecommendService:
    def __init__(self, index: ServingIndex, inference: Inference, max_k: int = 100, max_query_chars: int = 512):
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
        """Books like `book_id`. With `wait=False` only the precomputed neighbour table may
        answer (no search, no database, no waiting on a lock): otherwise WouldBlock."""
        book_id = require_id(book_id, "book_id")
        k = require_k(k, self.max_k)
        version = self.index.version  # before the state: see services/recommend/similar_rows.py
        state = self._ready_state()
        approach, finetuned = self.resolve_approach(approach, state)
        book = state.books.get(book_id)
        if book is None:
            if not wait:
                raise WouldBlock  # maybe an alias: resolving it reads the database
            canonical = self.index.store.resolve_id(book_id)
            book = state.books.get(canonical) if canonical else None
        if book is None:
            raise BookNotFound(book_id)
        vector_index = finetuned.index if finetuned else state.baseline

        def candidates(fetch: int) -> list[tuple[str, float]]:
            # The table leaves the book itself out; the exclusions drop it from a search anyway.
            found = vector_index.neighbours(book.id, fetch - 1, wait=wait)
            if found is not None:
                return [(book.id, 1.0), *zip(*found, strict=True)]
            if not wait:
                raise WouldBlock
            query = vector_index.vector(book.id)
            if query is None:
                raise FailedPrecondition(f"book {book.id!r} has no vector yet; retry in a moment")
            return vector_index.search(query, fetch)[0]

        excluded = BookFilter(filt.include_genres, filt.exclude_genres, filt.min_avg_rating, filt.exclude_ids | {book.id})
        items = None
        if finetuned is not None and finetuned.ranker is not None:
            items = self._from_reader_row(state, version, finetuned, book, k, excluded, wait)
        if items is None and not filt.narrows:
            items = self._from_table(state, version, vector_index, book, k, excluded.exclude_ids, finetuned, wait)
        if items is None:
            items = self._search(state, candidates, k, excluded, finetuned, similar_reason(book))
        return RecommendResult(tuple(items), approach, self.model_version(approach, finetuned, version))

    def search_by_text(
        self, query: str, k: int, approach: Approach | None, filt: BookFilter, *, wait: bool = True
    ) -> RecommendResult:
        """Books matching a free-text description; always embeds and searches, so `wait=False`
        raises WouldBlock once the request is valid."""
        query = require_text(query, "query", self.max_query_chars)
        k = require_k(k, self.max_k)
        version = self.index.version  # before the state: see services/recommend/similar_rows.py
        state = self._ready_state()
        if not wait:
            raise WouldBlock
        routed = approach is None or approach is Approach.FINETUNED
        approach, finetuned = self.resolve_approach(approach, state)
        with span("embed"):  # the batcher's thread has no call context, so the span is taken here
            raw = self.inference.embed_queries([query])
        folded = fold(query)
        # The default (and FINETUNED) route text asks by kind over the 2688-d vectors (see
        # services/text_search.py): it needs no encoder, so a server without one answers broad
        # asks with well-loved books too. Only an explicit BASELINE is plain cosine.
        if routed:
            ranked = self.text.rank(state.books, version, state.text_view, query, normalise(raw)[0], k, filt, self.index.lexical)
            items = [Recommendation(state.books[hit.id], hit.score, text_reason(folded, state.books[hit.id], hit.part))
                     for hit in ranked]
            return RecommendResult(tuple(items), approach, self.model_version(approach, finetuned, version))
        vector = normalise(raw)[0]

        def candidates(fetch: int):
            return state.baseline.search(vector, fetch)[0]
        items = self._search(state, candidates, k, filt, None, lambda cand: text_reason(folded, cand))
        return RecommendResult(tuple(items), approach, self.model_version(approach, None, version))

    def model_version(self, approach: Approach, finetuned: FinetunedModel | None, version: int | None = None) -> str:
        model = f"encoder:{finetuned.version}" if finetuned else EMBEDDER_ID
        return f"{approach.value}:{model}@catalog-{self.index.version if version is None else version}"

    def _ready_state(self) -> ServingState:
        """The state this request uses throughout: read once, so a hot swap cannot split it."""
        if not self.index.ready.is_set():
            raise Unavailable("the recommendation index is still loading; retry shortly", retry_after=2.0)
        return self.index.state

    def _from_table(
        self, state: ServingState, version: int, vector_index: VectorIndex, book: Book, k: int,
        excluded: frozenset[str], finetuned: FinetunedModel | None, wait: bool,
    ) -> list[Recommendation] | None:
        """`_search`'s answer for a filter that only excludes ids, read off the neighbour table
        where the candidates come re-ranked already, through the book's SimilarRow. None when
        the table cannot answer alone (the caller then runs `_search`)."""
        weight, fetch, enough = _pool(k, excluded, finetuned)

        def build() -> SimilarRow | None:
            found = vector_index.neighbours(book.id, fetch - 1, wait=wait, bias_weight=weight)
            return None if found is None else SimilarRow(*found, state.books, similar_reason(book))

        rows = self.rows if finetuned is not None else self.baseline_rows
        row = rows.row(vector_index, version, book.id, fetch, build)
        if row is None:
            return None
        ids = row.ids
        accepted = len(ids) - len(excluded.intersection(ids))  # `book` itself is never in ids
        exhausted = len(ids) + 1 < fetch  # + 1: a search would have found `book` too
        if accepted < enough and not exhausted:
            return None  # _search widens the candidate set
        return row.picks(k, excluded)

    def build_reader_row(self, book_id: str) -> bool:
        """Builds and keeps `book_id`'s reader-ranked row, exactly as the first SimilarBooks
        request about it would (services/recommend/row_warmer.py calls this ahead of requests). False when
        there was nothing to build: no ranker is active, the book is not served or has no vector
        yet, or its row is kept already."""
        version = self.index.version  # before the state: see services/recommend/similar_rows.py
        state = self.index.state
        finetuned = state.finetuned
        book = state.books.get(book_id)
        if finetuned is None or finetuned.ranker is None or book is None:
            return False
        if self.rows.holds(finetuned.index, version, book_id, READER_ROW):
            return False
        return self._reader_row(state, version, finetuned, book, wait=True) is not None

    def reader_pool(self, book_id: str) -> tuple[list[str], list[float]] | None:
        """The head of `book_id`'s reader-ranked row (ids and reader-ranker scores, best first):
        what RecommendForUser merges over a user's books. None without an active reader ranker,
        or when the book is not served or has no vector yet."""
        version = self.index.version  # before the state: see services/recommend/similar_rows.py
        state = self.index.state
        finetuned = state.finetuned
        book = state.books.get(book_id)
        if finetuned is None or finetuned.ranker is None or book is None:
            return None
        row = self._reader_row(state, version, finetuned, book, wait=True)
        return None if row is None else row.head()

    def _reader_row(
        self, state: ServingState, version: int, finetuned: FinetunedModel, book: Book, wait: bool,
    ) -> SimilarRow | None:
        """The book's kept reader-ranked row (its first `row_length` candidates), built on first use."""

        def build() -> SimilarRow | None:
            if not wait:
                raise WouldBlock  # ranking a pool scans the catalog's shelves: a worker's job
            found = reader_row(state.signals, finetuned.index, finetuned.ranker, book.id)
            if found is None:
                return None
            ids, scores = found
            n = self.row_length
            return SimilarRow(ids[:n], scores[:n], state.books, similar_reason(book), complete=len(ids) <= n)

        return self.rows.row(finetuned.index, version, book.id, READER_ROW, build)

    def _from_reader_row(
        self, state: ServingState, version: int, finetuned: FinetunedModel, book: Book, k: int,
        filt: BookFilter, wait: bool,
    ) -> list[Recommendation] | None:
        """The best k of the book's reader-ranked pool that pass the filter; None when the pool
        cannot answer (no row yet, or too few pass a narrow filter), so the caller searches."""
        row = self._reader_row(state, version, finetuned, book, wait)
        if row is None:
            return None
        accepts = filt.accepts if filt.narrows else None
        picks = row.picks(k, filt.exclude_ids, accepts)
        if len(picks) < k and not row.complete:
            # The kept head ran short (many exclusions, a narrow filter): rank the whole pool
            # again for this request, not kept, so the answer is the one a whole row gives.
            if not wait:
                raise WouldBlock
            found = reader_row(state.signals, finetuned.index, finetuned.ranker, book.id)
            if found is None:
                return None
            row = SimilarRow(*found, state.books, similar_reason(book))
            picks = row.picks(k, filt.exclude_ids, accepts)
        return picks if len(picks) == k or len(row.ids) >= len(state.books) - 1 else None

    def _search(
        self, state: ServingState, candidates, k: int, filt: BookFilter, finetuned: FinetunedModel | None, reason
    ) -> list[Recommendation]:
        """The best k of `candidates(fetch)` (the top `fetch` by inner product) that pass the
        filter, re-ranked by the popularity prior when the encoder has one."""
        books, excluded = state.books, filt.exclude_ids
        # This loop runs for every candidate of every request: exclusions are checked by id,
        # and the whole filter only when it narrows by genre or rating.
        narrowing = filt.accepts if filt.narrows else None
        weight, fetch, enough = _pool(k, excluded, finetuned)
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


def _pool(k: int, excluded: frozenset[str], finetuned: FinetunedModel | None) -> tuple[float, int, int]:
    """The popularity prior's weight, the candidates read first (`fetch`) and how many of them
    must pass the filter (`enough`; re-ranking needs a pool to choose from). `_search` and
    `_from_table` both size their pool here, so they give one answer."""
    weight = finetuned.popularity_weight if finetuned else 0.0
    return weight, (k + len(excluded)) * OVERSAMPLE, k * OVERSAMPLE if weight else k


def similar_reason(query: Book):
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
