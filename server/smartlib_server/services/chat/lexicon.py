"""Words the agent understands: Portuguese titles, genre names in both languages, moods.

The words themselves are data (data/lexicon/*.yaml), read once at import. Every key is folded
(lower-case, no accents or punctuation; see `text.fold`), so lookups take folded user text.
Titles map to the catalog's English titles, also folded; the resolver still checks the
catalog, so an entry for a book the catalog lacks simply finds nothing.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml

LEXICON_DIR = Path(__file__).resolve().parent / "data" / "lexicon"


def load_yaml(text: str):
    # libyaml's loader when present: ten times faster than the pure-Python one (the lexicon's
    # files took 0.35 s of a start's imports with it)
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader


def _read(name: str):
    return load_yaml((LEXICON_DIR / name).read_text(encoding="utf-8"))


_SYNONYMS = _read("genre_synonyms.yaml")
_LABELS = _read("genre_labels.yaml")
_FUNCTION_WORDS = _read("function_words.yaml")

# Portuguese title -> the catalog's English title: the starter's books, then the 10k catalog's most read
PT_TITLES: dict[str, str] = {**_read("pt_titles_10k.yaml"), **_read("pt_titles.yaml")}
# The adjective of a one-word genre name in -logy, -phy or -tics names that genre too ("political",
# "autobiographical"; "psicológico", "filosófica"): derived, so no word list grows per wording. A word
# the mood tables already read ("philosophical") stays a mood. English -logical is left out: it
# opens the catalog's own compounds ("Psychological Thriller" is no Psychology book).
_ADJECTIVES = {"en": (("phy", "phical"), ("tics", "tical")),
               "pt": (("logia", "logico"), ("logia", "logica"), ("fia", "fico"), ("fia", "fica"), ("tica", "tico"))}
_MOODS = load_yaml((LEXICON_DIR.parent / "linker" / "moods.yaml").read_text(encoding="utf-8"))


def _with_adjectives(table: dict[str, str], language: str) -> dict[str, str]:
    plurals = ("", "s") if language == "pt" else ("",)
    derived = {f"{phrase[:-len(end)]}{adjective}{plural}": genre for phrase, genre in table.items() if " " not in phrase
               for end, adjective in _ADJECTIVES[language] if phrase.endswith(end) for plural in plurals}
    moods = {*_MOODS["en"], *_MOODS["pt"], *_read("mood_words.yaml")["pt"]}
    return {**{word: genre for word, genre in derived.items() if word not in moods}, **table}


EN_GENRES: dict[str, str] = _with_adjectives(_SYNONYMS["en"], "en")  # what readers call a genre -> the catalog's genre name
PT_GENRES: dict[str, str] = _with_adjectives(_SYNONYMS["pt"], "pt")
GENRE_PT: dict[str, str] = _LABELS["pt"]  # catalog genre -> how it reads in a Portuguese answer
PT_WORDS: dict[str, str] = _read("mood_words.yaml")["pt"]  # Portuguese mood and theme words -> English, for the encoder
# Words that carry no topic: dropped before a free-text query is sent to the encoder.
FILLER = frozenset(_FUNCTION_WORDS["filler"])
# Words around an author's name that only ask for their books: "has X written anything", "o que vcs tem do X".
AUTHOR_ASK_WORDS = frozenset(_FUNCTION_WORDS["author_ask"])
VAGUE = FILLER | frozenset(_FUNCTION_WORDS["vague"])  # and the words of a vague ask: "something good to read"
SURPRISE: tuple[str, ...] = tuple(_FUNCTION_WORDS["surprise"])  # phrases asking for a varied pick
FOCUS_WORDS = frozenset(_FUNCTION_WORDS["focus"])  # "this", "esse": the book in focus
JOINERS = frozenset(_FUNCTION_WORDS["joiners"])  # "and", "vs", "x": between two compared books
NEGATIONS = frozenset(_FUNCTION_WORDS["negations"])  # "no", "sem": the genre after them is left out
NEGATION_BRIDGE = frozenset(_FUNCTION_WORDS["negation_bridge"])  # "any", "de": between a negation and its genre
_ORDERS = _read("orders.yaml")
# Words that order a list, by order ("popular", "rating"), and the words that only go with one:
# "of all time", "according to readers" (data/lexicon/orders.yaml).
ORDERS: dict[str, frozenset[tuple[str, ...]]] = {k: frozenset(tuple(p.split()) for p in _ORDERS[k]) for k in ("popular", "rating")}
ORDER_EXTRAS = frozenset(tuple(p.split()) for p in _ORDERS["ever"])
ORDER_LEAD = frozenset(_ORDERS["lead"])  # "the", "com as": taken out with the phrase after them

AUDIENCE: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _FUNCTION_WORDS["audience"].items()}
# An age: "my 8 yr old", "he's 10 years old", "tem 7 anos", "i'm 34" (folded text).
# A child's age stated as a fact: "my nephew is 9", "she just turned 7", "ele tem 8", "fez 10".
_AGE = re.compile(r"\b(\d{1,2}) ?(?:yo|y o|yr|yrs|year|years|anos|aninhos)\b|\b(?:im|i am|tenho) (\d{1,2})\b"
                  r"|\b(?:is|turned|turns|tem|fez|faz|completou) (\d{1,2})\b"
                  r"(?! ?(?:\d|am\b|pm\b|h\b|hours?\b|horas?\b|pages?\b|books?\b|livros?\b|%))")


def audience(folded: str) -> str:
    """Who the reader wants a book for: "children", "teen", "adult" or ""; an age decides first."""
    age = _AGE.search(folded)
    if age:
        years = int(age.group(1) or age.group(2) or age.group(3))
        return "children" if years < 12 else "teen" if years < 18 else "adult"
    text = f" {folded} "
    for group in ("teen", "adult", "children"):  # "young adult" is a teen's book
        if any(f" {phrase} " in text for phrase in AUDIENCE[group]):
            return group
    return ""


_NAME_WORDS = load_yaml((LEXICON_DIR.parent / "linker" / "name_words.yaml").read_text(encoding="utf-8"))
# Articles a title may open with, name suffixes ("Jr", "Filho") and surname particles ("van", "da"): one word set each
ARTICLES, NAME_SUFFIXES, NAME_PARTICLES = (
    frozenset(word for words in (entry.values() if isinstance(entry, dict) else [entry]) for word in words)
    for entry in (_NAME_WORDS["articles"], _NAME_WORDS["name_suffixes"], _NAME_WORDS["name_particles"]))
_ARTICLE = re.compile(rf"^(?:{'|'.join(map(re.escape, sorted(ARTICLES)))})\s+")


def strip_article(folded: str) -> str:
    return _ARTICLE.sub("", folded, count=1)


def genre_phrases(folded: str, language: str) -> list[tuple[str, str]]:
    """(phrase found, catalog genre) pairs in `folded`, longest phrases first, none overlapping.

    Both languages' tables are tried; the answer language only decides which one wins a tie.
    """
    tables = (PT_GENRES, EN_GENRES) if language == "pt" else (EN_GENRES, PT_GENRES)
    found: list[tuple[str, str]] = []
    text = f" {folded} "
    phrases = sorted({p for table in tables for p in table}, key=lambda p: (-len(p), p))
    for phrase in phrases:
        padded = f" {phrase} "
        if padded in text:
            genre = next(table[phrase] for table in tables if phrase in table)
            found.append((phrase, genre))
            text = text.replace(padded, " | ")
    return found


def is_genre_word(word: str) -> bool:
    """Whether a folded word is part of some genre phrase ("science", "fi", "romance")."""
    return word in _GENRE_WORDS


def genre_label(genre: str, language: str) -> str:
    """How a catalog genre reads in a sentence; accepts the lower-cased names memory stores."""
    genre = _CANONICAL.get(genre.lower(), genre)
    if language == "pt":
        return GENRE_PT.get(genre, genre.lower())
    if genre in _EN_LABEL:
        return _EN_LABEL[genre]
    return genre if genre in _PROPER else genre.lower()


_CANONICAL = {name.lower(): name for name in GENRE_PT}
_GENRE_WORDS = frozenset(w for table in (EN_GENRES, PT_GENRES) for phrase in table for w in phrase.split())
_PROPER = frozenset(_LABELS["en_proper"])
_EN_LABEL: dict[str, str] = _LABELS["en"]


def english_query(folded: str, language: str) -> str:
    """Topic words of a request in English, for the text encoder (trained on English)."""
    words = []
    for word in folded.split():
        if language == "pt" and word in PT_WORDS:
            words.append(PT_WORDS[word])
        elif word not in FILLER:
            words.append(word)
    return " ".join(words)


def pt_title_key(folded: str) -> str | None:
    """The English title a Portuguese title stands for, when it is one we know."""
    return PT_TITLES.get(folded)

