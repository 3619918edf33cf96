"""The lookup tables entity linking matches against (see linker.py).

Two layers. `static_tables()` holds what does not depend on the catalog: genre words (the
lexicon's tables), mood words, Portuguese titles and aliases (which name English catalog
titles), and the common words a title or surname alone must not be taken for. `CatalogTables`
adds the catalog's titles, series and authors; it is built once per catalog version.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections import defaultdict
from pathlib import Path

from smartlib_core.domain import Book
from smartlib_core.text import bare_title, fold, split_series
from smartlib_server.services.chat import lexicon, spelling
from smartlib_server.services.chat.dominance import WELL_READ, stands_out
from smartlib_server.services.chat.lexicon import load_yaml  # noqa: F401 (also read from here by other modules)

DATA = Path(__file__).parent / "data"
ARTICLES, SUFFIXES, PARTICLES = lexicon.ARTICLES, lexicon.NAME_SUFFIXES, lexicon.NAME_PARTICLES  # data/linker/name_words.yaml
SLOT = re.compile(r"\{[A-Z]+\}")
TOO_COMMON = 400  # a word in more catalog names than this seeds no fuzzy match
# Words for books themselves ("novels", "livros"), from data/roles.yaml
_BOOK_WORDS = frozenset(load_yaml((DATA / "roles.yaml").read_text(encoding="utf-8"))["book_words"])


@dataclasses.dataclass(frozen=True)
class Target:
    """What a phrase names: one title (with its editions), a series, an author, a genre or a mood."""

    kind: str  # "title", "series", "author", "genre" or "mood"
    name: str  # the catalog's spelling, the catalog genre, or the English mood words
    ids: tuple[str, ...] = ()  # book ids: a title's editions or an author's books by popularity, a series in order
    readers: int = 0  # ratings summed over `ids`: breaks ties between targets of one phrase
    partial: bool = False  # an author's surname alone


@dataclasses.dataclass(frozen=True)
class Homograph:
    """Where a genre or mood word is an everyday word instead (data/linker/homographs.yaml)."""

    after: frozenset[str] = frozenset()  # the word before it makes it everyday: "eu curto", "see ya"
    before: frozenset[str] = frozenset()  # the word after it does: "long time", "short description"
    opens: bool = False  # opening a clause it is everyday: "curto muito mistério" (I like)


@dataclasses.dataclass(frozen=True)
class StaticTables:
    phrases: dict[str, tuple[Target, ...]]  # genres and moods, folded
    renames: dict[str, str]  # Portuguese titles and aliases -> the catalog's folded title or series
    common: frozenset[str]
    max_words: int
    homographs: dict[str, Homograph] = dataclasses.field(default_factory=dict)  # folded genre or mood phrase ->
    function: frozenset[str] = frozenset()  # the function words alone (common_words.txt), without the corpus's vocabulary


@dataclasses.dataclass
class CatalogTables:
    key: tuple[int, int, int]
    static: StaticTables
    phrases: dict[str, tuple[Target, ...]]  # folded titles, series and author names (and surnames)
    postings: dict[str, tuple[str, ...]]  # a word -> the catalog phrases holding it, for fuzzy matching
    deletes: dict[str, tuple[str, ...]]  # a word with one letter deleted -> the vocabulary words it comes from
    max_words: int
    rated: bool = True  # the catalog has rating counts, so how well read a name is can weigh in
    # the catalog's own genre names the lexicon lacks, in words no everyday ask uses ("werewolves",
    # "world war ii"), singular too: read after the intent model (Linker.catalog_genres)
    genres: dict[str, str] = dataclasses.field(default_factory=dict)
    sounds: dict[str, tuple[Target, ...]] = dataclasses.field(default_factory=dict)  # an author name's sound_key -> authors

    def lookup(self, phrase: str) -> tuple[Target, ...]:
        # both layers: "terror" and "mysteries" are catalog titles too, and the linker's
        # selection decides which the reader meant (a genre, unless a title is capitalised)
        return self.phrases.get(phrase, ()) + self.static.phrases.get(phrase, ())


@functools.cache
def static_tables() -> StaticTables:
    phrases: dict[str, list[Target]] = defaultdict(list)
    for table in (lexicon.EN_GENRES, lexicon.PT_GENRES):
        for phrase, genre in table.items():
            target = Target("genre", genre)
            if target not in phrases[phrase]:
                phrases[phrase].append(target)
    for phrase, genre in [*lexicon.EN_GENRES.items(), *lexicon.PT_GENRES.items()]:
        # a genre said as a kind of book in the plural is said in the singular too: "historical
        # novels" and "a historical novel", "love stories" and "a love story"
        form = _one_book(phrase)
        if form and form not in phrases:
            phrases[form].append(Target("genre", genre))
    common = set(_words_file(DATA / "linker" / "common_words.txt"))
    for phrase, genre in lexicon.PT_GENRES.items():  # "dragao" and "eroticas" as well as "dragoes" and "erotico"
        for form in _pt_forms(phrase):
            if form not in phrases and form not in lexicon.EN_GENRES and form not in common:
                phrases[form].append(Target("genre", genre))
    moods = load_yaml((DATA / "linker" / "moods.yaml").read_text(encoding="utf-8"))
    for table in moods.values():
        for phrase, english in table.items():
            if fold(phrase) not in phrases:  # "funny" is a genre first (Humor)
                phrases[fold(phrase)].append(Target("mood", english))
    renames = {fold(k): fold(v) for k, v in lexicon.PT_TITLES.items()}
    aliases = load_yaml((DATA / "linker" / "aliases.yaml").read_text(encoding="utf-8"))
    renames.update({fold(k): fold(v) for k, v in aliases.items()})
    common |= corpus_vocabulary()
    longest = max(len(p.split()) for p in [*phrases, *renames])
    homographs = {fold(phrase): Homograph(frozenset(map(fold, rule.get("after", ()))), frozenset(map(fold, rule.get("before", ()))),
                                          bool(rule.get("opens", False)))
                  for phrase, rule in load_yaml((DATA / "linker" / "homographs.yaml").read_text(encoding="utf-8")).items()}
    function = frozenset(_words_file(DATA / "linker" / "common_words.txt"))
    return StaticTables({k: tuple(v) for k, v in phrases.items()}, renames, frozenset(common), longest, homographs, function)


def _one_book(phrase: str) -> str:
    """A phrase of two words or more ending in a word for books in the plural (data/roles.yaml
    `book_words`), with that word in the singular; "" for any other phrase."""
    words = phrase.split()
    if len(words) < 2 or words[-1] not in _BOOK_WORDS or not words[-1].endswith("s"):
        return ""
    last = words[-1]
    return " ".join([*words[:-1], last[:-3] + "y" if last.endswith("ies") else last[:-1]])


def _pt_forms(phrase: str) -> list[str]:
    """The other number and gender of a one-word Portuguese genre noun or adjective: singular and
    plural (-ão/-ões, -l/-is, -s), masculine and feminine (-o/-a). A gender made up for a noun
    that has none may be another word, so one that readers use in asks that take no genre ("me
    conta mais sobre", "como peço") is left out: "contos" gives "conto", never "conta"."""
    if " " in phrase or len(phrase) < 5:
        return []
    stems = {phrase}
    if phrase.endswith("oes"):
        stems.add(phrase[:-3] + "ao")
    elif phrase.endswith("ao"):
        stems.add(phrase[:-2] + "oes")
    if phrase.endswith("s") and not phrase.endswith("oes"):
        stems.add(phrase[:-1])
    elif phrase[-1] in "oa":
        stems.add(phrase + "s")
    gendered = set()
    for stem in stems:
        plural = "s" if stem.endswith("s") else ""
        body = stem[:-1] if plural else stem
        if body.endswith("ao") or body[-1:] not in ("o", "a"):
            continue
        gendered.add(body[:-1] + ("a" if body.endswith("o") else "o") + plural)
    everyday = words_of_labels(NO_GENRE)
    return sorted((stems | {form for form in gendered if form not in everyday}) - {phrase})


# Labels of asks that never take a genre: a word readers use there is an everyday word.
NO_GENRE = frozenset({"greet", "thanks_bye", "help", "off_topic", "nonsense", "about_book", "who_wrote", "pick", "why",
                      "series_order", "series_next", "compare"})


@functools.cache
def corpus_vocabulary() -> frozenset[str]:
    """Every word readers used in the intent corpus outside a slot: words people ask with,
    which a one-word title or a bare surname must not be mistaken for."""
    return frozenset(w for _, _, words in _corpus() for w in words)


@functools.cache
def corpus_words() -> dict[str, dict[str, int]]:
    """How often each folded word outside a slot occurs in the intent corpus, per language ("en",
    "pt"), leaving out the nonsense asks (keyboard mash is no language): the language detector's
    evidence beyond function words."""
    out: dict[str, dict[str, int]] = {}
    for language, label, words in _corpus():
        if label == "nonsense":
            continue
        counts = out.setdefault(language, {})
        for word in words:
            counts[word] = counts.get(word, 0) + 1
    return out


@functools.cache
def words_of_labels(labels: frozenset[str]) -> frozenset[str]:
    """The words readers used in the corpus's asks of these labels."""
    return frozenset(w for _, label, words in _corpus() if label in labels for w in words)


@functools.cache
def _corpus() -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """(language, label, folded words outside slots) per corpus utterance."""
    # read here rather than through intent_model, which imports this module's load_yaml
    out = []
    for path in sorted((DATA / "corpus").glob("intents_*.yaml")):
        data = load_yaml(path.read_text(encoding="utf-8"))
        language = str(data.get("language") or path.stem.rsplit("_", 1)[-1])
        for family in data["families"]:
            out.extend((language, family["intent"], tuple(fold(SLOT.sub(" ", text)).split())) for text in family["utterances"])
    return tuple(out)


def build(key: tuple[int, int, int], books: dict[str, Book]) -> CatalogTables:
    static = static_tables()
    titles: dict[str, list[str]] = defaultdict(list)
    series: dict[str, list[tuple[float, str]]] = defaultdict(list)
    series_names: dict[str, str] = {}
    authors: dict[str, list[str]] = defaultdict(list)
    author_names: dict[str, str] = {}
    for book in list(books.values()):
        titles[bare_title(book.title)].append(book.id)
        if book.series_name:
            name = fold(book.series_name)
            series[name].append((_position(book.series_position), book.id))
            series_names.setdefault(name, book.series_name)
        for author in book.authors:
            authors[fold(author)].append(book.id)
            author_names.setdefault(fold(author), author)

    def readers(ids) -> int:
        return sum(books[i].num_ratings for i in ids)

    phrases: dict[str, list[Target]] = defaultdict(list)
    author_sounds = {spelling.sound_key(k) for name in authors for k in (name, name.split()[-1])} - {""}
    for title, ids in titles.items():
        ordered = _popular(books, ids)
        target = Target("title", books[ordered[0]].title, tuple(ordered), readers(ids))
        head = _main_title(books[ordered[0]].title, static.common)
        if head in authors or spelling.sound_key(head) in author_sounds:
            # "Agatha Christie: An Autobiography" is no "agatha christie", "Dostoievski: ..." no Dostoevsky
            head = ""
        for variant in _variants(title) + _within_series(title, books[ordered[0]].series_name, static.common) + _variants(head):
            if target not in phrases[variant]:
                phrases[variant].append(target)
    for name, members in series.items():
        ids = tuple(i for _, i in sorted(members))
        target = Target("series", series_names[name], ids, readers(ids))
        for variant in _variants(name):
            phrases[variant].append(target)
        head = spelling.series_head(name)  # "the earthsea books": the Earthsea Cycle
        if head and head not in phrases and head not in authors and not all(w in static.common for w in head.split()):
            for variant in _variants(head):
                phrases[variant].append(target)
    surnames: dict[str, list[Target]] = defaultdict(list)
    first_names: dict[str, int] = defaultdict(int)  # readers of authors with this first name
    for name, ids in authors.items():
        target = Target("author", author_names[name], tuple(_popular(books, ids)), readers(ids))
        phrases[name].append(target)
        plain = _without_suffix(name.split())  # "kurt vonnegut jr" is "kurt vonnegut"
        if plain != name.split():
            phrases[" ".join(plain)].append(target)
        words = [w for w in plain if len(w) > 1]  # "j r r tolkien" -> "tolkien"
        if len(words) >= 3:
            phrases[f"{words[0]} {words[-1]}"].append(target)  # "george martin"
            # a two-word surname without the first name: "garcia marquez", "conan doyle"
            surnames[" ".join(words[-2:])].append(dataclasses.replace(target, partial=True))
        first_names[plain[0]] += target.readers
        surname = _surname(plain)
        if surname and surname != name:
            surnames[surname].append(dataclasses.replace(target, partial=True))
    for surname, targets in surnames.items():
        if surname in static.common or len(surname) < 4 or surname in phrases:
            continue
        if first_names.get(surname, 0) > max(t.readers for t in targets):  # "harry" is Potter's, not Lilian Harry
            continue
        ranked = sorted(targets, key=lambda t: -t.readers)
        if len(ranked) == 1 or stands_out(ranked[0].readers, ranked[1].readers):
            phrases[surname].append(ranked[0])
        elif ranked[1].readers >= WELL_READ:
            # several authors readers know share it ("collins"): the surname as typed names them all,
            # and the resolver asks which (its `name` is the surname, so no one author is chosen here)
            shared = [t for t in ranked if t.readers >= WELL_READ]
            phrases[surname].append(Target("author", shared[0].name.split()[-1], tuple(t.ids[0] for t in shared if t.ids),
                                           sum(t.readers for t in shared), partial=True))
    for alias, target_key in static.renames.items():
        if target_key in phrases and alias not in phrases:
            phrases[alias] = [t for t in phrases[target_key] if t.kind in ("title", "series")]
    final = {k: tuple(sorted(v, key=lambda t: -t.readers)) for k, v in phrases.items() if v}
    postings: dict[str, list[str]] = defaultdict(list)
    for phrase in final:
        for word in set(phrase.split()):
            if word not in static.common and len(word) >= 3:
                postings[word].append(phrase)
    deletes: dict[str, list[str]] = defaultdict(list)
    for word in postings:
        if len(word) >= 4:
            for i in range(len(word)):
                deletes[word[:i] + word[i + 1:]].append(word)
    longest = max((len(p.split()) for p in final), default=1)
    return CatalogTables(key, static, final, {w: tuple(p) for w, p in postings.items() if len(p) <= TOO_COMMON},
                         {k: tuple(v) for k, v in deletes.items()}, min(longest, 14),
                         any(b.num_ratings for b in books.values()), _genre_names(books, static),
                         _sounds(final))


def _genre_names(books: dict[str, Book], static: StaticTables) -> dict[str, str]:
    """Folded catalog genre names (and their singular) the lexicon lacks, unless every word of one
    is an everyday word ("Love", "School", "Food") or a one-word name is shorter than five letters."""
    out: dict[str, str] = {}
    for genre in {g for book in list(books.values()) for g in book.genres}:
        name = fold(genre)
        words = name.split()
        if not words or name in static.phrases or all(w in static.common for w in words) or (len(words) == 1 and len(name) < 5):
            continue
        last = words[-1]
        singular = last[:-3] + "f" if last.endswith("ves") else last[:-3] + "y" if last.endswith("ies") else \
            last[:-1] if last.endswith("s") and not last.endswith("ss") else last
        for form in {name, " ".join([*words[:-1], singular]), *_numerals(name)}:
            if form not in static.phrases and not (len(form.split()) == 1 and form in static.common):
                out.setdefault(form, genre)
    return out


# A numeral in a catalog name as readers also write it ("world war ii": "world war two", "world war 2").
_NUMERALS = {"ii": ("2", "two"), "iii": ("3", "three"), "iv": ("4", "four"), "v": ("5", "five"), "vi": ("6", "six"),
             "vii": ("7", "seven"), "viii": ("8", "eight"), "ix": ("9", "nine"), "x": ("10", "ten")}


def _numerals(name: str) -> list[str]:
    """A name with its last Roman numeral written as a digit and as an English number word."""
    words = name.split()
    if len(words) < 2 or words[-1] not in _NUMERALS:
        return []
    return [" ".join([*words[:-1], other]) for other in _NUMERALS[words[-1]]]


def _sounds(phrases: dict[str, tuple[Target, ...]]) -> dict[str, tuple[Target, ...]]:
    """Author names and surnames by their transliteration key (spelling.sound_key), most read first."""
    found: dict[str, list[Target]] = defaultdict(list)
    for phrase, targets in phrases.items():
        key = spelling.sound_key(phrase)
        if key:
            found[key].extend(t for t in targets if t.kind == "author" and t not in found[key])
    return {k: tuple(sorted(v, key=lambda t: -t.readers)) for k, v in found.items() if v}


def _variants(folded: str) -> list[str]:
    """A name as typed and without its leading article ("the hobbit", "hobbit")."""
    words = folded.split()
    if len(words) >= 2 and words[0] in ARTICLES:
        return [folded, " ".join(words[1:])]
    return [folded] if folded else []


def _main_title(title: str, common: frozenset[str]) -> str:
    """A title without its subtitle, as readers say it: "Moby-Dick or, the Whale" is "moby dick",
    "Sapiens: A Brief History of Humankind" is "sapiens"; "" when nothing follows one, or what is
    left is only everyday words."""
    head = re.split(r":|;|,? or,? ", split_series(title)[0], maxsplit=1)
    if len(head) < 2:
        return ""
    folded = fold(head[0])
    words = folded.split()
    if not words or all(w in common for w in words) or len(folded) < 4:
        return ""
    return folded


def _within_series(title: str, series: str, common: frozenset[str]) -> list[str]:
    """"harry potter and the goblet of fire" is also "the goblet of fire": readers drop the series
    name a title starts with, when what is left is no everyday phrase."""
    lead = f"{fold(series)} and " if series else ""
    if not lead or not title.startswith(lead):
        return []
    rest = title[len(lead):]
    if len(rest.split()) < 2 or all(w in common for w in rest.split()):
        return []
    return _variants(rest)


def _without_suffix(words: list[str]) -> list[str]:
    """A name without the generational suffix readers leave out: "jr", "sr", "iii"."""
    while len(words) > 2 and words[-1] in SUFFIXES:
        words = words[:-1]
    return words


def _surname(words: list[str]) -> str:
    if len(words) < 2:
        return ""
    if len(words) >= 3 and words[-2] in PARTICLES:  # "ursula k le guin" -> "le guin"
        return " ".join(words[-2:])
    return words[-1]


def _words_file(path: Path) -> list[str]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return " ".join(lines).split()


def _position(position: str) -> float:
    try:
        return float(position.split("-")[0])
    except ValueError:
        return math.inf


def _popular(books: dict[str, Book], ids: list[str]) -> list[str]:
    return sorted(ids, key=lambda i: (books[i].list_rank < 0, books[i].list_rank, -books[i].num_ratings))

