"""How a reader points at something already on screen: "the second one", "#2", "it", "the same
author". Purely syntactic, so these stay patterns whatever reads the rest of the message.
"""
from __future__ import annotations

import re

_ORDINALS = {
    "first": 1, "1st": 1, "one": 1, "second": 2, "2nd": 2, "two": 2, "third": 3, "3rd": 3, "three": 3,
    "fourth": 4, "4th": 4, "four": 4, "fifth": 5, "5th": 5, "five": 5, "last": -1,
    "primeiro": 1, "primeira": 1, "1o": 1, "1a": 1, "um": 1, "segundo": 2, "segunda": 2, "2o": 2, "2a": 2,
    "dois": 2, "terceiro": 3, "terceira": 3, "3o": 3, "3a": 3, "tres": 3, "quarto": 4, "quarta": 4, "4o": 4,
    "quatro": 4, "quinto": 5, "quinta": 5, "5o": 5, "cinco": 5, "ultimo": -1, "ultima": -1,
}
_ORDINAL_WORD = "|".join(sorted(map(re.escape, _ORDINALS), key=len, reverse=True))
# "the second one", "number 2", "#2", "o segundo", "a segunda opcao", "o numero 2"
_ORDINAL = re.compile(
    rf"^(?:the |o |a |os |as |that |esse |essa )?(?:(?:number|numero|n) ?)?(?P<n>{_ORDINAL_WORD}|[1-9])"
    r"(?: (?:one|book|livro|opcao|option|item|ones))?$"
)
_FOCUS = frozenset(["it", "that", "that one", "this", "this one", "this book", "that book", "esse", "essa", "este", "esta",
                    "isso", "isto", "ele", "ela", "esse livro", "este livro"])
SAME_AUTHOR = re.compile(r"^(?:the )?same (?:author|writer)$|^(?:o )?mesmo (?:autor|escritor)$|^(?:a )?mesma (?:autora|escritora)$|"
                         r"^(?:him|her|them|ele|ela|this author|that author|esse autor|essa autora|este autor)$")

# A person pointed at with a pronoun ("anything else by her?", "e outros dele?"): with a book in
# focus, the author of that book
BY_PERSON = re.compile(r"\b(?:dele|dela|(?:by|from) (?:him|her))\b")


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
_COMPARING = re.compile(r"\b(?:compar\w*|weigh\w*|versus|vs|differen\w*|diferen\w*)\b")
_TWO = r"(?:two|2|dois|duas)"
_FIRST_TWO = re.compile(rf"\b(?:(?:first|top) {_TWO}|{_TWO} first|(?:primeir[oa]s|top) {_TWO}|{_TWO} primeir[oa]s)\b")
_LAST_TWO = re.compile(rf"\b(?:last {_TWO}|{_TWO} last|ultim[oa]s {_TWO}|{_TWO} ultim[oa]s)\b")
# places written as places, never bare counts ("two", "um"), which say how many rather than which
_PLACE = re.compile(r"\b(?:(?:number|numero|n) ?(?P<d>[1-9])\b|(?P<w>(?:fir|1)st|(?:seco|2)nd|(?:thi|3)rd|(?:four|fif|4|5)th|"
                    r"primeir[oa]|segund[oa]|terceir[oa]|quart[oa]|quint[oa]|[1-5][oa]|last|ultim[oa])\b)")


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
