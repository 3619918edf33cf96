"""GenreShelf: the catalog-wide views a turn reads (genre names, a series' books, the catalog
in rating, popularity and list order), derived once per catalog version, give what scanning
and sorting every book per ask gave."""
from __future__ import annotations

import dataclasses

import pytest

from smartlib_core.domain import BookFilter
from smartlib_server.app import starter_catalog_path
from smartlib_server.services.chat import ordering
from smartlib_server.services.chat.toolkit import GenreShelf, first
from smartlib_server.services.ingest import load_file


@pytest.fixture(scope="module")
def books():
    """The starter catalog with the rating counts and list positions it lacks, varied so that
    the three orders and their ties differ."""
    starter = [b for _, b in load_file(starter_catalog_path())[0]]
    return {b.id: dataclasses.replace(b, num_ratings=(i * 7919) % 5000 * 100, list_rank=(i * 31) % 97 if i % 3 else -1,
                                      avg_rating=round(3.5 + (i * 13) % 15 / 10, 2))
            for i, b in enumerate(starter)}


FILTERS = [BookFilter(), BookFilter(include_genres=frozenset({"fantasy"})),
           BookFilter(include_genres=frozenset({"mystery", "thriller"}), exclude_genres=frozenset({"horror"})),
           BookFilter(exclude_genres=frozenset({"romance", "fiction"}))]


@pytest.mark.parametrize("sort", ["rating", "popular", "list"])
@pytest.mark.parametrize("filt", FILTERS)
def test_the_first_accepted_of_the_sorted_catalog_is_the_sorted_filtered_catalog(books, sort, filt):
    pool = [b for b in books.values() if filt.accepts(b)]
    if sort == "list":
        want = sorted(pool, key=lambda b: (b.list_rank < 0, b.list_rank, -b.avg_rating))
    else:
        want = ordering.order(pool, sort)
    got = first(GenreShelf().ordered(books, 1, sort), filt, 12)
    assert [b.id for b in got] == [b.id for b in want[:12]]


def test_a_series_and_the_genres_come_from_the_current_catalog(books):
    shelf = GenreShelf()
    dune = next(b for b in books.values() if b.series_name == "Dune")
    want = [b.id for b in books.values() if b.series_name == "Dune"]
    assert [b.id for b in shelf.series(books, 1, "Dune")] == want and len(want) > 1
    assert shelf.has(books, 1, "FANTASY") and not shelf.has(books, 1, "cookery")
    renamed = {**books, dune.id: dataclasses.replace(dune, genres=("Cookery",))}  # a new version, as many books
    assert shelf.has(renamed, 2, "cookery")
    fewer = {k: v for k, v in books.items() if k != dune.id}
    assert dune.id not in [b.id for b in shelf.series(fewer, 3, "Dune")]
