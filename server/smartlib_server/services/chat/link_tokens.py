"""The words of a message as the linker reads them, and the names it finds without the catalog's
tables: a number with its unit (a measure, never a name) and titles the catalog lacks, typed with
capitals or after a byline whose author it does not know (see linker.py)."""
from __future__ import annotations

import dataclasses
import re

from smartlib_core.text import fold
from smartlib_server.services.chat.link_tables import ARTICLES as _ARTICLES, CatalogTables, Target

_TOKEN = re.compile(r"\{[A-Z]+\}|#?\d+(?:[.,]\d+)?|[^\W_]+(?:['’][^\W_]+)*")
_INNER = frozenset({"the", "of", "and", "a", "an", "o", "os", "as", "do", "da", "dos", "das", "de", "e"})  # inside a capitalised title
BYLINE = frozenset({"by", "de", "do", "da"})  # before an author's name: "X by Y", "X, da Y"
_AUTHOR_WORDS = frozenset({"author", "writer", "autor", "autora", "escritor", "escritora"})  # "da autora <name>"
_OF = frozenset({"of", "de", "do", "da", "dos", "das"})  # joining a title's words: "X of Y", "X do Y"
# Words that make the number before them a measure: ratings, lengths, durations, ages.
UNITS = frozenset("star stars estrela estrelas page pages pagina paginas hour hours hora horas minute minutes minuto minutos "
                  "year years yr yrs yo ano anos".split())

@dataclasses.dataclass(frozen=True)
class Token:
    folded: str
    raw: str
    start: int
    end: int
    slot: bool = False  # "{TITLE}" in corpus text: already linked
    opens: bool = False  # first word of a sentence, where a capital says nothing
    clause: bool = False  # first word of a clause (the sentence's, or after a comma or colon)


@dataclasses.dataclass(frozen=True)
class Match:
    target: Target
    first: int  # token positions, end exclusive
    last: int
    score: float



def measures(tokens: list[Token]) -> set[int]:
    """A number and the unit after it ("5 stars", "300 pages", "2 hours") are a measure, never a
    name: the unit word is left out of every match and the number stays a number."""
    out: set[int] = set()
    for i in range(len(tokens) - 1):
        if tokens[i].folded.lstrip("#")[:1].isdigit() and tokens[i + 1].folded in UNITS:
            out |= {i, i + 1}
    return out


def tokens(text: str) -> list[Token]:
    found: list[Token] = []
    for m in _TOKEN.finditer(text):
        raw = m.group(0)
        slot = raw.startswith("{")
        gap = text[found[-1].end:m.start()] if found else "."
        opens = any(c in ".!?" for c in gap)
        clause = any(c in ".!?,;:" for c in gap)
        found.append(Token(raw if slot else fold(raw).replace(" ", ""), raw, m.start(), m.end(), slot, opens, clause))
    return found



def capitalised_unknown(tokens: list[Token], covered: set[int], tables: CatalogTables, text: str) -> list[Match]:
    """Two or more capitalised words mid-sentence ("tell me about Zorblax the Unwritten"), one of
    them in no catalog name: a title the catalog lacks, so the answer can say it is missing."""
    out: list[Match] = []
    i = 0
    while i < len(tokens):
        j, capitals = i, 0
        while j < len(tokens) and j not in covered and not tokens[j].slot and not tokens[j].opens and (
                tokens[j].raw[:1].isupper() or (j > i and tokens[j].folded in _INNER)):
            capitals += tokens[j].raw[:1].isupper()
            j += 1
        while j > i and not tokens[j - 1].raw[:1].isupper():  # "Zorblax the" ends at Zorblax
            j -= 1
        words = [t.folded for t in tokens[i:j]]
        if capitals >= 2 and any(w not in tables.postings and w not in tables.static.common for w in words):
            out.append(Match(Target("unknown_title", text[tokens[i].start:tokens[j - 1].end]), i, j, 0.0))
        i = max(j, i + 1)
    return out


def unknown_byline(tokens: list[Token], covered: set[int], tables: CatalogTables, text: str) -> list[Match]:
    """"<words> by <first name> <surname>" ending its clause, where the surname is in no catalog name
    nor everyday speech ("seventeen lanterns over marrowby by delphine osterhagen"): a book the
    catalog lacks, whatever the case it is typed in, so the answer can say it is missing. With only
    the ask's words before the byline ("anything by <name>", "livros da autora <name>") the name
    itself is what the catalog lacks: an author nobody wrote a catalog book as."""
    out: list[Match] = []
    for b, token in enumerate(tokens):
        at = b + 2 if b + 1 < len(tokens) and tokens[b + 1].folded in _AUTHOR_WORDS else b + 1  # "da autora X"
        name = tokens[at: at + 2]
        if token.folded not in BYLINE or len(name) < 2 or any(t.slot or t.opens for t in name) or b < 1:
            continue
        end = at + 2
        if end < len(tokens) and not tokens[end].clause:
            continue
        surname, first = name[1].folded, name[0].folded
        if not surname.isalpha() or surname in tables.postings or surname in tables.static.common or first in tables.static.common:
            continue
        start = b - 1 if tokens[b].clause else b  # "X, by Y": the comma stays inside
        while start > 0 and not tokens[start].clause and start - 1 not in covered and not tokens[start - 1].slot:
            start -= 1
        while start < b and tokens[start].folded in tables.static.common:  # "looking for ..." are the ask's words
            start += 1
        if any(i in covered for i in range(min(start, at), end)):
            continue
        if start >= b:  # nothing but the ask before it: the name is the missing one
            start = at
        out.append(Match(Target("unknown_title", text[tokens[start].start:tokens[end - 1].end]), start, end, 0.0))
    return out


def byline_names(after: list[Token], authors: list[str]) -> list[tuple[str, int]]:
    """The authors the words after a byline spell, with where the name ends: a full name, first and
    last name, or a surname of four letters or more ("... by anouilh", "... do sidney sheldon")."""
    out = []
    for author in dict.fromkeys(authors):
        parts = fold(author).replace(".", " ").split()
        spellings = {" ".join(parts), f"{parts[0]} {parts[-1]}"} | ({parts[-1]} if len(parts[-1]) >= 4 else set())
        for size in (3, 2, 1):
            words = after[:size]
            if len(words) == size and " ".join(t.folded for t in words) in spellings and not any(t.clause for t in words[1:]):
                out.append((author, words[-1].end))
                break
    return out


def extended_unknown(matches: list[Match], tokens: list[Token], tables: CatalogTables, text: str) -> list[Match]:
    """A catalog title followed by "of", "de", "do"... and words in no catalog name nor everyday
    speech ("ashes of quillmont", "a ilha do zembravo"): a longer title the catalog lacks, not the
    shorter book inside it, so the answer can say it is missing."""
    out = []
    for m in matches:
        end = m.last + 1
        while end < len(tokens) and not tokens[end].clause and _unheard(tokens[end], tables):
            end += 1
        if m.target.kind == "title" and end > m.last + 1 and tokens[m.last].folded in _OF and not tokens[m.last].clause:
            out.append(Match(Target("unknown_title", text[tokens[m.first].start:tokens[end - 1].end]), m.first, end, 0.0))
        else:
            out.append(m)
    return out


# Words that say a title follows ("a novel called ...", "um livro chamado ..."), and words that end
# the name they introduce ("... on a podcast", "... que uma amiga indicou").
_NAMING = frozenset({"called", "titled", "named", "entitled", "chamado", "chamada", "intitulado", "intitulada"})
_AFTER_NAME = frozenset({"on", "in", "at", "from", "by", "about", "that", "which", "who", "for", "with", "like", "is", "was",
                         "no", "na", "em", "que", "pelo", "pela", "num", "numa", "sobre", "por", "com", "e", "eh", "foi"})
_PREFIXES: dict[tuple, frozenset[str]] = {}


def unknown_names(matches: list[Match], tokens: list[Token], tables: CatalogTables, text: str) -> list[Match]:
    """The titles the catalog lacks that the words around a name reveal (`extended_unknown`,
    `called_unknown`, `shaped_unknown`), instead of the catalog names found inside them."""
    return shaped_unknown(called_unknown(extended_unknown(matches, tokens, tables, text), tokens, tables, text),
                          tokens, tables, text)


def called_unknown(matches: list[Match], tokens: list[Token], tables: CatalogTables, text: str) -> list[Match]:
    """The words after "called", "titled", "chamado"... up to the end of their clause or a word that
    ends a name ("a novel called seven salt kingdoms on a podcast"): the reader says they are a
    title. When no catalog title or series starts there (after an article at most), typed exactly,
    in everyday words (which `Understander.complete` may still take), or one typo away, they are a
    title the catalog lacks, and the catalog names inside them ("Salt") are not asked for."""
    out = list(matches)
    for c, token in enumerate(tokens[:-1]):
        if token.folded not in _NAMING or tokens[c + 1].clause or any(m.first <= c < m.last for m in matches):
            continue  # "called" inside a catalog name ("A Man Called <name>") introduces nothing
        start = end = c + 1
        while end < len(tokens) and end - start < 6 and not tokens[end].slot and not (end > start and tokens[end].clause) \
                and tokens[end].folded not in _AFTER_NAME:
            end += 1
        words = [t.folded for t in tokens[start:end]]
        if not words or all(w in tables.static.function for w in words):
            continue
        firsts = {start, start + 1} if words[0] in _ARTICLES else {start}
        if any(m.first in firsts and m.target.kind in ("title", "series", "unknown_title") for m in out):
            continue
        if any(t.kind in ("title", "series") for f in firsts for k in range(f + 1, end + 1)
               for t in tables.lookup(" ".join(x.folded for x in tokens[f:k]))):
            continue  # the catalog's own name, in everyday words too ("a book called the road"): never missing
        out = [m for m in out if not (start <= m.first and m.last <= end)]
        out.append(Match(Target("unknown_title", text[tokens[start].start:tokens[end - 1].end]), start, end, 0.0))
    return sorted(out, key=lambda m: m.first)


def shaped_unknown(matches: list[Match], tokens: list[Token], tables: CatalogTables, text: str) -> list[Match]:
    """A catalog name's opening up to its "of"/"de" ("as cronicas de", "the chronicles of"), then
    words in no catalog name nor everyday speech to the end of the clause ("as cronicas de
    pedravelha"): a title of that shape the catalog lacks, answered honestly, rather than a search
    of its words. Only where no catalog name was found, in it or right before it: "The Glass Orchard
    of <unheard>" is one longer name (`titles_inside_unknown`)."""
    covered = {i for m in matches for i in range(m.first, m.last)}
    out = list(matches)
    for k in range(1, len(tokens) - 1):
        if tokens[k].folded not in _OF or tokens[k].clause or k + 1 in covered or not _unheard(tokens[k + 1], tables):
            continue
        end = k + 1
        while end < len(tokens) and not tokens[end].clause and _unheard(tokens[end], tables):
            end += 1
        prefixes = _of_prefixes(tables)  # built once per catalog version, on the first message that needs it
        start = next((i for i in range(max(0, k - 5), k) if " ".join(t.folded for t in tokens[i:k + 1]) in prefixes
                      and not any(t.clause for t in tokens[i + 1:k + 1])), None)
        # a catalog name right before it ("The Glass Orchard of <unheard>"): the shape is inside a longer name
        if start is None or any(i in covered for i in range(max(0, start - 1), end)):
            continue
        out.append(Match(Target("unknown_title", text[tokens[start].start:tokens[end - 1].end]), start, end, 0.0))
    return sorted(out, key=lambda m: m.first)


def _of_prefixes(tables: CatalogTables) -> frozenset[str]:
    """Every catalog title, series, alias and Portuguese title cut right after an inner "of"/"de"
    with a word before it outside everyday speech ("as cronicas de", never "a history of"), once
    per catalog version."""
    found = _PREFIXES.get(tables.key)
    if found is None:
        cut = set()
        for phrase in [*tables.phrases, *tables.static.renames]:
            words = phrase.split()
            for k in range(1, len(words) - 1):
                if words[k] in _OF and any(w not in tables.static.common for w in words[:k]):
                    cut.add(" ".join(words[:k + 1]))
        _PREFIXES.clear()
        found = _PREFIXES[tables.key] = frozenset(cut)
    return found


def _unheard(token: Token, tables: CatalogTables) -> bool:
    word = token.folded
    return word.isalpha() and len(word) >= 4 and word not in tables.postings and word not in tables.static.common


def titles_inside_unknown(chosen: list[Match], tokens: list[Token], tables: CatalogTables, text: str) -> list[Match]:
    """A catalog title inside a longer capitalised name the catalog lacks ("The Glass Orchard of
    Velmira" holds the book "Glass") is no ask for that title: the whole name is a missing title.
    Only when the words around the title are unheard ones or a title's inner words ("of", "the"),
    all in one clause, so "Books Like Dune For My Nephew Jaxon" keeps Dune."""
    others = {i for m in chosen if m.target.kind != "title" for i in range(m.first, m.last)}
    out = list(chosen)
    for run in capitalised_unknown(tokens, others, tables, text):
        inside = [m for m in chosen if run.first <= m.first and m.last <= run.last]
        overlapping = [m for m in chosen if m.first < run.last and run.first < m.last]
        if not inside or len(inside) != len(overlapping) or any(tokens[i].clause for i in range(run.first + 1, run.last)):
            continue
        around = [t for i, t in enumerate(tokens[run.first:run.last], run.first) if not any(m.first <= i < m.last for m in inside)]
        if all(t.folded in _INNER or t.folded not in tables.static.common for t in around):
            out = [m for m in out if m not in inside] + [run]
    return sorted(out, key=lambda m: m.first)
