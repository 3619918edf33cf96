"""Broad genre asks versus descriptions, and how each is ranked."""
from __future__ import annotations

import numpy as np
import pytest

from smartlib_core.domain import Book, BookFilter
from smartlib_core.text_ranking import ShelfIndex, broad_ask, fuse, neutral_priors, rank_text

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

    return [hit.id for hit in rank_text(ShelfIndex(BOOKS), BOOKS, query, k, filt,
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


def test_reciprocal_rank_fusion_on_hand_made_rankings():
    # c is second-to-last in one list and first in the other: in both, it beats any single first place.
    fused = fuse([["a", "b", "c"], ["c", "d"]], [1.0, 1.0], c=60)
    assert [i for i, _ in fused] == ["c", "a", "b", "d"]  # b and d tie (both 2nd once): first seen first
    assert fused[0][1] == pytest.approx(1 / 63 + 1 / 61)
    assert [i for i, _ in fuse([["a", "b"], ["b", "a"]], [1.0, 2.0])] == ["b", "a"]  # the heavier list wins a tie
    assert [i for i, _ in fuse([["a", "b"], ["b", "x"]], [1.0, 0.0])][:2] == ["a", "b"]  # weight 0: first list alone


def test_fusion_cut_to_n_is_the_head_of_the_whole_order_ties_included():
    rankings = [["a", "b", "c", "d", "e"], ["e", "d", "f", "g"], ["g", "h"]]
    whole = fuse(rankings, [1.0, 1.0, 0.5], c=2)
    assert len(whole) == 8 and [s for _, s in whole] == sorted((s for _, s in whole), reverse=True)
    for n in range(len(whole) + 2):
        assert fuse(rankings, [1.0, 1.0, 0.5], c=2, n=n) == whole[:n]
    tied = fuse([["a", "b"], ["b", "a"], ["c"], ["d"]], [1.0, 1.0, 1.0, 1.0], c=0)  # a and b 1.5 each, c and d 1.0
    assert [i for i, _ in tied] == ["a", "b", "c", "d"]
    assert [i for i, _ in fuse([["a", "b"], ["b", "a"], ["c"], ["d"]], [1.0] * 4, c=0, n=3)] == ["a", "b", "c"]


def _hits(query: str, similarity: dict[str, float], lexical: list[str], filt: BookFilter = BookFilter(), k: int = 3):
    def search(n):
        return sorted(similarity.items(), key=lambda kv: -kv[1])[:n]

    return rank_text(ShelfIndex(BOOKS), BOOKS, query, k, filt, similarity_of=lambda ids: np.array([similarity[i] for i in ids]),
                     search=search, lexical=lambda n: [(i, 10.0 - r) for r, i in enumerate(lexical[:n])])


def test_a_description_fuses_words_and_meaning_and_says_which_found_each():
    sims = {"b0": 0.62, "b1": 0.30, "b2": 0.31, "b3": 0.60}
    hits = _hits("a clockwork librarian in the flooded archives", sims, ["b1", "b3"], k=4)
    assert hits[0].id == "b3" and hits[0].part == "both"  # second by meaning, first-but-one by words: both count
    assert {h.id: h.part for h in hits} == {"b3": "both", "b1": "both", "b0": "meaning", "b2": "meaning"}
    alone = _hits("a clockwork librarian in the flooded archives", {"b0": 0.6, "b2": 0.5, "b3": 0.4}, ["b1"], k=4)
    assert ("b1", "words") in [(h.id, h.part) for h in alone]  # found by its words only


def test_words_hits_pass_the_filter_and_broad_asks_stay_on_their_shelves():
    sims = {"b0": 0.30, "b1": 0.45, "b2": 0.30, "b3": 0.10}
    filt = BookFilter(exclude_ids=frozenset({"b3"}))
    assert "b3" not in [h.id for h in _hits("the harbour of lost things", sims, ["b3", "b1"], filt)]
    broad = _hits("fantasy books", sims, ["b3"])
    assert [h.id for h in broad] == ["b0", "b2", "b1"] and {h.part for h in broad} == {"shelves"}
