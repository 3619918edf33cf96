"""The built-in generator's wording: lists, bylines, ratings and whole answers, in the reader's
language from the message catalogs (messages.py).

Every sentence is built from catalog fields (titles, authors, genres, ratings, descriptions,
series) or from what the recommender returned; nothing here states a fact of its own.
Descriptions stay in English: the catalog has no translations, and the other languages'
answers say so rather than inventing one.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from smartlib_core.domain import Book
from smartlib_core.genres import GENERIC_GENRES  # noqa: F401  (also read as wording.GENERIC_GENRES)
from smartlib_core.text import split_series
from smartlib_server.services.chat.lexicon import genre_label
from smartlib_server.services.chat.messages import Phrasebook, catalog

__all__ = ["GENERIC_GENRES", "Phrasebook", "genre_label"]


def title(book: Book) -> str:
    return split_series(book.title)[0]


def byline(book: Book, language: str) -> str:
    return f"{title(book)} {catalog(language)['word.by']} {join(list(book.authors), language)}"


def count(n: int, language: str) -> str:
    """Small numbers in words ("three"), larger ones in figures."""
    words = catalog(language)["number.words"].split()
    return words[n - 1] if 1 <= n <= len(words) else str(n)


def number(n: int, language: str) -> str:
    """A count with the language's thousands separator: 3,662,325 or 3.662.325."""
    return f"{n:,}".replace(",", catalog(language)["number.thousands"])


def rating(book: Book, language: str) -> str:
    if not book.avg_rating:
        return ""
    return f"{book.avg_rating:.2f}".replace(".", catalog(language)["number.decimal"])


def decimal(value: float, language: str) -> str:
    return f"{value:.2f}".replace(".", catalog(language)["number.decimal"])


def genres(book: Book, language: str, limit: int = 3, specific: bool = True) -> str:
    names = [g for g in book.genres if not specific or g not in GENERIC_GENRES] or list(book.genres)
    return join([genre_label(g, language) for g in names[:limit]], language)


def labels(names: Sequence[str], language: str) -> str:
    """Catalog genres (or the lower-cased names memory keeps) as a phrase: "fantasy and horror"."""
    return join([genre_label(g, language) for g in names], language)


def join(items: Sequence[str], language: str) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {catalog(language)['word.and']} " + items[-1]


def series_note(book: Book, language: str) -> str:
    if not book.series_name:
        return ""
    messages = catalog(language)
    if not book.series_position:
        return messages["series.part_of"].format(series=book.series_name)
    if language == "en" and not book.series_name.lower().startswith("the "):  # "book 2 of the Dune series"
        return messages["series.book_of_the"].format(position=book.series_position, series=book.series_name)
    return messages["series.book_of"].format(position=book.series_position, series=book.series_name)


# The recommender explains in English; these are its fixed phrases, rendered per language:
# (pattern, message key, whether the captured text is a list of genres to translate).
_REASONS = [
    (re.compile(r"^same series: (.+)$"), "reason.same_series", False),
    (re.compile(r"^same author: (.+)$"), "reason.same_author", False),
    (re.compile(r"^shares genres: (.+)$"), "reason.shares_genres", True),
    (re.compile(r"^matches your words and close to your description \((.+)\)$"), "reason.words_and_description_of", True),
    (re.compile(r"^matches your words and close to your description$"), "reason.words_and_description", False),
    (re.compile(r"^matches your words$"), "reason.your_words", False),
    (re.compile(r"^matches (.+)$"), "reason.matches", True),
    (re.compile(r"^close to your description \((.+)\)$"), "reason.close_to_description_of", True),
    (re.compile(r"^close to your description$"), "reason.close_to_description", False),
    (re.compile(r"^similar description and themes$"), "reason.similar_description", False),
]


def reason(text: str, language: str) -> str:
    """The recommender's English reason in the reader's language."""
    if language == "en":
        return text
    for pattern, key, genre_list in _REASONS:
        match = pattern.match(text)
        if match:
            value = match.group(1) if match.groups() else ""
            if genre_list:
                value = ", ".join(genre_label(part.strip(), language) for part in value.split(","))
            return catalog(language)[key].format(what=value)
    return text


def numbered(items: Sequence[tuple[Book, str]], language: str) -> str:
    lines = []
    for position, (book, why) in enumerate(items, 1):
        stars = rating(book, language)
        extra = f", {stars}★" if stars else ""
        lines.append(f"{position}. {byline(book, language)}{extra} ({reason(why, language)})")
    return "\n".join(lines)


def standing(book: Book, language: str) -> str:
    """'4.28★, 3,662,325 ratings': what tells two same-titled books apart (no years in the catalog)."""
    stars = rating(book, language)
    if not stars:
        return ""
    if not book.num_ratings:
        return f"{stars}★"
    return f"{stars}★, " + catalog(language)["word.ratings"].format(count=number(book.num_ratings, language))


# -- whole answers -------------------------------------------------------------------------------

def greeting(p: Phrasebook, liked: Sequence[Book], genres_seen: Sequence[str]) -> str:
    if liked:
        return p.t("greet.back_liked", books=join([title(b) for b in liked[:2]], p.language))
    if genres_seen:
        return p.t("greet.back_genres", genres=labels(genres_seen[:2], p.language))
    return p.t("greet.new")


def help_text(p: Phrasebook) -> str:
    return p.t("help")


def about_book(p: Phrasebook, book: Book, siblings: Sequence[Book]) -> str:
    parts = [f"{byline(book, p.language)}."]
    facts = []
    note = series_note(book, p.language)
    if note:
        facts.append(note[0].upper() + note[1:])
    if book.genres:
        facts.append(p.t("about.genres", genres=genres(book, p.language, 4, specific=False)))
    stars = rating(book, p.language)
    if stars:
        votes = f" ({p.t('word.ratings', count=number(book.num_ratings, p.language))})" if book.num_ratings else ""
        facts.append(p.t("about.rating", stars=stars, votes=votes))
    if facts:
        parts.append(". ".join(facts) + ".")
    if book.description:
        parts.append(p.t("about.description", description=book.description))
    others = [b for b in siblings if b.id != book.id]
    if others:
        parts.append(p.t("about.same_series", books=join([title(b) for b in others[:4]], p.language)))
    parts.append(p.t("about.offer"))
    return "\n\n".join(parts)


def about_series(p: Phrasebook, name: str, books: Sequence[Book]) -> str:
    authors = join(list(dict.fromkeys(a for b in books for a in b.authors[:1])), p.language)
    listed = "\n".join(f"{i}. {title(b)}" + (f" (#{b.series_position})" if b.series_position else "") +
                       (f", {rating(b, p.language)}★" if b.avg_rating else "") for i, b in enumerate(books, 1))
    head = p.t("about.series", series=name, authors=authors, count=count(len(books), p.language))
    first = books[0]
    lead = p.t("about.series_start", title=title(first), description=first.description) if first.description else ""
    ask = p.t("about.series_offer")
    return "\n\n".join(x for x in (f"{head}\n{listed}", lead, ask) if x)


def about_author(p: Phrasebook, name: str, books: Sequence[Book]) -> str:
    top = books[:6]
    genre_names = common_genres(top, p.language)
    listed = "\n".join(f"{i}. {title(b)}" + (f", {rating(b, p.language)}★" if b.avg_rating else "") for i, b in enumerate(top, 1))
    mostly = p.t("about.mostly", genres=genre_names) if genre_names else ""
    head = p.t("about.author_one" if len(books) == 1 else "about.author", count=count(len(books), p.language), author=name, mostly=mostly)
    return f"{head}\n{listed}\n\n{p.t('about.author_offer')}"


def ambiguous(p: Phrasebook, phrase: str, books: Sequence[Book]) -> str:
    listed = "\n".join(f"{i}. {byline(b, p.language)}" + (f" ({standing(b, p.language)})" if b.avg_rating else "")
                       for i, b in enumerate(books, 1))
    return p.t("ask.which", phrase=phrase, listed=listed)


def not_found(p: Phrasebook, phrase: str) -> str:
    return p.t("not_found", phrase=phrase)


def recommendations(p: Phrasebook, items: Sequence[tuple[Book, str]], intro: str, note: str = "") -> str:
    if not items:
        return p.t("list.empty")
    closing = p.t("list.closing")
    return "\n\n".join(x for x in (intro, numbered(items, p.language), note, closing) if x)


def intro_similar(p: Phrasebook, book: Book, n: int) -> str:
    return p.t("intro.similar", title=title(book), count=count(n, p.language))


def intro_genre(p: Phrasebook, genre_names: Sequence[str], topic: str, n: int, sort: str = "",
                exclude: Sequence[str] = ()) -> str:
    label = labels(genre_names, p.language)
    without = p.t("intro.without", genres=labels(exclude, p.language)) if exclude else ""
    if sort:
        about = p.t("intro.about", topic=topic) if topic else ""
        key = "intro.best_rated" if sort == "rating" else "intro.most_read"
        return p.t(key + ("_genre" if label else ""), genres=label, about=about, without=without)
    if without:
        return p.t("intro.picks_without", count=count(n, p.language), what=label or topic, without=without)
    if label and topic:
        return p.t("intro.genre_topic", count=count(n, p.language), genres=label, topic=topic)
    if label:
        return p.t("intro.genre", count=count(n, p.language), genres=label)
    return p.t("intro.topic", topic=topic)


def common_genres(books: Sequence[Book], language: str) -> str:
    counts: dict[str, int] = {}
    for book in books:
        for genre in book.genres:
            if genre not in GENERIC_GENRES:
                counts[genre] = counts.get(genre, 0) + 1
    top = sorted(counts, key=lambda g: -counts[g])[:2]
    return labels(top, language)
