"""A series named in Portuguese that the catalog holds under its English name, found through
cognates: a Portuguese edition keeps a series' name word for word, and most of its content words
are the English ones respelt ("Os Heróis do Olimpo" for The Heroes of Olympus). Tried only when
no title, series or author matched the phrase, so a typo or a known alias never gets here.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from rapidfuzz import fuzz

from smartlib_server.services.chat import language
from smartlib_server.services.chat.dominance import WELL_READ  # a respelt name needs the linker's bar

MIN_LETTERS = 4  # shorter words are articles, prepositions or too easily alike
COGNATE_MIN = 60.0  # spelling similarity of two cognates ("olimpo" / "olympus" is 61.5)


def content(folded: str) -> list[str]:
    """The words of a folded name that carry its meaning, in order."""
    return [w for w in folded.split() if len(w) >= MIN_LETTERS and not language.is_function_word(w)]


def series_named(needle: str, names: Iterable[str], readers: Callable[[str], int]) -> str | None:
    """The one well-read series (folded `names`, `readers` of each) whose content words pair, in
    order and in number, with the phrase's: the same first letter and a close spelling each. Two
    content words at least, since one respelt word alone is too easily another name."""
    words = content(needle)
    if len(words) < 2:
        return None
    found = [name for name in names if _cognate(words, content(name)) and readers(name) >= WELL_READ]
    return found[0] if len(found) == 1 else None


def _cognate(words: list[str], others: list[str]) -> bool:
    return len(words) == len(others) and all(a[0] == b[0] and fuzz.ratio(a, b) >= COGNATE_MIN for a, b in zip(words, others, strict=True))
