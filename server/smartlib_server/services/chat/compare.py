"""A structured comparison of two catalog books: genres, themes, ratings, length, series.

Themes are only those whose words appear in the book's own catalog description, so the
comparison never claims a theme the catalog does not support.
"""
from __future__ import annotations

import dataclasses
import re

import numpy as np

from smartlib_core.domain import Book
from smartlib_server.services.chat import words
from smartlib_server.services.chat.lexicon import genre_label
from smartlib_server.services.chat.wording import GENERIC_GENRES, Phrasebook, decimal, join, rating, title

# theme -> the words that reveal it in a description (data/words/themes.yaml); its name per
# language is message theme.<key>
THEMES: dict[str, list[str]] = words.table("themes")["themes"]
_PATTERNS = {key: words.whole_words(phrases, re.IGNORECASE) for key, phrases in THEMES.items()}


@dataclasses.dataclass(frozen=True)
class Comparison:
    a: Book
    b: Book
    shared_genres: tuple[str, ...]
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]
    themes_a: tuple[str, ...]  # theme keys
    themes_b: tuple[str, ...]
    similarity: float | None  # cosine of the two books' vectors, when both have one


def themes(book: Book) -> tuple[str, ...]:
    return tuple(key for key, pattern in _PATTERNS.items() if pattern.search(book.description))


def compare(a: Book, b: Book, vector_a: np.ndarray | None, vector_b: np.ndarray | None) -> Comparison:
    genres_a = [g for g in a.genres if g not in GENERIC_GENRES] or list(a.genres)
    genres_b = [g for g in b.genres if g not in GENERIC_GENRES] or list(b.genres)
    shared = tuple(g for g in a.genres if g in set(b.genres))
    similarity = None
    if vector_a is not None and vector_b is not None:
        similarity = float(np.dot(vector_a, vector_b) / (np.linalg.norm(vector_a) * np.linalg.norm(vector_b) or 1.0))
    return Comparison(
        a, b, shared,
        tuple(g for g in genres_a if g not in set(b.genres)),
        tuple(g for g in genres_b if g not in set(a.genres)),
        themes(a), themes(b), similarity,
    )


def render(p: Phrasebook, c: Comparison) -> str:
    lang = p.language
    ta, tb = title(c.a), title(c.b)

    def genre_names(names) -> str:
        return join([genre_label(g, lang) for g in names], lang) or p.t("compare.none")

    def theme_names(keys) -> str:
        return join([p.t(f"theme.{k}") for k in keys[:5]], lang) or p.t("compare.none")

    common_themes = [k for k in c.themes_a if k in c.themes_b]
    lines = [
        p.t("compare.head", a=ta, b=tb),
        p.t("compare.authors", a=join(c.a.authors, lang), b=join(c.b.authors, lang)),
        p.t("compare.genres", shared=genre_names(c.shared_genres), a=ta, only_a=genre_names(c.only_a), b=tb, only_b=genre_names(c.only_b)),
        p.t("compare.themes", a=ta, themes_a=theme_names(c.themes_a), b=tb, themes_b=theme_names(c.themes_b))
        + (" " + p.t("compare.both", themes=theme_names(common_themes)) if common_themes else ""),
        _ratings(p, c),
        p.t("compare.length"),
    ]
    series = [p.t("compare.series_of", title=title(b), where=f" #{b.series_position}" if b.series_position else "", series=b.series_name)
              for b in (c.a, c.b) if b.series_name]
    if series:
        lines.append(p.t("compare.series", series="; ".join(series)))
    if c.similarity is not None:
        lines.append(p.t("compare.closeness", how=p.t(f"compare.{_closeness(c.similarity)}"), value=decimal(c.similarity, lang)))
    return "\n".join(lines)


def _ratings(p: Phrasebook, c: Comparison) -> str:
    ra, rb = rating(c.a, p.language), rating(c.b, p.language)
    if not (ra and rb):
        return p.t("compare.ratings_unknown")
    diff = c.a.avg_rating - c.b.avg_rating
    if abs(diff) < 0.05:
        verdict = p.t("compare.rated_same")
    else:
        verdict = p.t("compare.rated_higher", title=title(c.a) if diff > 0 else title(c.b))
    return p.t("compare.ratings", a=ra, b=rb, verdict=verdict)


def _closeness(similarity: float) -> str:
    if similarity >= 0.7:
        return "very_similar"
    if similarity >= 0.45:
        return "fairly_similar"
    if similarity >= 0.25:
        return "somewhat_related"
    return "quite_different"
