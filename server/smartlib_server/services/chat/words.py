"""Word lists kept as data (data/words/*.yaml) and the matchers built from them at import.

A list names a meaning ("shorter", "negation"); under it each language has its own phrases
(`en:`, `pt:`), so a third language is one more key in the file. Phrases are plain words, never
regular expressions; the one mark is a "*" at a word's start or end, which lets the word go on
there ("murder*" reads "murderers"). `alternation` escapes them and keeps their order, which is
the order the matcher tries them in (list a longer phrase before one it starts with when the
match's length matters). Only syntax stays in code: numbers, "#2", quoted titles, clause punctuation.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import Path

from smartlib_server.services.chat.lexicon import load_yaml

WORDS_DIR = Path(__file__).resolve().parent / "data" / "words"


@functools.cache
def table(name: str) -> dict:
    """data/words/<name>.yaml, read once."""
    return load_yaml((WORDS_DIR / f"{name}.yaml").read_text(encoding="utf-8"))


def phrases(entry) -> list[str]:
    """Every phrase of a list, its languages' phrases in file order (a plain list is one language)."""
    if isinstance(entry, dict):
        return [p for language in entry.values() for p in phrases(language)]
    return [str(p) for p in entry]


def merged(entry: dict) -> dict:
    """Every language's mapping of a list ("second": 2, "segundo": 2) merged into one, in file order."""
    return {word: value for language in entry.values() for word, value in language.items()}


def combined(first: dict, second: dict) -> list[str]:
    """Each language's phrases of `first` followed by its phrases of `second` ("less" + "dark")."""
    return [f"{a} {b}" for language, words in first.items() for a in words for b in second.get(language, ())]


def _piece(phrase: str) -> str:
    """One phrase escaped; a "*" at an end lets the word go on there ("murder*": "murderer")."""
    head, tail = phrase.startswith("*"), phrase.endswith("*") and len(phrase) > 1
    core = re.escape(phrase[head:len(phrase) - tail])
    return ("\\w*" if head else "") + core + ("\\w*" if tail else "")


def alternation(entry) -> str:
    """The phrases as one regular-expression alternation, escaped, in their order."""
    return "|".join(_piece(p) for p in phrases(entry))


def whole_words(entry, flags: int = 0) -> re.Pattern[str]:
    r"""Any of the phrases as whole words (`\b` either side)."""
    return re.compile(rf"\b(?:{alternation(entry)})\b", flags)


def spaced(entry: Iterable[str] | dict) -> re.Pattern[str]:
    """Any of the phrases between spaces or the ends of folded text ("less dark" in "but less dark")."""
    return re.compile(rf"(?:^| )(?:{alternation(entry)})(?: |$)")
