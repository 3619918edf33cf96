"""Keeps a language model's answer to the books the agent retrieved.

The model is told to name only the listed books; this checks that it did. Its text is cut
into sentences as it streams, and a sentence that names a book outside the reply's cards (and
outside the built-in draft, which may name a series' other books) is dropped, not shown. A book
is "named" when a catalog title appears in the sentence (single-word titles only when written
capitalised mid-sentence, so "it" or "dune" as plain words do not count), or when the sentence
quotes or emphasises a title the reply does not hold.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Iterator

from smartlib_core.domain import Book
from smartlib_core.text import bare_title, fold
from smartlib_server.services.chat.session import Reply

MAX_TITLE_WORDS = 12
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_QUOTED = re.compile(r"[\"“”«»]([^\"“”«»]{3,80})[\"“”«»]|\*{1,2}([^*]{3,80})\*{1,2}|_([^_]{3,80})_")


class CatalogTitles:
    """The catalog's folded bare titles, rebuilt when the catalog changes."""

    def __init__(self) -> None:
        self._key: tuple[int, int] | None = None
        self._titles: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def get(self, books: dict[str, Book]) -> frozenset[str]:
        key = (id(books), len(books))
        if self._key != key:
            with self._lock:
                if self._key != key:
                    self._titles = frozenset(t for t in (fold(bare_title(b.title)) for b in list(books.values())) if t)
                    self._key = key
        return self._titles


class Grounding:
    """Filters one streamed answer sentence by sentence."""

    def __init__(self, reply: Reply, catalog: frozenset[str]):
        self.catalog = catalog
        self.allowed = {fold(bare_title(b.title)) for b in reply.books}
        self.allowed |= set(self._named(reply.text))  # the draft may name a series' other books
        self.dropped: list[str] = []
        self._buffer = ""

    def feed(self, piece: str) -> Iterator[str]:
        """The complete sentences the new text finishes, if they name only allowed books."""
        self._buffer += piece
        while True:
            match = _SENTENCE_END.search(self._buffer)
            if not match:
                return
            sentence, self._buffer = self._buffer[: match.end()], self._buffer[match.end():]
            if self.grounded(sentence):
                yield sentence

    def finish(self) -> Iterator[str]:
        """What is left when the stream ends (or breaks), under the same check."""
        rest, self._buffer = self._buffer, ""
        if rest and self.grounded(rest):
            yield rest

    def grounded(self, sentence: str) -> bool:
        strangers = [t for t in self._named(sentence) if t not in self.allowed]
        for groups in _QUOTED.findall(sentence):
            quoted = fold(next(g for g in groups if g))
            if quoted and not any(quoted == a or quoted in a for a in self.allowed):
                strangers.append(quoted)
        if strangers:
            self.dropped.append(sentence)
            return False
        return True

    def _named(self, text: str) -> list[str]:
        words = fold(text).split()
        raw = text.split()
        found = []
        for size in range(min(MAX_TITLE_WORDS, len(words)), 0, -1):
            for start in range(len(words) - size + 1):
                phrase = " ".join(words[start: start + size])
                if phrase in self.catalog and (size > 1 or _capitalised_mid_sentence(phrase, raw)):
                    found.append(phrase)
        return found


def _capitalised_mid_sentence(word: str, raw: list[str]) -> bool:
    """A one-word title counts only when written as a name: capitalised, not first in a sentence."""
    if len(word) < 4:
        return False
    for i, token in enumerate(raw):
        if i and fold(token) == word and token[:1].isupper() and not raw[i - 1].endswith((".", "!", "?", ":")):
            return True
    return False
