"""Forgiving title and author lookup: case, punctuation, accents, series suffixes and typos."""
from __future__ import annotations

import threading
from collections.abc import Iterable

from rapidfuzz import fuzz, process

from smartlib_core.domain import Book
from smartlib_core.text import bare_title, fold

MIN_SCORE = 70.0
EXACT_TITLE = 100.0  # scores above this are whole titles as typed (they get 10 on top of their match)


class TitleIndex:
    def __init__(self) -> None:
        self._keys: dict[str, tuple[str, str, str]] = {}  # id -> (bare title, title + author, author)
        self._popularity: dict[str, int] = {}
        self._lock = threading.Lock()
        self._choices: tuple[list[str], list[tuple[str, str]]] | None = None

    def upsert(self, books: Iterable[Book]) -> None:
        with self._lock:
            for book in books:
                title, author = bare_title(book.title), fold(" ".join(book.authors))
                self._keys[book.id] = (title, f"{title} {author}", author)
                self._popularity[book.id] = book.list_rank if book.list_rank >= 0 else 1 << 30
            self._choices = None

    def remove(self, ids: Iterable[str]) -> None:
        with self._lock:
            for book_id in ids:
                self._keys.pop(book_id, None)
                self._popularity.pop(book_id, None)
            self._choices = None

    def _snapshot(self) -> tuple[list[str], list[tuple[str, str]]]:
        with self._lock:
            if self._choices is None:
                texts: list[str] = []
                owners: list[tuple[str, str]] = []
                for book_id, (title, title_author, author) in self._keys.items():
                    for kind, text in (("title", title), ("title_author", title_author), ("author", author)):
                        texts.append(text)
                        owners.append((book_id, kind))
                self._choices = (texts, owners)
            return self._choices

    def search(self, query: str, limit: int) -> list[tuple[str, float]]:
        """Best (book id, score 0..100) matches; exact title matches first, then fuzzy ones."""
        needle = fold(query)
        if not needle:
            return []
        texts, owners = self._snapshot()
        best: dict[str, float] = {}
        hits = process.extract(needle, texts, scorer=_score, limit=max(limit * 8, 50), score_cutoff=MIN_SCORE)
        for _, score, position in hits:
            book_id, kind = owners[position]
            if kind == "title" and texts[position] == needle:
                score += 10  # an exact title beats a partial match inside a longer title
            best[book_id] = max(best.get(book_id, 0.0), score)
        ranked = sorted(best.items(), key=lambda item: (-item[1], self._popularity.get(item[0], 1 << 30)))
        return ranked[:limit]


def _score(query: str, choice: str, **kwargs) -> float:
    # WRatio tolerates typos and word order; token_set_ratio lets "tolkien" match "j r r tolkien".
    return max(fuzz.WRatio(query, choice, **kwargs), fuzz.token_set_ratio(query, choice, **kwargs) - 5)
