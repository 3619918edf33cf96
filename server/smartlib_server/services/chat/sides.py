"""The sides of a comparison the linker could not settle from the words around the one name it
linked ("Compare The Girl and Dune": "The Girl"), and the ways one linked name splits at a joining
word ("animal farm e 1984" is also an omnibus). Read by interpret.py for compare asks.
"""
from __future__ import annotations

from smartlib_core.text import fold
from smartlib_server.services.chat import lexicon
from smartlib_server.services.chat.link_tables import static_tables
from smartlib_server.services.chat.linker import Entity


def unusual(rest: str) -> list[str]:
    """The words outside everyday speech and genre words: what may be a topic or a name."""
    return [w for w in rest.split() if w not in static_tables().common and not lexicon.is_genre_word(w)]


def other_side(text: str, named: Entity) -> str:
    """The words across the joining word from a compared entity, without the words of the ask
    around them: "Compare The Girl and Dune" -> "The Girl"."""
    before, after = text[:named.start].split(), text[named.end:].split()
    joiners, common = lexicon.JOINERS, static_tables().common
    if before:
        words = before
        while words and fold(words[-1]) in joiners:
            words.pop()
        first = 0  # the ask's own words ("compare", "which is better,") up to a name capitalised mid-sentence
        while first < len(words) and fold(words[first]) in common and not (first > 0 and words[first][:1].isupper()):
            first += 1
        words = words[first:]
    else:
        words = after
        while words and fold(words[0]) in joiners:
            words.pop(0)
    return " ".join(words).strip(" ?!.,")


def named_side(text: str, book: Entity) -> str:
    """The other side of a comparison the linker could not settle, when the reader wrote it as a
    name: capitalised or in words outside everyday speech ("Compare The Girl e Duna": "The Girl",
    which the resolver then asks about). "should i read lolita or is it just hype" has none."""
    other = other_side(text, book)
    named = any(w[:1].isupper() for w in other.split()) or unusual(fold(other))
    return other if named else ""


def split_joined(typed: str) -> tuple[tuple[str, str], ...]:
    """Every way the words of one linked name split at a joining word into two sides."""
    words = typed.split()
    return tuple((" ".join(words[:i]), " ".join(words[i + 1:])) for i in range(1, len(words) - 1)
                 if fold(words[i]) in lexicon.JOINERS)
