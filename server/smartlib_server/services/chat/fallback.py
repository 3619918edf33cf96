"""Honest answers for asks the agent cannot serve: off-topic questions and text it cannot read.

Free text goes to the text search only when it reads like a description of books: most of
its topic words must occur somewhere in the catalog (titles, authors, genres, descriptions)
or in the agent's own word lists. "asdfghjkl qwerty" gets an example ask, not three random books.
"""
from __future__ import annotations

import threading

from smartlib_core.domain import Book
from smartlib_core.text import fold
from smartlib_server.services.chat import lexicon
from smartlib_server.services.chat.language import is_function_word
from smartlib_server.services.chat.wording import Phrasebook

KNOWN_SHARE = 0.5  # of a message's topic words, the share the catalog must know

def off_topic(p: Phrasebook) -> str:
    return p.t("fallback.off_topic")


def not_understood(p: Phrasebook) -> str:
    return p.t("fallback.not_understood")


class Vocabulary:
    """Every folded word of the catalog, rebuilt once per catalog version."""

    def __init__(self) -> None:
        self._key: tuple[int, int, int] | None = None
        self._words: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def words(self, books: dict[str, Book], version: int) -> frozenset[str]:
        key = (id(books), version, len(books))
        if self._key != key:
            with self._lock:
                if self._key != key:
                    words: set[str] = set()
                    for book in list(books.values()):
                        words.update(fold(f"{book.title} {' '.join(book.authors)} {' '.join(book.genres)} {book.description}").split())
                    self._words, self._key = frozenset(words), key
        return self._words

    def readable(self, text: str, books: dict[str, Book], version: int) -> bool:
        """Whether the message's topic words are mostly words the catalog or the lexicon knows."""
        own = _OWN
        topic = [w for w in fold(text).split() if w not in lexicon.FILLER and not is_function_word(w)]
        if not topic:
            return False
        catalog = self.words(books, version)
        known = [w for w in topic if w in catalog or w in own or lexicon.is_genre_word(w)]
        return len(known) >= max(1, KNOWN_SHARE * len(topic))


_OWN = frozenset(lexicon.PT_WORDS) | frozenset(w for title in lexicon.PT_TITLES for w in title.split())
