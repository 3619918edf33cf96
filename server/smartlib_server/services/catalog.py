"""Catalog use cases: write, read, list, look up and delete books, keeping vectors in step."""
from __future__ import annotations

import base64
import dataclasses
import logging
from collections.abc import Callable, Sequence

import numpy as np

from smartlib_core.domain import Book
from smartlib_core.embedding import EMBEDDER_ID, book_fields, fields_hash
from smartlib_core.errors import BookNotFound, InvalidArgument
from smartlib_core.text import derived_id, split_series
from smartlib_core.text_ranking import fuse
from smartlib_server.adapters.catalog_store import CatalogStore, UpsertOutcome
from smartlib_server.adapters.inference import Inference
from smartlib_server.services.title_search import EXACT_TITLE, TitleIndex
from smartlib_server.services.validation import require_id, require_k, require_text

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50
MAX_FIELD_CHARS = {"title": 1000, "description": 20000, "url": 2000}


@dataclasses.dataclass(frozen=True)
class UpsertReport:
    outcome: UpsertOutcome
    embedded: int


class CatalogService:
    """Plain-Python catalog logic; `on_change` lets the serving indexes follow every write."""

    def __init__(
        self,
        store: CatalogStore,
        inference: Inference,
        titles: TitleIndex,
        max_batch: int = 1000,
        max_query_chars: int = 512,
        on_change: Callable[[], None] | None = None,
        on_embedded: Callable[[int], None] | None = None,
        names: Callable[[str, int], list[tuple[str, float]]] | None = None,
    ):
        self.store = store
        self.inference = inference
        self.titles = titles
        self.max_batch = max_batch
        self.max_query_chars = max_query_chars
        self.on_change = on_change or (lambda: None)
        self.on_embedded = on_embedded or (lambda count: None)
        # (query, n) -> the lexical index's best n books by title and author words (BM25)
        self.names = names or (lambda query, n: [])

    # -- writes --------------------------------------------------------------------------
    def upsert_books(self, books: Sequence[Book], field_prefix: str = "books") -> UpsertReport:
        """Validates, embeds what changed, then stores books and vectors in one transaction.

        Raises:
            InvalidArgument: the batch is empty, too large, or a book lacks a title or author.
        """
        if not books:
            raise InvalidArgument.field(field_prefix, "must contain at least one book")
        if len(books) > self.max_batch:
            raise InvalidArgument.field(field_prefix, f"at most {self.max_batch} books per call, got {len(books)}")
        violations: dict[str, str] = {}
        prepared = [self._prepare(book, f"{field_prefix}[{i}]", violations) for i, book in enumerate(books)]
        if violations:
            raise InvalidArgument(f"{len(violations)} invalid field(s) in the batch; nothing was written", violations)
        report = self.write(prepared)
        self.on_change()
        return report

    def write(self, books: Sequence[Book], force_embed: bool = False) -> UpsertReport:
        """Stores already-valid books, embedding only those whose embedded text changed (or all)."""
        stored = {} if force_embed else self.store.stored_text_hashes(books, EMBEDDER_ID)
        fields = {b.id: book_fields(b) for b in books}
        hashes = {b.id: fields_hash(fields[b.id]) for b in books}
        todo = [b.id for b in books if stored.get(b.id) != hashes[b.id]]
        vectors: dict[str, tuple[str, np.ndarray]] = {}
        if todo:
            matrix = self.inference.embed_books([fields[i] for i in todo])
            vectors = {book_id: (hashes[book_id], matrix[row]) for row, book_id in enumerate(todo)}
        outcome = self.store.upsert_books(books, vectors, EMBEDDER_ID)
        self.on_embedded(len(vectors))
        return UpsertReport(outcome, len(vectors))

    def delete_book(self, book_id: str) -> str:
        book_id = require_id(book_id, "id")
        canonical = self.store.resolve_id(book_id)
        if canonical is None or not self.store.delete_book(canonical):
            raise BookNotFound(book_id)
        self.on_change()
        return canonical

    def _prepare(self, book: Book, field: str, violations: dict[str, str]) -> Book:
        title = book.title.strip()
        authors = tuple(a.strip() for a in book.authors if a.strip())
        if not title:
            violations[f"{field}.title"] = "must not be empty"
        if not authors:
            violations[f"{field}.authors"] = "needs at least one author"
        for name, limit in MAX_FIELD_CHARS.items():
            if len(getattr(book, name)) > limit:
                violations[f"{field}.{name}"] = f"must be at most {limit} characters"
        if not 0 <= book.avg_rating <= 5 or book.avg_rating != book.avg_rating:
            violations[f"{field}.avg_rating"] = "must be between 0 and 5"
        if book.num_ratings < 0:
            violations[f"{field}.num_ratings"] = "must not be negative"
        if book.id and len(book.id) > 128:
            violations[f"{field}.id"] = "must be at most 128 characters"
        if any("\x00" in text for text in (title, book.description, *authors, *book.genres)):
            violations[field] = "text must not contain NUL characters"
        if not title or not authors:
            return book
        _, series_name, series_position = split_series(title)
        return dataclasses.replace(
            book,
            id=book.id.strip() or derived_id(title, authors[0]),
            title=title,
            authors=authors,
            genres=tuple(dict.fromkeys(g.strip() for g in book.genres if g.strip())),
            characters=tuple(dict.fromkeys(c.strip() for c in book.characters if c.strip())),
            series_name=book.series_name or series_name,
            series_position=book.series_position or series_position,
        )

    # -- reads ---------------------------------------------------------------------------
    def get_book(self, book_id: str) -> Book:
        book_id = require_id(book_id, "id")
        canonical = self.store.resolve_id(book_id)
        book = self.store.get_books([canonical]).get(canonical) if canonical else None
        if book is None:
            raise BookNotFound(book_id)
        return book

    def list_books(self, page_size: int, page_token: str) -> tuple[list[Book], str]:
        if page_size < 0 or page_size > MAX_PAGE_SIZE:
            raise InvalidArgument.field("page_size", f"must be between 0 and {MAX_PAGE_SIZE}")
        size = page_size or DEFAULT_PAGE_SIZE
        after = _decode_token(page_token)
        books = self.store.list_books(after, size + 1)
        more = len(books) > size
        books = books[:size]
        return books, (_encode_token(books[-1].id) if more else "")

    def search_books(self, query: str, limit: int) -> list[Book]:
        query = require_text(query, "query", self.max_query_chars)
        limit = require_k(limit or 10, 100, "limit")
        # The lexical index finds titles and authors from any of their words ("chamber of
        # secrets"); the fuzzy matcher finds them through typos ("the hobit"). Whole titles as
        # typed come first, most popular first; the rest by fused rank, a tie to the words.
        fuzzy = self.titles.search(query, limit)
        exact = [book_id for book_id, score in fuzzy if score > EXACT_TITLE]
        words = [book_id for book_id, _ in self.names(query, limit)]
        fused = fuse([words, [book_id for book_id, _ in fuzzy]], [1.0, 1.0])
        ranked = (exact + [book_id for book_id, _ in fused if book_id not in exact])[:limit]
        found = self.store.get_books(ranked)
        return [found[book_id] for book_id in ranked if book_id in found]


def _encode_token(last_id: str) -> str:
    return base64.urlsafe_b64encode(b"v1:" + last_id.encode()).decode()


def _decode_token(token: str) -> str:
    if not token:
        return ""
    try:
        raw = base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4))
        if not raw.startswith(b"v1:"):
            raise ValueError
        return raw[3:].decode()
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument.field("page_token", "is not a token returned by ListBooks") from None
