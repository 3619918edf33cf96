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


def is_focus(subject: str) -> bool:
    """'it', 'that one', 'esse livro': the book the conversation is about."""
    return subject in _FOCUS
