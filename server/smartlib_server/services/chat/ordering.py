"""Orders for "best rated" and "most popular" asks, the tone of a book for "less dark", and its
length for "shorter".

Only catalog fields are used: average rating, number of ratings, list position, genres and
the words of the description.
"""
from __future__ import annotations

import re

from smartlib_core.domain import Book
from smartlib_server.services.chat import words

# A rating means more with more raters: the average is shrunk toward PRIOR_MEAN as if
# PRIOR_VOTES more readers had given it, so 4.6 from 40 readers ranks below 4.5 from 2M.
PRIOR_VOTES = 10_000
PRIOR_MEAN = 3.9


def rating_score(book: Book) -> float:
    if not book.num_ratings:  # counts unknown (the starter catalog): the average alone
        return book.avg_rating
    n = book.num_ratings
    return (n * book.avg_rating + PRIOR_VOTES * PRIOR_MEAN) / (n + PRIOR_VOTES)


def popularity_key(book: Book) -> tuple:
    """Most read first: more ratings, then a better list position."""
    return (-book.num_ratings, book.list_rank < 0, book.list_rank, -book.avg_rating)


def order(books: list[Book], sort: str) -> list[Book]:
    if sort == "rating":
        return sorted(books, key=lambda b: (-rating_score(b), popularity_key(b)))
    if sort == "popular":
        return sorted(books, key=popularity_key)
    return list(books)


DARK_GENRES = frozenset({
    "Horror", "Thriller", "Dark Fantasy", "Gothic", "Crime", "Psychological Thriller", "War", "Dystopia",
    "Post Apocalyptic", "True Crime", "Suspense", "Grimdark", "Dark", "Mystery Thriller", "Zombies", "Vampires",
    "Holocaust", "Serial Killers", "Apocalyptic", "Tragedy",
})
LIGHT_GENRES = frozenset({
    "Humor", "Comedy", "Childrens", "Picture Books", "Middle Grade", "Cozy Mystery", "Chick Lit", "Romance",
    "Contemporary Romance", "Fairy Tales", "Animals", "Feel Good", "Family", "Adventure",
})
# Words of a dark or a light tone in a description (data/words/themes.yaml)
_DARK_WORDS = words.whole_words(words.table("themes")["dark"], re.I)
_LIGHT_WORDS = words.whole_words(words.table("themes")["light"], re.I)


def darkness(book: Book) -> float:
    """Higher reads darker: dark genre labels and words against light ones."""
    genres = set(book.genres)
    score = 2.0 * len(genres & DARK_GENRES) - 2.0 * len(genres & LIGHT_GENRES)
    text = book.description[:1500]
    return score + 0.5 * min(len(_DARK_WORDS.findall(text)), 6) - 0.5 * min(len(_LIGHT_WORDS.findall(text)), 6)


SHORT_GENRES = frozenset({
    "Picture Books", "Short Stories", "Novella", "Poetry", "Plays", "Childrens", "Comics", "Graphic Novels", "Essays",
})


def length_proxy(book: Book) -> tuple[int, int]:
    """Smaller means shorter. No page counts in the catalog: genre labels first, then description length."""
    return (0 if SHORT_GENRES & set(book.genres) else 1, len(book.description))
