"""The expectations a conversation turn can state, each checked against the reply a reader sees.

Every check returns "" when it holds and a short reason when it does not. The checks read only
what reaches the reader (text, cards, language) plus the catalog itself, never the agent's
internal state, so they hold for any implementation that answers the reader well.
"""
from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

from smartlib_core.domain import Book
from smartlib_core.text import bare_title, fold
from smartlib_server.services.chat.session import Reply


class TurnView:
    """One reply as the reader sees it, with the catalog and the session's earlier cards."""

    def __init__(self, reply: Reply, books: dict[str, Book], earlier: Sequence[str]):
        self.reply = reply
        self.books = books
        self.cards = reply.books
        self.text = fold(reply.text)
        self.earlier = list(earlier)  # ids of cards shown earlier in the session


def _share(view: TurnView, has: Callable[[Book], bool]) -> float:
    return sum(1 for b in view.cards if has(b)) / len(view.cards) if view.cards else 0.0


def _genre(book: Book, genre: str) -> bool:
    return fold(genre) in {fold(g) for g in book.genres}


def _author(book: Book, author: str) -> bool:
    return any(fold(author) == fold(a) for a in book.authors)


def _title(book: Book, wanted: str) -> bool:
    return fold(bare_title(book.title)) == fold(wanted)


def check_language(view: TurnView, wanted: str) -> str:
    return "" if view.reply.language == wanted else f"answered in {view.reply.language}, expected {wanted}"


def check_catalog_cards(view: TurnView, _: Any = True) -> str:
    stray = [b.title for b in view.cards if view.books.get(b.id) != b]
    return f"cards not in the catalog: {stray}" if stray else ""


def check_handled(view: TurnView, wanted: bool) -> str:
    admitted = bool(view.reply.record.get("fallback"))
    if wanted and admitted:
        return "answered with the 'cannot help' fallback"
    if not wanted and not admitted:
        return "expected an honest 'cannot help' answer"
    return ""


def check_min_cards(view: TurnView, n: int) -> str:
    return "" if len(view.cards) >= n else f"{len(view.cards)} cards, expected at least {n}"


def check_max_cards(view: TurnView, n: int) -> str:
    return "" if len(view.cards) <= n else f"{len(view.cards)} cards, expected at most {n}"


def check_author_share(view: TurnView, spec: dict[str, Any]) -> str:
    share = _share(view, lambda b: _author(b, spec["author"]))
    return "" if view.cards and share >= spec.get("min", 1.0) else f"{share:.0%} of cards by {spec['author']}"


def check_genre_share(view: TurnView, spec: dict[str, Any]) -> str:
    share = _share(view, lambda b: _genre(b, spec["genre"]))
    return "" if view.cards and share >= spec.get("min", 1.0) else f"{share:.0%} of cards in {spec['genre']}"


def check_no_genre(view: TurnView, genres: Sequence[str]) -> str:
    bad = [(b.title, g) for b in view.cards for g in genres if _genre(b, g)]
    return f"cards in excluded genres: {bad}" if bad else ""


def check_no_repeats(view: TurnView, _: Any = True) -> str:
    repeated = [b.title for b in view.cards if b.id in view.earlier]
    return f"repeated cards: {repeated}" if repeated else ""


def check_first_title(view: TurnView, wanted: str) -> str:
    if view.cards and _title(view.cards[0], wanted):
        return ""
    return f"first card {view.cards[0].title if view.cards else None!r}, expected {wanted!r}"


def check_first_author(view: TurnView, wanted: str) -> str:
    if view.cards and _author(view.cards[0], wanted):
        return ""
    return f"first card by {view.cards[0].authors if view.cards else None}, expected {wanted}"


def check_has_title(view: TurnView, wanted: str) -> str:
    return "" if any(_title(b, wanted) for b in view.cards) else f"no card titled {wanted!r}"


def check_lacks_title(view: TurnView, wanted: str) -> str:
    return "" if not any(_title(b, wanted) for b in view.cards) else f"a card titled {wanted!r}"


def check_series_order(view: TurnView, series: str) -> str:
    """Cards all from the series, in increasing series position."""
    if not view.cards:
        return "no cards"
    if any(fold(series) not in fold(b.series_name) for b in view.cards):
        return f"cards outside the {series} series: {[b.title for b in view.cards]}"
    positions = [float(b.series_position) for b in view.cards if b.series_position.replace(".", "", 1).isdigit()]
    return "" if positions == sorted(positions) and len(positions) == len(view.cards) else f"not in reading order: {positions}"


def check_asks(view: TurnView, wanted: bool) -> str:
    """A disambiguation question: 2-3 candidates as cards, each named with its author, and a '?'."""
    asking = "?" in view.reply.text and 2 <= len(view.cards) <= 3 and all(
        fold(b.authors[0]) in view.text for b in view.cards if b.authors)
    if wanted and not asking:
        return "expected a question listing 2-3 candidates with their authors"
    if not wanted and asking and len({fold(bare_title(b.title)) for b in view.cards}) == 1:
        return "asked which book was meant instead of answering"
    return ""


def check_text_any(view: TurnView, phrases: Sequence[str]) -> str:
    return "" if any(fold(p) in view.text for p in phrases) else f"text mentions none of {list(phrases)}"


def check_text_all(view: TurnView, phrases: Sequence[str]) -> str:
    missing = [p for p in phrases if fold(p) not in view.text]
    return f"text does not mention {missing}" if missing else ""


def check_text_none(view: TurnView, phrases: Sequence[str]) -> str:
    found = [p for p in phrases if fold(p) in view.text]
    return f"text mentions {found}" if found else ""


def check_rated_high(view: TurnView, genre: str | None) -> str:
    """Every card rated at least the 75th percentile of its pool (the genre, or the catalog)."""
    pool = [b.avg_rating for b in view.books.values() if b.avg_rating and (not genre or _genre(b, genre))]
    if not pool or not view.cards:
        return "no cards" if not view.cards else ""
    bar = statistics.quantiles(pool, n=4)[2]
    low = [(b.title, b.avg_rating) for b in view.cards if b.avg_rating < bar]
    return f"cards rated below {bar:.2f}: {low}" if low else ""


def check_popular(view: TurnView, genre: str | None) -> str:
    """Every card among the most-read quarter (by rating count, or list position) of its pool:
    the genre's books, or the whole catalog."""
    books = [b for b in view.books.values() if not genre or _genre(b, genre)]
    if any(b.num_ratings for b in books):
        bar = statistics.quantiles([b.num_ratings for b in books], n=4)[2]
        low = [b.title for b in view.cards if b.num_ratings < bar]
    else:
        ranked = sorted(b.list_rank for b in books if b.list_rank >= 0)
        bar = ranked[len(ranked) // 4] if ranked else 0
        low = [b.title for b in view.cards if b.list_rank < 0 or b.list_rank > bar]
    if not view.cards:
        return "no cards"
    return f"little-read cards: {low}" if low else ""


CHECKS: dict[str, Callable[[TurnView, Any], str]] = {
    "language": check_language,
    "handled": check_handled,
    "min_cards": check_min_cards,
    "max_cards": check_max_cards,
    "author_share": check_author_share,
    "genre_share": check_genre_share,
    "no_genre": check_no_genre,
    "no_repeats": check_no_repeats,
    "first_title": check_first_title,
    "first_author": check_first_author,
    "has_title": check_has_title,
    "lacks_title": check_lacks_title,
    "series_order": check_series_order,
    "asks": check_asks,
    "text_any": check_text_any,
    "text_all": check_text_all,
    "text_none": check_text_none,
    "rated_high": check_rated_high,
    "popular": check_popular,
}


def check_turn(view: TurnView, expect: dict[str, Any], language: str) -> list[str]:
    """Runs the turn's expectations plus the ones every turn must meet."""
    unknown = set(expect) - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown expectation(s): {', '.join(sorted(unknown))}")
    failures = [check_catalog_cards(view)]
    failures.append(check_language(view, expect.get("language", language)))
    failures.append(check_handled(view, expect.get("handled", True)))
    for name, value in expect.items():
        if name not in ("language", "handled"):
            failures.append(CHECKS[name](view, value))
    return [f for f in failures if f]
