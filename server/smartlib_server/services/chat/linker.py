"""Entity linking: the titles, series, authors, genres, moods and numbers a message names,
wherever they sit in it.

Every run of words is looked up in the catalog's tables (link_tables.py), exactly after
folding; runs left over are matched fuzzily, seeded by words that are in a catalog name or one
typo away from one ("hobit", "poter"). Overlaps keep the longest run, so a title beats an
author's name inside it. A title made only of everyday words ("It", "The Help", "A noite")
links only when quoted, capitalised mid-sentence, or typed alone.
"""
from __future__ import annotations

import dataclasses
import re
import threading

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from smartlib_core.domain import Book
from smartlib_core.text import fold
from smartlib_server.services.chat import link_tables, spelling
from smartlib_server.services.chat.dominance import WELL_READ
from smartlib_server.services.chat.link_tables import ARTICLES, CatalogTables, Target
from smartlib_server.services.chat.link_tokens import (
    BYLINE as _BYLINE,
    Match as _Match,
    Token as _Token,
    byline_names,
    capitalised_unknown as _capitalised_unknown,
    measures as _measures,
    titles_inside_unknown as _titles_inside_unknown,
    tokens as _tokens,
    unknown_byline as _unknown_byline,
    unknown_names as _unknown_names,
)

FUZZY_MIN = 84.0  # the resolver's bar for a whole-phrase typo
PREFIX_SCORE = 85.0  # a phrase that starts a longer title: "harry poter and the chamber"
SWALLOW_MIN = 92.0  # a fuzzy run overlapping an exact match needs this much to replace it
MAX_CANDIDATES = 40  # catalog names scored per message in the fuzzy pass
SLOTS = {"title": "{TITLE}", "unknown_title": "{TITLE}", "series": "{SERIES}", "author": "{AUTHOR}",
         "genre": "{GENRE}", "mood": "{MOOD}", "number": "{NUM}"}
_QUOTED = re.compile(r"(?:^|(?<=[\s(]))[\"“«'‘](?P<q>[^\"”»’']{2,80})[\"”»'’](?=$|[\s,.?!:;)])")
_KIND_RANK = {"genre": 0, "mood": 1, "title": 2, "series": 3, "author": 4}
# dominance.WELL_READ: ratings a name needs before the reader's own words are taken for it without
# a capital: a surname alone ("pratchett"), a typo of one, or a long title of everyday words ("gone
# with the wind"). Below it, "stack", "marsh" or "have i told you" are the reader's words.


@dataclasses.dataclass(frozen=True)
class Entity:
    kind: str  # "title", "series", "author", "genre", "mood", "number" or "unknown_title" (quoted, not in the catalog)
    name: str  # the catalog's title, series or author name; the catalog genre; the mood's English words; the number
    text: str  # as the reader typed it
    start: int  # character span in the message
    end: int
    ids: tuple[str, ...] = ()  # book ids: the title's editions, the series in order, the author's books by popularity
    score: float = 100.0  # 100 for an exact match, the fuzzy similarity otherwise
    by: str = ""  # a title's author as the message names it beside the title ("night watch by pratchett"), catalog spelling
    byline: tuple[int, int] = ()  # where the word before that author ("by", "do") sits: the reader's word, not the book's
    role: str = ""  # set by understand: "anchor", "but", "like", "dislike", "a", "b"

    @property
    def slot(self) -> str:
        return SLOTS[self.kind]

    @property
    def spans(self) -> tuple[tuple[int, int], ...]:
        """Where its names sit: a title and its author without the byline word between them."""
        return ((self.start, self.byline[0]), (self.byline[1], self.end)) if self.byline else ((self.start, self.end),)


class Linker:
    """Links messages against the catalog a serving index holds; tables are rebuilt when the
    catalog version changes, never per message."""

    def __init__(self, index=None):
        self.index = index  # a ServingIndex, or None for genre, mood and number linking only
        self._tables: CatalogTables | None = None
        self._lock = threading.Lock()

    def link(self, text: str) -> list[Entity]:
        tables = self.tables()
        books = self.index.books if self.index is not None else {}
        return link(text, tables, books)

    def everyday_titles(self, text: str) -> list[Entity]:
        """Titles and series the message names in everyday words that `link` leaves as words
        ("the road", "it", "the other woman"), for a caller that knows a book is being asked
        about. Longest first, then the most read."""
        tables = self.tables()
        tokens = _tokens(text)
        found = [m for m in _exact(tokens, tables, set(), plausible=False) if m.target.kind in ("title", "series")
                 and not _plausible(m.target, tokens, m.first, m.last, tables)]
        found.sort(key=lambda m: (-(m.last - m.first), -m.target.readers))
        kept: list[_Match] = []
        for m in found:  # "the road" and its "road" are one name
            if not any(m.first < k.last and k.first < m.last for k in kept):
                kept.append(m)
        # scored just under an exact match, so callers take the catalog's spelling ("It"), not the reader's "it"
        return [dataclasses.replace(_entity(m, tokens, text), score=99.0) for m in kept]

    def tables(self) -> CatalogTables:
        books = self.index.books if self.index is not None else {}
        key = (id(books), self.index.version if self.index is not None else 0, len(books))
        tables = self._tables
        if tables is None or tables.key != key:
            with self._lock:
                if self._tables is None or self._tables.key != key:
                    self._tables = link_tables.build(key, books)
                tables = self._tables
        return tables


def link(text: str, tables: CatalogTables, books: dict[str, Book]) -> list[Entity]:
    tokens = _tokens(text)
    quoted = _quoted(text, tokens, tables)
    taken = {i for m in quoted for i in range(m.first, m.last)} | _measures(tokens)
    matches = _exact(tokens, tables, taken)
    matches += _fuzzy(tokens, tables, taken)
    chosen = _titles_inside_unknown(quoted + _unknown_names(_select(matches, tokens, tables), tokens, tables, text),
                                    tokens, tables, text)
    covered = {i for m in chosen for i in range(m.first, m.last)}
    chosen += _capitalised_unknown(tokens, covered, tables, text)
    chosen += _unknown_byline(tokens, {i for m in chosen for i in range(m.first, m.last)}, tables, text)
    entities = [_entity(m, tokens, text) for m in chosen]
    covered = {i for m in chosen for i in range(m.first, m.last)}
    for i, token in enumerate(tokens):
        if i not in covered and token.raw.lstrip("#")[:1].isdigit():
            entities.append(Entity("number", token.raw.lstrip("#"), token.raw, token.start, token.end))
    unknown = [e for e in entities if e.kind == "unknown_title"]
    known = [e for e in entities if e.kind != "unknown_title" and (not e.ids or all(i in books for i in e.ids[:1]))]
    entities = sorted(known + unknown, key=lambda e: e.start)
    return _bylines(entities, _everyday_before_byline(entities, tokens, text, tables), tokens, text, books)


def _everyday_before_byline(entities: list[Entity], tokens: list[_Token], text: str, tables: CatalogTables) -> list[Entity]:
    """Titles of two everyday words or more ("night watch") that end right before a byline whose
    author is linked: candidates only, kept by `_bylines` when that author wrote one of their editions."""
    starts = {e.start for e in entities if e.kind == "author"}
    bylines = {i for i in range(1, len(tokens) - 1) if tokens[i].folded in _BYLINE and tokens[i + 1].start in starts}
    if not bylines:
        return []
    taken = {i for i, t in enumerate(tokens) if any(e.start <= t.start < e.end for e in entities)}
    # two words at least: "is it by stephen king?" asks who wrote something, not about the book It
    found = [m for m in _exact(tokens, tables, taken, plausible=False)
             if m.target.kind == "title" and m.last in bylines and m.last - m.first >= 2]
    return [_entity(m, tokens, text) for m in sorted(found, key=lambda m: m.first)]


def _bylines(entities: list[Entity], tentative: list[Entity], tokens: list[_Token], text: str,
             books: dict[str, Book]) -> list[Entity]:
    """A title followed by a byline naming one of its editions' authors ("X by <surname>", "X da
    <full name>"): one entity for that author's book, spanning both, so the author only says which
    book is meant and is no ask of its own. The name after the byline may be a linked author or,
    for a surname too little read to link alone, the surname of one of the title's own authors.
    `tentative` titles (everyday words) are kept only when so qualified."""
    out = list(entities)
    for title in entities + tentative:
        if title.kind != "title" or (title not in out and title not in tentative) or \
                any(e.by and e.start < title.end and title.start < e.end for e in out):
            continue
        at = next((i for i, t in enumerate(tokens) if t.start >= title.end), None)
        if at is None or tokens[at].folded not in _BYLINE or at + 1 >= len(tokens) or tokens[at + 1].clause:
            continue
        named = next((e for e in out if e.kind == "author" and e.start == tokens[at + 1].start), None)
        editions = [i for i in title.ids if i in books]
        names = [(named.name, named.end)] if named else \
            byline_names(tokens[at + 1: at + 4], [a for i in editions for a in books[i].authors])
        for author, end in names:
            mine = tuple(i for i in editions if author in books[i].authors)
            if mine:
                out = [e for e in out if e is not named and e is not title]
                out.append(dataclasses.replace(title, name=books[mine[0]].title, text=text[title.start:end], end=end,
                                               ids=mine, by=author, byline=(tokens[at].start, tokens[at].end), score=100.0))
                break
    return sorted(out, key=lambda e: e.start)


def slotted(text: str, entities: list[Entity]) -> str:
    """The message with every linked span replaced by its slot: "got any {AUTHOR} lying around?"."""
    out, at = [], 0
    for entity in sorted(entities, key=lambda e: e.start):
        out.append(text[at:entity.start])
        out.append(entity.slot)
        at = entity.end
    out.append(text[at:])
    return "".join(out)


def _quoted(text: str, tokens: list[_Token], tables: CatalogTables) -> list[_Match]:
    """A quoted phrase is meant as a title: the catalog's, or one it lacks (never a genre)."""
    out = []
    for m in _QUOTED.finditer(text):
        first = next((i for i, t in enumerate(tokens) if t.start >= m.start("q")), None)
        last = next((i for i, t in reversed(list(enumerate(tokens))) if t.end <= m.end("q")), None)
        if first is None or last is None or last < first:
            continue
        phrase = " ".join(t.folded for t in tokens[first: last + 1])
        found = [t for t in tables.lookup(phrase) if t.kind in ("title", "series", "author")]
        if not found:
            best = _best_fuzzy(phrase, _candidates_for(phrase, tables), tables)
            found = [best[0]] if best and best[1] >= FUZZY_MIN else []
        target = found[0] if found else Target("unknown_title", m.group("q").strip())
        out.append(_Match(target, first, last + 1, 100.0 if found else 0.0))
    return out


def _exact(tokens: list[_Token], tables: CatalogTables, taken: set[int], plausible: bool = True) -> list[_Match]:
    out = []
    width = max(tables.max_words, tables.static.max_words)
    for i in range(len(tokens)):
        for j in range(i + 1, min(len(tokens), i + width) + 1):
            if j - 1 in taken or tokens[j - 1].slot:  # runs from i only grow: stop at the first linked word
                break
            words = [t.folded for t in tokens[i:j]]
            targets = tables.lookup(" ".join(words))
            if not targets and words[-1].endswith("s") and len(words[-1]) > 4:
                # "Tolkien's", or an author's name standing for their books: "3 agatha christies", "two Kings"
                targets = tuple(t for t in tables.lookup(" ".join([*words[:-1], words[-1][:-1]])) if t.kind == "author")
            if not targets and j - i <= 3 and words[-1] not in tables.static.common:
                # an author's name as another language transliterates it: "dostoievski", "tchekhov"
                targets = tables.sounds.get(spelling.sound_key(" ".join(words)), ())
            titles = [t for t in targets if t.kind == "title"][:1]  # the most read of one title's editions
            for target in titles + [t for t in targets if t.kind != "title"]:
                if not plausible or _plausible(target, tokens, i, j, tables):
                    out.append(_Match(target, i, j, 100.0))
    return out


def _plausible(target: Target, tokens: list[_Token], i: int, j: int, tables: CatalogTables) -> bool:
    """Everyday words name a book only when the reader marks them as a name."""
    if target.kind in ("genre", "mood"):
        return not _everyday(tokens, i, j, tables)
    if target.partial:
        return _surname_plausible(target, tokens, i, j, tables, exact=True)
    words = [t.folded for t in tokens[i:j]]
    alone = i == 0 and j == len(tokens) or (i == 1 and j == len(tokens) and tokens[0].folded in ARTICLES)
    capitalised = any(t.raw[:1].isupper() and not t.opens for t in tokens[i:j] if t.folded not in ARTICLES)
    if len(words) == 1 and target.kind in ("title", "series") and not (alone or capitalised) and (0 < target.readers < WELL_READ or (
            not target.readers and tables.rated and words[0].endswith(("ing", "ed")))):
        # one lowercase word and a book known to be little read ("something that'll scare me" is no ask
        # for The Scare); a count the catalog lacks is no small count, but a verb's -ing or -ed form is
        # the sentence's verb before it is an uncounted book ("got me hooked on", "walking south")
        return False
    if any(w not in tables.static.common for w in words) and not (len(words) == 1 and len(words[0]) < 3):
        return True
    return alone or capitalised or (
        len(words) >= 4 and target.kind == "title" and (target.readers >= WELL_READ or not tables.rated))


def _surname_plausible(target: Target, tokens: list[_Token], i: int, j: int, tables: CatalogTables, exact: bool) -> bool:
    """A surname alone names its author when the reader capitalised it or the author is well
    read, and a typo of one only for a well-read author. Right after another name-like word that
    is not the author's first name ("Quillon Marsh", "mirela vasquez") it is someone else."""
    if i > 0 and not tokens[i - 1].slot and tokens[i - 1].raw[:1].isupper() and not tokens[i - 1].opens \
            and tokens[i - 1].folded not in fold(target.name).split():
        return False
    if not tables.rated:  # a catalog without rating counts (the starter one): nobody is better read
        return True
    capitalised = tokens[i].raw[:1].isupper()
    return target.readers >= WELL_READ or (exact and capitalised and target.readers > 0)


def _everyday(tokens: list[_Token], i: int, j: int, tables: CatalogTables) -> bool:
    """A genre or mood word where its neighbours make it an everyday word: "eu curto fantasia"
    (I like), "long time no see", "see ya" (data/linker/homographs.yaml)."""
    rule = tables.static.homographs.get(" ".join(t.folded for t in tokens[i:j]))
    if rule is None:
        return False
    return ((i > 0 and tokens[i - 1].folded in rule.after) or (j < len(tokens) and tokens[j].folded in rule.before)
            or (rule.opens and tokens[i].clause))


def _fuzzy(tokens: list[_Token], tables: CatalogTables, taken: set[int]) -> list[_Match]:
    seeds: dict[str, set[int]] = {}  # catalog phrase -> the positions of words that point to it
    for i, token in enumerate(tokens):
        if i in taken or token.slot or len(token.folded) < 4 or token.folded in tables.static.common:
            continue
        for word in _near_words(token.folded, tables):
            for phrase in tables.postings.get(word, ()):
                seeds.setdefault(phrase, set()).add(i)
    if not seeds:
        return []
    ranked = sorted(seeds, key=lambda p: (-len(seeds[p]), -tables.phrases[p][0].readers))[:MAX_CANDIDATES]
    out = []
    for phrase in ranked:
        hit = _fit(phrase, sorted(seeds[phrase]), tokens, taken, tables.static.common)
        if hit is not None:
            first, last, score = hit
            targets = tables.phrases[phrase]  # a phrase that is a series' name and a title is that title too, as exactly
            for target in [*[t for t in targets if t.kind == "title"][:1], *[t for t in targets if t.kind != "title"][:1]]:
                if target.partial:
                    keep = _surname_plausible(target, tokens, first, last, tables, exact=score >= 100.0)
                else:
                    keep = target.kind not in ("title", "series") or _plausible(target, tokens, first, last, tables)
                if keep:
                    out.append(_Match(target, first, last, score))
    return out


def _near_words(word: str, tables: CatalogTables) -> set[str]:
    """The catalog words `word` is, or is one typo from ("tolkein" -> "tolkien")."""
    if word in tables.postings:
        return {word}
    found = set(tables.deletes.get(word, ()))
    for i in range(len(word)):
        shorter = word[:i] + word[i + 1:]
        if shorter in tables.postings:
            found.add(shorter)
        found.update(tables.deletes.get(shorter, ()))
    limit = 1 if len(word) < 7 else 2
    return {w for w in found if w in tables.postings and OSA.distance(word, w) <= limit}


def _fit(phrase: str, seeds: list[int], tokens: list[_Token], taken: set[int],
         common: frozenset[str]) -> tuple[int, int, float] | None:
    """The run of tokens around `seeds` that best matches `phrase`, whole or as its start."""
    words = phrase.split()
    m = len(words)
    best: tuple[int, int, float] | None = None
    for size in range(max(1, m - 1), m + 2):
        for first in range(max(0, seeds[-1] - size + 1), min(seeds[0], len(tokens) - size) + 1):
            last = first + size
            if any(k in taken or tokens[k].slot for k in range(first, last)):
                continue
            span = " ".join(t.folded for t in tokens[first:last])
            score = _similarity(span, phrase)
            if best is None or score > best[2]:
                best = (first, last, score)
    for size in range(max(2, (m + 1) // 2), m):  # the start of a longer name, two telling words at least
        for first in range(max(0, seeds[-1] - size + 1), min(seeds[0], len(tokens) - size) + 1):
            last = first + size
            if any(k in taken or tokens[k].slot for k in range(first, last)):
                continue
            if sum(t.folded not in common for t in tokens[first:last]) < 2:
                continue
            span = " ".join(t.folded for t in tokens[first:last])
            score = min(_similarity(span, " ".join(words[:size])), PREFIX_SCORE) - (1.0 if size < m - 1 else 0.0)
            if best is None or score > best[2]:
                best = (first, last, score)
    if best is None or best[2] < FUZZY_MIN:
        return None
    first, last, score = best
    # everyday words at the edges belong to the sentence, not the name: "after harry poter..."
    while last - first > 1 and tokens[first].folded in common and tokens[first].folded != words[0]:
        first += 1
    while last - first > 1 and tokens[last - 1].folded in common and tokens[last - 1].folded != words[-1]:
        last -= 1
    return first, last, score


def _similarity(a: str, b: str) -> float:
    if min(len(a), len(b)) <= 6:  # short names: one edit, whatever the ratio says
        return 90.0 if min(len(a), len(b)) >= 5 and " " in b and OSA.distance(a, b) <= 1 else 0.0
    return fuzz.ratio(a, b)


def _candidates_for(phrase: str, tables: CatalogTables) -> list[str]:
    found: dict[str, int] = {}
    for word in phrase.split():
        if len(word) >= 4 and word not in tables.static.common:
            for near in _near_words(word, tables):
                for p in tables.postings.get(near, ()):
                    found[p] = found.get(p, 0) + 1
    return sorted(found, key=lambda p: -found[p])[:MAX_CANDIDATES]


def _best_fuzzy(phrase: str, candidates: list[str], tables: CatalogTables) -> tuple[Target, float] | None:
    scored = [(tables.phrases[p][0], _similarity(phrase, p)) for p in candidates]
    return max(scored, key=lambda s: (s[1], s[0].readers), default=None)


def _select(matches: list[_Match], tokens: list[_Token], tables: CatalogTables) -> list[_Match]:
    """Non-overlapping matches, longest first; on one span an exact match, then a close typo ("agatha cristie": the author,
    not a title's start), then a genre or mood word over a title of the same words unless capitalised, then the most read."""
    def rank(m: _Match):
        capital = any(t.raw[:1].isupper() for t in tokens[m.first:m.last] if t.folded not in ARTICLES)
        kind = _KIND_RANK[m.target.kind] + (10 if capital and m.target.kind in ("genre", "mood") else 0)
        return (-(m.last - m.first), -(m.score >= 100.0), -(m.score >= SWALLOW_MIN), kind, -m.score, -m.target.readers, m.first)

    exact = [m for m in matches if m.score >= 100.0]
    # a typo match must be close to swallow an exact name: "agatha christie que" is no title
    matches = [m for m in matches if m.score >= SWALLOW_MIN or not any(
        e.first < m.last and m.first < e.last for e in exact)]
    chosen: list[_Match] = []
    used: set[int] = set()
    for match in sorted(matches, key=rank):
        span = set(range(match.first, match.last))
        if span & used:
            continue
        chosen.append(match)
        used |= span
    return chosen


def _entity(match: _Match, tokens: list[_Token], text: str) -> Entity:
    start, end = tokens[match.first].start, tokens[match.last - 1].end
    target = match.target
    return Entity(target.kind, target.name, text[start:end], start, end, target.ids, match.score)
