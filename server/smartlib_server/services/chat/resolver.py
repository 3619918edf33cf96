"""Turns a phrase ("Duna", "the hobit", "harry potter", "tolkien") into catalog books.

Stricter than the catalog's search box: a chat answer commits to one book, so a phrase must
match a whole title, series or author name (allowing typos and a missing leading article),
and near-ties become a question instead of a guess.
"""
from __future__ import annotations

import dataclasses
import threading
from collections import defaultdict

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from smartlib_core.domain import Book
from smartlib_core.text import bare_title, fold
from smartlib_server.services.chat import cognates, lexicon
from smartlib_server.services.chat.dominance import WELL_READ, stands_out
from smartlib_server.services.recommend.serving_index import ServingIndex

FUZZY_MIN = 84.0  # whole-phrase similarity a typo may cost on longer phrases
INSIDE_MIN = 90.0  # the same for a phrase found inside a longer title: one typo in about ten letters
TIE_MARGIN = 4.0  # candidates closer than this are a tie worth asking about
MAX_CHOICES = 3  # a question lists at most this many books
# Which of several same-titled books or same-surnamed authors a reader means: dominance.stands_out
# (10 times the ratings of the next, and the next not widely read itself). "Into the Wild" is
# Krakauer's (1.04M ratings, 228th), not the Warriors book (96k, 2014th); "The Power" (Alderman's
# 210k, Byrne's 30k) asks. ("The Hobbit" graphic novel is Tolkien's book in another form: `adapts`.)
# Genres that say a book is a work in another form, by form: an adaptation when its original is in
# none of that form's genres (Anouilh's Antigone is a play as Sophocles' is, so it is no adaptation).
_FORM_FAMILIES = (frozenset({"Graphic Novels", "Graphic Novels Comics", "Comics", "Comic Book", "Comic Strips", "Dc Comics", "Manga"}),
                  frozenset({"Plays", "Theatre", "Musicals", "Drama", "Poetry Plays"}), frozenset({"Film", "Tv"}))
_FORMS = frozenset().union(*_FORM_FAMILIES)
_BROAD = frozenset({"Fiction", "Nonfiction", "Audiobook"})  # shared by unrelated books alike


@dataclasses.dataclass(frozen=True)
class Resolution:
    kind: str  # "book", "series", "author", "ambiguous" or "none"
    books: tuple[Book, ...] = ()  # the book; the series in order; the author's books; the choices
    name: str = ""  # the series or author name as the catalog spells it

    @property
    def book(self) -> Book:
        return self.books[0]


@dataclasses.dataclass
class _Snapshot:
    key: tuple[int, int, int]
    titles: list[str]  # folded bare titles without a leading article, parallel to `title_ids`
    title_ids: list[str]
    series: dict[str, list[str]]  # folded series name without article -> ids in series order
    series_names: dict[str, str]
    authors: dict[str, list[str]]  # folded author -> ids, most popular first
    author_names: dict[str, str]


class TitleResolver:
    def __init__(self, index: ServingIndex):
        self.index = index
        self._snapshot: _Snapshot | None = None
        self._lock = threading.Lock()

    def resolve(self, phrase: str, by: str = "") -> Resolution:
        """`by`: an author the reader named beside the title; their book with that title wins over
        same-titled books and the dominance rules ("night watch by pratchett")."""
        needle = _key(fold(phrase))
        if not needle:
            return Resolution("none")
        snap, books = self._current()
        mapped = lexicon.pt_title_key(fold(phrase)) or lexicon.pt_title_key(needle) or _fuzzy_pt(fold(phrase))
        candidates = [_key(mapped), needle] if mapped else [needle]
        theirs = self._by_author(candidates, by, snap, books) if by else None
        if theirs is not None:
            return Resolution("book", (theirs,))
        for key in candidates:
            found = self._exact(key, snap, books)
            if found:
                return found
        found = self._fuzzy(needle, snap, books)
        if found.kind == "none":  # "os herois do olimpo": a series' Portuguese name, word for word
            found = self._cognate_series(needle, snap, books) or found
        return found

    def _cognate_series(self, needle: str, snap: _Snapshot, books: dict[str, Book]) -> Resolution | None:
        name = cognates.series_named(needle, snap.series, lambda s: sum(books[i].num_ratings for i in snap.series[s] if i in books))
        return Resolution("series", _present(books, snap.series[name]), snap.series_names[name]) if name else None

    def _by_author(self, keys: list[str], by: str, snap: _Snapshot, books: dict[str, Book]) -> Book | None:
        """The author's best-known book whose title is the phrase: exactly, then as the start of a
        longer title, then with a typo."""
        name = _author_match(_key(fold(by)), snap, books)
        theirs = [(_key(bare_title(books[i].title)), books[i]) for i in snap.authors.get(name or "", []) if i in books]
        for fits in (lambda t, k: t == k, lambda t, k: t.startswith(k + " "), lambda t, k: _similarity(t, k) >= FUZZY_MIN):
            found = [book for title, book in theirs if any(fits(title, key) for key in keys)]
            if found:
                return found[0]
        return None

    def _exact(self, key: str, snap: _Snapshot, books: dict[str, Book]) -> Resolution | None:
        same = [snap.title_ids[i] for i, t in enumerate(snap.titles) if t == key]
        same = [i for i in same if i in books]
        if len(same) == 1:
            return Resolution("book", (books[same[0]],))
        if len(same) > 1:
            return _choose(_popular(books, same))
        if key in snap.series:
            return Resolution("series", _present(books, snap.series[key]), snap.series_names[key])
        # "narnia" names "Chronicles of Narnia": every word of the phrase is in one series name.
        words = set(key.split())
        series = [name for name in snap.series if len(key) >= 5 and words <= set(name.split())]
        if len(series) == 1:
            return Resolution("series", _present(books, snap.series[series[0]]), snap.series_names[series[0]])
        author = _author_match(key, snap, books)
        if author:
            return Resolution("author", _present(books, snap.authors[author]), snap.author_names[author])
        return None

    def _fuzzy(self, needle: str, snap: _Snapshot, books: dict[str, Book]) -> Resolution:
        scored: dict[str, float] = {}
        for _title, score, i in process.extract(needle, snap.titles, scorer=_similarity, limit=20, score_cutoff=FUZZY_MIN):
            scored[snap.title_ids[i]] = max(scored.get(snap.title_ids[i], 0.0), score)
        # A phrase that starts a longer title ("the name" -> "The Name of the Wind"): a weaker match.
        if len(needle) >= 4:
            for i, title in enumerate(snap.titles):
                if title.startswith(needle + " "):
                    scored[snap.title_ids[i]] = max(scored.get(snap.title_ids[i], 0.0), 85.0)
        if not scored:
            scored = self._inside_titles(needle, books)
        series = process.extractOne(needle, list(snap.series), scorer=_similarity, score_cutoff=FUZZY_MIN)
        authors = process.extractOne(needle, list(snap.authors), scorer=_similarity, score_cutoff=FUZZY_MIN)
        ranked = sorted(((i, score) for i, score in scored.items() if i in books), key=lambda item: -item[1])
        best_book = ranked[0][1] if ranked else 0.0
        top_title = snap.titles[snap.title_ids.index(ranked[0][0])] if ranked else ""
        if series and series[1] >= best_book and series[0] != top_title:
            key = series[0]
            return Resolution("series", _present(books, snap.series[key]), snap.series_names[key])
        if authors and authors[1] > best_book:
            key = authors[0]
            return Resolution("author", _present(books, snap.authors[key]), snap.author_names[key])
        if not ranked:
            return Resolution("none")
        tied = [book_id for book_id, score in ranked if score > best_book - TIE_MARGIN]
        if len(tied) == 1:
            return Resolution("book", (books[tied[0]],))
        tied_books = _popular(books, tied)
        exact = [b for b in tied_books if _key(bare_title(b.title)) == needle]
        if len(exact) == 1:  # the whole title as typed beats titles it only starts
            return Resolution("book", (exact[0],))
        best = dominant(tied_books)
        if best is not None:
            return Resolution("book", (best,))
        names = {b.series_name for b in tied_books}
        if len(names) == 1 and "" not in names:
            key = _key(fold(tied_books[0].series_name))
            if key in snap.series:
                return Resolution("series", _present(books, snap.series[key]), snap.series_names[key])
        return Resolution("ambiguous", tuple(works(tied_books))[:MAX_CHOICES])

    def _inside_titles(self, needle: str, books: dict[str, Book]) -> dict[str, float]:
        """Books whose longer title holds the phrase almost as typed ("chamber of secrets", "harry
        poter and the chamber"), among the lexical index's best matches for its words."""
        if len(needle) < 8:
            return {}
        found = {}
        for book_id, _ in self.index.lexical.search(needle, 10, "names"):
            title = _key(bare_title(books[book_id].title)) if book_id in books else ""
            score = fuzz.partial_ratio(needle, title) if len(title) > len(needle) else 0.0
            if score >= INSIDE_MIN:
                found[book_id] = score
        return found

    def author(self, phrase: str, loose: bool = True) -> Resolution:
        """An author's books, most popular first: exact name, surname ("king"), possessive
        ("stephen kings") or a one-letter typo; "none" when no author matches. `loose=False`
        skips the runs of words inside a longer phrase."""
        snap, books = self._current()
        key = _key(fold(phrase))
        shared = _shared_surname(key, snap, books) if _author_match(key, snap, books) is None else ()
        if len(shared) >= 2:  # "collins": Suzanne's or Wilkie's? Each author's best-known book stands for them
            return Resolution("ambiguous", shared[:MAX_CHOICES])
        candidates = _author_candidates(key, fold(phrase)) if loose else [key]
        for candidate in candidates:
            name = _author_match(candidate, snap, books)
            if name:
                return Resolution("author", _present(books, snap.authors[name]), snap.author_names[name])
        return Resolution("none")

    def _current(self) -> tuple[_Snapshot, dict[str, Book]]:
        """The lookup tables and the books they were built from. The catalog may change under
        them (catch_up edits the dict in place), so lookups below tolerate missing ids."""
        books = self.index.books
        key = (id(books), self.index.version, len(books))
        snap = self._snapshot
        if snap is not None and snap.key == key:
            return snap, books
        with self._lock:
            if self._snapshot is None or self._snapshot.key != key:
                self._snapshot = _build(key, books)
            return self._snapshot, books


def _build(key: tuple[int, int, int], books: dict[str, Book]) -> _Snapshot:
    titles, title_ids = [], []
    series: dict[str, list[tuple[float, str]]] = defaultdict(list)
    series_names: dict[str, str] = {}
    authors: dict[str, list[str]] = defaultdict(list)
    author_names: dict[str, str] = {}
    for book in list(books.values()):
        titles.append(_key(bare_title(book.title)))
        title_ids.append(book.id)
        if book.series_name:
            name = _key(fold(book.series_name))
            series[name].append((_position(book.series_position), book.id))
            series_names.setdefault(name, book.series_name)
        for author in book.authors:
            name = fold(author)
            authors[name].append(book.id)
            author_names.setdefault(name, author)
    ordered_series = {name: [i for _, i in sorted(members)] for name, members in series.items()}
    by_rank = {name: _popular_ids(books, ids) for name, ids in authors.items()}
    return _Snapshot(key, titles, title_ids, ordered_series, series_names, by_rank, author_names)


def _key(folded: str) -> str:
    return lexicon.strip_article(folded)


def _similarity(a: str, b: str, **kwargs) -> float:
    # Short phrases: one edit (a typo or a swapped pair) is allowed, whatever the ratio says.
    if min(len(a), len(b)) <= 6:
        return 90.0 if OSA.distance(a, b) <= 1 and min(len(a), len(b)) >= 4 else fuzz.ratio(a, b)
    return fuzz.ratio(a, b)


def _author_match(key: str, snap: _Snapshot, books: dict[str, Book]) -> str | None:
    """'tolkien', 'stephen king' or 'j r r tolkien': the phrase must include the surname.
    Several authors share a surname ("king"): the one readers clearly know best wins, else none."""
    if not key:
        return None
    if key in snap.authors:
        return key
    words = key.split()
    matches = [name for name in snap.authors if name.split()[-1:] == words[-1:] and set(words) <= set(name.split())]
    if not matches and len(words) == 1 and len(key) >= 5:  # a first surname: "machado" (de Assis)
        matches = [name for name in snap.authors if key in name.split()[:-1] and len(name.split()) >= 2]
    if not matches and len(key) >= 5:  # a misspelt name: "tolkein", "stephen kng"
        matches = [name for name in snap.authors if len(name.split()) >= len(words)
                   and _similarity(key, " ".join(name.split()[-len(words):])) >= FUZZY_MIN]
    if len(matches) == 1:
        return matches[0]
    return _dominant_author(matches, snap, books)


def _shared_surname(key: str, snap: _Snapshot, books: dict[str, Book]) -> tuple[Book, ...]:
    """The best-known book of each well-read author whose surname the phrase is, most read first:
    a surname several authors readers know share, none standing out (`_dominant_author` said so)."""
    if len(key.split()) != 1:
        return ()
    read = []
    for name, ids in snap.authors.items():
        if name.split()[-1:] == [key]:
            present = [books[i] for i in ids if i in books]
            total = sum(b.num_ratings for b in present)
            if present and total >= WELL_READ:
                read.append((total, present[0]))
    return tuple(book for _, book in sorted(read, key=lambda r: -r[0]))


def _author_candidates(key: str, folded: str) -> list[str]:
    """The phrase as typed, without a possessive s, then its longer runs of words: a name with
    words around it ("stephen king voces") still finds the author."""
    words = key.split()
    found = [key, folded, key[:-1] if key.endswith("s") else key]
    for size in range(len(words) - 1, max(len(words) // 2, 2) - 1, -1):  # two words at least: a lone word is too loose
        found.extend(" ".join(words[i: i + size]) for i in range(len(words) - size + 1))
    return [c for c in dict.fromkeys(found) if len(c) >= 4]


def _dominant_author(names: list[str], snap: _Snapshot, books: dict[str, Book]) -> str | None:
    def readers(name: str) -> int:
        return sum(books[i].num_ratings for i in snap.authors[name] if i in books)

    ranked = sorted(names, key=lambda n: (-readers(n), -len(snap.authors[n])))
    if len(ranked) >= 2 and stands_out(readers(ranked[0]), readers(ranked[1])):
        return ranked[0]
    return None


def dominant(candidates: tuple[Book, ...] | list[Book]) -> Book | None:
    """The candidate a reader most likely means, or None when none clearly stands out.

    Editions and adaptations of one work are one candidate (`works`). Among different works the
    most-rated book must stand out (dominance.stands_out) and not stand lower in the list.
    Without counts (the starter catalog) nobody dominates, and a book whose count the catalog lacks
    may be as read as any (it is no count of zero), so nobody dominates it either:
    "City of Bones" is Clare's or Connelly's, whatever the list says.
    """
    ranked = sorted(works(candidates), key=lambda b: -b.num_ratings)
    if len(ranked) < 2:
        return ranked[0] if ranked else None
    first, second = ranked[0], ranked[1]
    if not first.num_ratings or not second.num_ratings or not stands_out(first.num_ratings, second.num_ratings):
        return None
    if first.list_rank >= 0 and 0 <= second.list_rank < first.list_rank:
        return None
    return first


def works(candidates: tuple[Book, ...] | list[Book]) -> list[Book]:
    """One book per work among the candidates, in their order: books of one title that share an
    author (editions) or of which one adapts the other are one work, shown as its most read."""
    groups: list[list[Book]] = []
    for book in candidates:
        group = next((g for g in groups if any(_same_work(book, b) for b in g)), None)
        if group is None:
            groups.append([book])
        else:
            group.append(book)
    return [max(g, key=lambda b: (b.num_ratings, -(b.list_rank if b.list_rank >= 0 else 10**9))) for g in groups]


def _same_work(a: Book, b: Book) -> bool:
    if _key(fold(bare_title(a.title))) != _key(fold(bare_title(b.title))):
        return False
    return bool(set(a.authors) & set(b.authors)) or adapts(a, b) or adapts(b, a)


def adapts(other: Book, original: Book) -> bool:
    """`other` is `original` in another form: a graphic novel, play or musical (a form the original
    is not) sharing a genre with it beyond the broadest, as the Hobbit graphic novel is Tolkien's
    book. A description that merely names the original ("Dante Alighieri's Inferno" in Dan Brown's)
    is no adaptation."""
    new_form = any(family & set(other.genres) and not family & set(original.genres) for family in _FORM_FAMILIES)
    return new_form and bool((set(other.genres) & set(original.genres)) - _FORMS - _BROAD)


def _choose(candidates: tuple[Book, ...]) -> Resolution:
    best = dominant(candidates)
    if best is not None:
        return Resolution("book", (best,))
    return Resolution("ambiguous", tuple(works(candidates))[:MAX_CHOICES])


def _fuzzy_pt(folded: str) -> str | None:
    hit = process.extractOne(folded, list(lexicon.PT_TITLES), scorer=fuzz.ratio, score_cutoff=90)
    return lexicon.PT_TITLES[hit[0]] if hit else None


def _position(position: str) -> float:
    try:
        return float(position.split("-")[0])
    except ValueError:
        return 1e9


def _present(books: dict[str, Book], ids: list[str]) -> tuple[Book, ...]:
    return tuple(books[i] for i in ids if i in books)


def _popular_ids(books: dict[str, Book], ids: list[str]) -> list[str]:
    ids = [i for i in ids if i in books]
    return sorted(ids, key=lambda i: (books[i].list_rank < 0, books[i].list_rank, -books[i].num_ratings))


def _popular(books: dict[str, Book], ids: list[str]) -> tuple[Book, ...]:
    return tuple(books[i] for i in _popular_ids(books, ids))
