"""How a reader points at something already on screen: "the second one", "#2", "it", "the same
author". Purely syntactic, so these stay patterns whatever reads the rest of the message.
"""
from __future__ import annotations

import re

from smartlib_server.services.chat import words

_POINTING = words.table("pointing")  # data/words/pointing.yaml
_PLACES = words.merged(_POINTING["places"])
_ORDINALS = {**_PLACES, **words.merged(_POINTING["counts"])}
_ORDINAL_WORD = "|".join(sorted(map(re.escape, _ORDINALS), key=len, reverse=True))
# "the second one", "number 2", "#2", "o segundo", "a segunda opcao", "o numero 2"
_ORDINAL = re.compile(
    rf"^(?:(?:{words.alternation(_POINTING['place_openers'])}) )?(?:(?:{words.alternation(_POINTING['place_numbers'])}) ?)?"
    rf"(?P<n>{_ORDINAL_WORD}|[1-9])(?: (?:{words.alternation(_POINTING['place_nouns'])}))?$"
)
_FOCUS = frozenset(words.phrases(_POINTING["focus"]))
SAME_AUTHOR = re.compile(rf"^(?:{words.alternation(_POINTING['same_author'])})$")

# A person pointed at with a pronoun ("anything else by her?", "e outros dele?"): with a book in
# focus, the author of that book
BY_PERSON = words.whole_words(_POINTING["by_person"])


def ordinal_of(phrase: str) -> int:
    """'the second one' -> 2, 'o ultimo' -> -1; 0 when the folded phrase is no position."""
    match = _ORDINAL.match(phrase.strip())
    if not match:
        return 0
    word = match.group("n")
    return int(word) if word.isdigit() else _ORDINALS[word]


# Two books of the list on screen weighed against each other ("compare the first two", "os dois
# primeiros, qual a diferenca?", "second vs fourth"): a word of comparing, then two places in the list.
# Choosing one by place ("which is better, the first or the last?") stays a pick (docs/chat.md's
# boundary decision), so "better"/"melhor" are no words of comparing here.
_COMPARING = re.compile(rf"\b(?:(?:{words.alternation(_POINTING['comparing_stems'])})\w*|{words.alternation(_POINTING['comparing'])})\b")
_TWO = rf"(?:{words.alternation(_POINTING['two'])})"


def _two(before: str, after: str) -> re.Pattern[str]:
    """Two places said together, the place word before or after "two": "the first two", "os dois primeiros"."""
    return re.compile(rf"\b(?:(?:{words.alternation(_POINTING[before])}) {_TWO}|{_TWO} (?:{words.alternation(_POINTING[after])}))\b")


_FIRST_TWO = _two("first_before_two", "first_after_two")
_LAST_TWO = _two("last_before_two", "last_after_two")
# places written as places, never bare counts ("two", "um"), which say how many rather than which;
# a digit with a Portuguese gender mark ("2a", "3o") is syntax
_PLACE_WORDS = words.alternation([w for w in _PLACES if not (w[0].isdigit() and w[1:] in ("o", "a"))])
_PLACE = re.compile(rf"\b(?:(?:{words.alternation(_POINTING['place_numbers'])}) ?(?P<d>[1-9])\b|(?P<w>{_PLACE_WORDS}|[1-5][oa])\b)")


def shown_pair(folded: str) -> tuple[int, int] | None:
    """The two list places a comparison of the books on screen names (1-based; -2, -1 the last two),
    or None when the folded message compares nothing or names no two places."""
    if not _COMPARING.search(folded):
        return None
    if _FIRST_TWO.search(folded):
        return 1, 2
    if _LAST_TWO.search(folded):
        return -2, -1
    places = list(dict.fromkeys(int(m["d"]) if m["d"] else _ORDINALS.get(m["w"]) or int(m["w"][0]) for m in _PLACE.finditer(folded)))
    return (places[0], places[1]) if len(places) >= 2 else None


def is_focus(subject: str) -> bool:
    """'it', 'that one', 'esse livro': the book the conversation is about."""
    return subject in _FOCUS
