"""Broad genre asks versus descriptions, and how each is ranked."""
from __future__ import annotations

import numpy as np
import pytest

from smartlib_core.domain import Book, BookFilter
from smartlib_core.text_ranking import ShelfIndex, broad_ask, neutral_priors, rank_text

NAMES = {"fantasy": "fantasy", "science fiction": "science fiction", "romance": "romance", "fiction": "fiction"}


@pytest.mark.parametrize("query, genres", [
    ("recommend fantasy books", ("fantasy",)),
    ("Fantasy", ("fantasy",)),
    ("some good Science-Fiction novels please", ("science fiction",)),
    ("me recomende livros de romance", ("romance",)),
    ("fantasy or romance", ("fantasy", "romance")),
])
def test_a_query_of_genre_names_and_filler_is_a_broad_ask(query, genres):
    assert broad_ask(query, NAMES) == genres


@pytest.mark.parametrize("query", [
    "a fantasy about a clockwork librarian",  # a description that names a genre
    "recommend books",  # no genre
    "asdf fantasy",
    "",
])
def test_anything_else_is_a_description(query):
    assert broad_ask(query, NAMES) == ()


def test_books_without_popularity_data_get_the_median_prior():
    out = neutral_priors(np.array([0.2, 0.8, 0.0, 0.5]), np.array([True, True, False, True]))
    assert out.tolist() == pytest.approx([0.2, 0.8, 0.5, 0.5])
    assert neutral_priors(np.array([0.0]), np.array([False])).tolist() == [0.0]


def _book(i: int, genres: tuple[str, ...], ratings: int, rank: int) -> Book:
    return Book(id=f"b{i}", title=f"Book {i}", authors=(f"A{i}",), genres=genres, num_ratings=ratings, list_rank=rank)


# b0 is a well-loved fantasy; b1 an obscure one that happens to sit closest to the words "fantasy
# books"; b2 has no popularity data at all but is the one the description below is about.
BOOKS = {b.id: b for b in [
    _book(0, ("Fantasy", "Fiction"), 3_000_000, 0),
    _book(1, ("Fiction", "Fantasy"), 300, 9_000),
    _book(2, ("Fantasy",), 0, -1),
    _book(3, ("Romance",), 1_000_000, 5),
]}
IDS = list(BOOKS)


def _rank(query: str, similarity: dict[str, float], filt: BookFilter = BookFilter(), k: int = 3) -> list[str]:
    def search(n):
        return sorted(similarity.items(), key=lambda kv: -kv[1])[:n]

    return [i for i, _ in rank_text(ShelfIndex(BOOKS), BOOKS, query, k, filt,
                                    similarity_of=lambda ids: np.array([similarity[i] for i in ids]), search=search)]


def test_a_broad_ask_picks_the_well_loved_book_of_the_genre():
    sims = {"b0": 0.30, "b1": 0.45, "b2": 0.30, "b3": 0.10}
    assert _rank("fantasy books", sims)[0] == "b0"
    assert _rank("fantasy books", sims, k=4) == ["b0", "b2", "b1"]  # only the asked shelf


def test_a_book_without_ratings_is_found_from_what_it_is_about():
    sims = {"b0": 0.35, "b1": 0.33, "b2": 0.62, "b3": 0.30}
    assert _rank("a clockwork librarian and a young dragon rider in the flooded archives", sims)[0] == "b2"


def test_filler_words_with_a_genre_filter_are_a_broad_ask_within_the_filter():
    sims = {"b0": 0.30, "b1": 0.45, "b2": 0.30, "b3": 0.50}
    picked = _rank("recommend me something", sims, BookFilter(include_genres=frozenset({"fantasy"}), exclude_ids=frozenset({"b0"})))
    assert picked[0] == "b2" and "b3" not in picked and "b0" not in picked
