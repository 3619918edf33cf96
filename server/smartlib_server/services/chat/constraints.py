"""Constraints a reader adds to any ask: genres to leave out and an order ("best rated").

"Fantasy but no romance", "sem romance", "the best rated books by Stephen King", "os livros mais
bem avaliados de fantasia": these words qualify the ask rather than name it, so interpret.py takes
them out of the words no entity took before the rest becomes a free-text query, and like_but
reads them in what the "but" asks to change.
"""
from __future__ import annotations

import dataclasses
import re

from smartlib_server.services.chat import lexicon, link_tables, words

_ROLES = link_tables.load_yaml((link_tables.DATA / "roles.yaml").read_text(encoding="utf-8"))

# Words that turn the genre after them into an exclusion ("no", "sem", "tirando"...), and the words
# allowed between them and the genre ("without any romance", "sem nada de romance"): data, in
# data/lexicon/function_words.yaml, and the words of what a book is about ("not about war", "que
# não seja sobre guerra") in data/roles.yaml, outside the intent model's hash.
# A genre the reader wants replaced ("psychology instead of history", "em vez de romance") is left
# out like a negated one: each such phrase (data/roles.yaml) is read as one cue word.
_INSTEAD = "instead"
_REPLACING = re.compile(r"(?:^|(?<= ))(?:" + "|".join(sorted((re.escape(p) for p in _ROLES["replacing"]), key=len, reverse=True))
                        + r")(?= |$)")
_NEGATIONS = lexicon.NEGATIONS | {_INSTEAD}
_BRIDGE = lexicon.NEGATION_BRIDGE | frozenset(_ROLES["negation_reach"])
# "w/o" folds to "w o": the chat spelling of "without"
_WITHOUT = re.compile(r"(?:^|(?<= ))w o(?= |$)")
# The words that order a list are data too (data/lexicon/orders.yaml); only the numbers beside
# them ("the 10 best") are read as syntax.
_ORDERS = lexicon.ORDERS
_LONGEST = max(len(p) for phrases in [*_ORDERS.values(), lexicon.ORDER_EXTRAS] for p in phrases)
# Readers' judgement said with a word of height ("high scores from readers", "notas bem altas"):
# two small word classes that combine, read after the intent model (data/roles.yaml).
_JUDGED = _ROLES["rated_high"]
_JUDGEMENT = frozenset(_JUDGED["judgement"])
_HEIGHT = frozenset(_JUDGED["height"])
_JUDGES = frozenset(_JUDGED["judges"])
_INTENSIFIERS = frozenset(_JUDGED["intensifiers"])
_GAP = 2  # words allowed between a judgement and its height ("scores really high")


@dataclasses.dataclass(frozen=True)
class Constraints:
    rest: str  # the folded text with the constraint words taken out
    plain: str  # the folded text without the exclusions only ("best" may be part of a title)
    exclude: tuple[str, ...] = ()  # catalog genre names to leave out
    sort: str = ""  # "", "rating" or "popular"


def extract(folded: str, language: str) -> Constraints:
    """Splits off exclusions and an order; `language` only breaks genre-word ties."""
    folded = _REPLACING.sub(_INSTEAD, _WITHOUT.sub("without", folded))
    words = folded.split()
    excluded: list[str] = []
    drop: set[int] = set()
    for phrase, genre in lexicon.genre_phrases(folded, language):
        size = len(phrase.split())
        for start in _occurrences(words, phrase.split()):
            cue = _negation_before(words, start)
            if cue is not None:
                excluded.append(genre)
                drop.update(range(cue, start + size))
    rest = plain = _trim(" ".join(w for i, w in enumerate(words) if i not in drop))
    sort = ""
    for name, phrases in _ORDERS.items():
        kept, found = _take(rest.split(), phrases, lexicon.ORDER_LEAD)
        if found:
            sort = name
            rest = _trim(" ".join(_take(kept, lexicon.ORDER_EXTRAS, frozenset())[0]))
            break
    if not sort:
        run = _rated_high(rest.split())
        if run:
            words = rest.split()
            sort, rest = "rating", _trim(" ".join(words[:run[0]] + words[run[1]:]))
    return Constraints(rest, plain, tuple(dict.fromkeys(excluded)), sort)


def _rated_high(words: list[str]) -> tuple[int, int] | None:
    """Where a word of readers' judgement sits within two words of a word of height, in either
    order ("high scores", "reviews are great", "notas altas"): the span from the first to the
    last, with an intensifier before it ("really") and the judges named just after it ("from
    readers"); None when no such pair is there."""
    for i, word in enumerate(words):
        near = [j for j in range(max(0, i - _GAP - 1), min(len(words), i + _GAP + 2)) if words[j] in _HEIGHT]
        if word not in _JUDGEMENT or not near:
            continue
        start, end = min(i, *near), max(i, *near) + 1
        while start > 0 and words[start - 1] in _INTENSIFIERS:
            start -= 1
        end = next((j + 1 for j in range(end, min(len(words), end + 2)) if words[j] in _JUDGES), end)
        return start, end
    return None


def _take(words: list[str], phrases: frozenset[tuple[str, ...]], lead: frozenset[str]) -> tuple[list[str], bool]:
    """The words without every phrase of `phrases` (longest first where several start), with the
    numbers next to a phrase and the `lead` words before it; and whether any was there."""
    kept: list[str] = []
    found = False
    i = 0
    while i < len(words):
        size = next((n for n in range(min(_LONGEST, len(words) - i), 0, -1) if tuple(words[i:i + n]) in phrases), 0)
        if not size:
            kept.append(words[i])
            i += 1
            continue
        found = True
        while kept and (kept[-1] in lead or kept[-1].isdigit()):
            kept.pop()
        i += size
        while i < len(words) and words[i].isdigit():
            i += 1
    return kept, found


def _occurrences(words: list[str], phrase: list[str]) -> list[int]:
    n = len(phrase)
    return [i for i in range(len(words) - n + 1) if words[i: i + n] == phrase]


def _negation_before(words: list[str], start: int) -> int | None:
    """Where the negation governing words[start] begins, looking back over bridge words."""
    i = start - 1
    while i >= 0 and start - i <= 4:
        if words[i] in _NEGATIONS:
            while i > 0 and words[i - 1] in _NEGATIONS:  # "sem nada de romance"
                i -= 1
            return i
        if words[i] not in _BRIDGE and not lexicon.is_genre_word(words[i]):
            return None
        i -= 1
    return None


_DANGLING = re.compile(rf"(?:^| )(?:{words.alternation(words.table('connectives')['dangling'])})$")  # data/words/connectives.yaml


def _trim(text: str) -> str:
    """'fantasy but' -> 'fantasy': connectors left hanging once a constraint is taken out."""
    previous = None
    while previous != text:
        previous, text = text, _DANGLING.sub("", text).strip()
    return text
