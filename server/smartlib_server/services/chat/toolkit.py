"""The toolkit a chat handler works with: the catalog as this turn sees it, the recommender, the
title resolver, conversation memory, the reader's tastes and the session so far.

The agent builds one Toolkit per turn and hands it to the handler the table names; handlers
never reach back into the agent. `run` is the one way a handler gets a list of books: it
leaves out what the reader has seen or dislikes, and orders or varies the list on request.
"""
from __future__ import annotations

import dataclasses
import itertools
import random
import threading
from collections.abc import Callable
from typing import Any

from smartlib_core.domain import Book, BookFilter
from smartlib_core.text import fold
from smartlib_server.adapters.memory.contract import ConversationMemory
from smartlib_server.domain.profiles import UserProfile
from smartlib_server.services.chat import fallback, ordering, reading_order, wording as w
from smartlib_server.services.chat.link_tables import DATA, load_yaml
from smartlib_server.services.chat.resolver import TitleResolver
from smartlib_server.services.chat.session import Context, Draft, TurnInput
from smartlib_server.services.chat.tastes import Tastes, combine, keep_out
from smartlib_server.services.recommend import RecommendService
from smartlib_server.services.recommend.serving_index import ServingState
from smartlib_server.services.recommend.similar import similar_reason

PAGE = 5  # books per list
ORDER_POOL = 20  # search hits per book shown when a topic's hits are re-ordered by rating or popularity


class GenreShelf:
    """What turns read from the whole catalog, derived once per catalog version: the genre
    names (lower-cased), each series' books, and the catalog in the orders of "best rated",
    "most read" and list position. Scanning every book for these on each turn was, after
    MiniLM, the largest share of a turn's CPU on the 10k catalog (py-spy over the suite)."""

    def __init__(self) -> None:
        self._key: tuple[int, int, int] | None = None
        self._built: dict[str, Any] = {}
        self._lock = threading.Lock()

    def has(self, books: dict[str, Book], version: int, genre: str) -> bool:
        names = self._get(books, version, "genres", lambda all_: frozenset(g.lower() for b in all_ for g in b.genres))
        return genre.lower() in names

    def series(self, books: dict[str, Book], version: int, name: str) -> list[Book]:
        """The books of series `name`, in catalog order."""
        return list(self._get(books, version, "series", _by_series).get(name, ()))

    def series_names(self, books: dict[str, Book], version: int) -> dict[str, str]:
        """Folded series name -> the catalog's spelling."""
        return self._get(books, version, "series_names", lambda all_: {fold(b.series_name): b.series_name for b in all_ if b.series_name})

    def ordered(self, books: dict[str, Book], version: int, sort: str) -> list[Book]:
        """Every book in `sort` order ("rating", "popular" or "list"); a filter keeps the order."""
        if sort == "list":
            return self._get(books, version, "list", lambda all_: sorted(all_, key=_list_key))
        return self._get(books, version, f"order:{sort}", lambda all_: ordering.order(all_, sort))

    def _get(self, books: dict[str, Book], version: int, name: str, build: Callable[[list[Book]], Any]) -> Any:
        key = (id(books), version, len(books))
        with self._lock:
            if self._key != key:
                self._key, self._built = key, {}
            if name not in self._built:
                self._built[name] = build(list(books.values()))
            return self._built[name]


def _by_series(books: list[Book]) -> dict[str, list[Book]]:
    members: dict[str, list[Book]] = {}
    for book in books:
        if book.series_name:
            members.setdefault(book.series_name, []).append(book)
    return members


def _list_key(book: Book) -> tuple:
    return (book.list_rank < 0, book.list_rank, -book.avg_rating)


_NARROWER = {wide.lower(): tuple(g.lower() for g in narrow)
             for wide, narrow in load_yaml((DATA / "narrower.yaml").read_text(encoding="utf-8")).items()}


def with_narrower(genres: list[str]) -> list[str]:
    """Genres left out, with the narrower genres each one holds: no War means no World War II."""
    return list(dict.fromkeys([*(g.lower() for g in genres), *(n for g in genres for n in _NARROWER.get(g.lower(), ()))]))


def first(books: list[Book], filt: BookFilter, n: int) -> list[Book]:
    """The first `n` books `filt` accepts: a stably sorted catalog, filtered, is the filtered
    books sorted the same way, without filtering and sorting all of them per ask."""
    return list(itertools.islice((b for b in books if filt.accepts(b)), n))


@dataclasses.dataclass
class Toolkit:
    recommend: RecommendService
    memory: ConversationMemory
    resolver: TitleResolver
    vocabulary: fallback.Vocabulary
    shelf: GenreShelf
    state: ServingState  # one serving state per turn: a hot swap mid-turn cannot mix two catalogs in one answer
    ctx: Context
    turn: TurnInput
    page: int = PAGE

    # -- the catalog ----------------------------------------------------------------------------
    @property
    def books(self) -> dict[str, Book]:
        return self.state.books

    @property
    def version(self) -> int:
        return self.recommend.index.version

    def series_of(self, book: Book) -> list[Book]:
        if not book.series_name:
            return []
        return self.shelf.series(self.books, self.version, book.series_name)

    def gathered_series(self, book: Book) -> str:
        """The series a box set gathers, "" for any other book (reading_order.gathered)."""
        return reading_order.gathered(book, self.shelf.series_names(self.books, self.version))

    def has_genre(self, genre: str) -> bool:
        return self.shelf.has(self.books, self.version, genre)

    def readable(self, text: str) -> bool:
        """Whether free text reads like a description of books the catalog could match."""
        return self.vocabulary.readable(text, self.books, self.version)

    def shown_book(self, ordinal: int) -> Book | None:
        """The book at a 1-based position of the last list (-1: the last one, -2 the one before it)."""
        shown = self.ctx.shown
        if not shown:
            return None
        position = ordinal - 1 if ordinal > 0 else len(shown) + min(ordinal, -1)
        if not 0 <= position < len(shown):
            return None
        return self.books.get(shown[position][0])

    # -- the reader -----------------------------------------------------------------------------
    def profile(self) -> UserProfile:
        return self.memory.profile(self.turn.user_id) if self.turn.user_id else UserProfile("anonymous")

    def tastes(self) -> Tastes:
        """What the reader likes and dislikes: their profile plus this session's statements."""
        return combine(self.profile(), self.ctx)

    # -- lists ----------------------------------------------------------------------------------
    def run(self, query: dict[str, Any], out: Draft, k: int | None = None, record: bool = True,
            *, surprise: bool = False, use_tastes: bool = True, seed_genres: tuple[str, ...] = ()) -> list[tuple[Book, str]]:
        """The books for a query, leaving out books seen or disliked and genres excluded or disliked
        (a disliked genre stays in when the ask names it, or the book it starts from has it)."""
        k = min(k or self.page, self.recommend.max_k)
        query.setdefault("exclude_genres", [])
        taste = self.tastes() if use_tastes else Tastes()
        if use_tastes and query.get("mode") != "author":
            query["exclude_genres"] = keep_out(query, taste, seed_genres)
        filt = BookFilter(
            include_genres=frozenset(g.lower() for g in query.get("genres", [])),
            exclude_genres=frozenset(g.lower() for g in with_narrower(query.get("exclude_genres", []))),
            exclude_ids=frozenset([*query.get("seen", []), *taste.disliked_books, *out.skip, *self._shunned(taste, query)]),
        )
        sort = query.get("sort", "")
        if query["mode"] in ("popular", "ranked", "author"):
            items = self._from_catalog(query, filt, sort, k * 4 if surprise else k, out)
        else:
            # an order over a topic ("romances with insanely good ratings") takes the best of a deep
            # pool: the top few of twenty search hits are whatever those twenty happen to be
            every = _every(query)
            fetch = min(k * ORDER_POOL if sort or every else k * 4 if surprise else k, self.recommend.max_k)
            if query["mode"] == "similar":
                result = self.recommend.similar_books(query["book"], fetch, None, filt)
            else:
                result = self.recommend.search_by_text(query["text"], fetch, None, filt)
            items = [(item.book, item.reason) for item in result.items]
            out.approach = result.approach.value
            if sort:
                order = {b.id: i for i, b in enumerate(ordering.order([b for b, _ in items], sort))}
                items.sort(key=lambda item: order[item[0].id])
            if every:  # "ficção científica clássica": books that are every genre named come first
                items.sort(key=lambda item: -len(every & {g.lower() for g in item[0].genres}))
        if surprise and len(items) > k:  # a different handful each time, still from the best matches
            rng = random.Random(f"{self.turn.session_id}:{self.turn.seed}:{self.turn.text}")
            items = sorted(rng.sample(items, k), key=items.index)
        if query["mode"] == "similar" and not sort and not surprise:  # a sequel is no surprise
            items = self._lead_with_next(query["book"], items, filt)
        items = items[:k]
        if record:
            out.set_list(items, query)
        return items

    def _shunned(self, taste: Tastes, query: dict[str, Any]) -> list[str]:
        """The books of the authors the reader said they dislike, unless the list is one author's."""
        if query.get("mode") == "author":
            return []
        return [b.id for name in taste.disliked_authors for b in self.resolver.author(name, loose=False).books]

    def _lead_with_next(self, book_id: str, items: list[tuple[Book, str]], filt: BookFilter) -> list[tuple[Book, str]]:
        """A list starting from a series book leads with the book read after it. The default
        ranker, like readers' "also enjoyed" lists, rarely ranks the same author high, yet a
        reader asking for more like Dune is most often served first by Dune Messiah."""
        book = self.books.get(book_id)
        after = reading_order.next_entry(self.series_of(book), book) if book else None
        if after is None or not filt.accepts(after) or any(b.id == after.id for b, _ in items):
            return items
        return [(after, similar_reason(book)(after)), *items]

    def _from_catalog(self, query: dict[str, Any], filt: BookFilter, sort: str, n: int, out: Draft) -> list[tuple[Book, str]]:
        """An author's books, the best rated, or the best loved: ordered from catalog fields."""
        if query["mode"] == "author":
            pool = [b for b in self.resolver.author(query["author"]).books if filt.accepts(b)]
            ordered = ordering.order(pool, sort) if sort else pool
        elif query["mode"] == "popular" and not sort:
            ordered = first(self.shelf.ordered(self.books, self.version, "list"), filt, n)
        else:
            ordered = first(self.shelf.ordered(self.books, self.version, sort or "popular"), filt, n)
        return [(b, self._ranked_reason(b, query, out)) for b in ordered[:n]]

    @staticmethod
    def _ranked_reason(book: Book, query: dict[str, Any], out: Draft) -> str:
        p = out.p
        if query["mode"] == "author":
            return w.series_note(book, p.language) or w.genres(book, p.language, 2)
        if query["mode"] == "popular" and not query.get("sort"):
            return p.t("reason.best_loved")
        if book.num_ratings:
            return p.t("reason.rated_by", count=w.number(book.num_ratings, p.language))
        return p.t("reason.best_rated")


def _every(query: dict[str, Any]) -> frozenset[str]:
    """The genres a reader named together in one ask ("classic science fiction"), when several: a
    librarian hands over books that are all of them before books that are one."""
    named = frozenset(g.lower() for g in query.get("genres", [])) if query.get("every") else frozenset()
    return named if len(named) >= 2 else frozenset()
