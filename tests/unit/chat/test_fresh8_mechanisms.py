"""Mechanisms built from what development batch fresh 8 showed, each pinned with made-up books and
wordings written for this file (none is a fresh 8 sentence): when one of several same-named books or
authors is what a reader means (how much more it is read, and whether the next is widely read
itself), a surname several well-read authors share, a comparison whose second side the linker could
not settle, and a feeling the reader orders the agent itself to cause."""
from __future__ import annotations

import pytest

from smartlib_core.domain import Book
from smartlib_server.services.chat import asides, link_tables
from smartlib_server.services.chat.dominance import WIDELY_READ, stands_out
from smartlib_server.services.chat.linker import link
from smartlib_server.services.chat.resolver import dominant
from tests.unit.chat.test_fresh7_mechanisms import ask


def _book(i: str, title: str, author: str, ratings: int, rank: int = -1, genres: tuple[str, ...] = ("Fiction",)) -> Book:
    return Book(i, title, (author,), genres=genres, num_ratings=ratings, list_rank=rank)


def test_a_widely_read_runner_up_is_a_real_alternative_whatever_the_ratio():
    bestseller = _book("b", "Ashfall", "Nora Quint", 4_000_000, 10)
    classic = _book("c", "Ashfall", "Edwin Marchbanks", 250_000, 900, ("Classics",))
    obscure = _book("o", "Ashfall", "Pip Yarrow", 60_000, 3000, ("Poetry",))
    assert dominant([bestseller, classic]) is None  # 16 times more read, but a quarter of a million readers know the other
    assert dominant([bestseller, obscure]).id == "b"  # 66 times more read, and the other little known
    assert stands_out(10 * (WIDELY_READ - 1), WIDELY_READ - 1) and not stands_out(10 * WIDELY_READ, WIDELY_READ)


# Two well-read authors share "Halloran", one "Vexley" author stands out, and a little-read Halloran
# is no choice worth offering.
AUTHORS = [
    _book("h1", "The Salt Orchard", "Maeve Halloran", 2_000_000, 20),
    _book("h2", "Tin Lanterns", "Maeve Halloran", 300_000, 400),
    _book("h3", "The Quiet Ledger", "Osric Halloran", 220_000, 700, ("Classics",)),
    _book("h4", "Notes on Moss", "Tamsin Halloran", 2_000, 5000),
    _book("v1", "Glass Harbour", "Ida Vexley", 900_000, 60),
    _book("v2", "Small Rooms", "Rolf Vexley", 40_000, 4000),
]


@pytest.fixture(scope="module")
def shared():
    books = {b.id: b for b in AUTHORS}
    return link_tables.build((7, 1, len(books)), books), books


def test_a_surname_several_well_read_authors_share_names_them_all(shared):
    tables, books = shared
    [author] = [e for e in link("got anything from halloran?", tables, books) if e.kind == "author"]
    assert author.name == "Halloran" and set(author.ids) == {"h1", "h3"}  # each one's best known; not the little-read one
    [vexley] = [e for e in link("something by vexley", tables, books) if e.kind == "author"]
    assert vexley.name == "Ida Vexley"  # 22 times more read, and Rolf is little known: no question


def test_the_resolver_asks_which_author_with_each_ones_best_known_book(resolver_over):
    resolver = resolver_over(AUTHORS)
    which = resolver.author("Halloran", loose=False)
    assert which.kind == "ambiguous" and [b.id for b in which.books] == ["h1", "h3"]
    assert resolver.author("vexley").name == "Ida Vexley"
    assert resolver.author("osric halloran").name == "Osric Halloran"  # a full name is no question


def test_a_comparison_whose_other_side_is_written_as_a_name_stays_a_comparison(catalog):
    unsure = (("compare", 0.6), ("about_book", 0.3), ("similar", 0.05))
    # "The Girl" starts several starter titles, so the linker leaves it; the reader still named two books
    assert ask(catalog, "which is better, The Girl or Dune?", "compare", 0.6, unsure).kind == "compare"
    # nothing named across the "or": the one book's facts, as before
    assert ask(catalog, "is dune great or is it just hype?", "compare", 0.6, unsure).kind == "about_book"


@pytest.mark.parametrize("text, feeling", [
    ("make me laugh out loud with a dumb joke", False),  # the agent itself is asked to entertain
    ("me faz rir um pouco, vai", False),
    ("make me laugh out loud with a short book", True),  # a book is asked for
    ("got anything that would make me laugh till i cry?", True),  # what a book should do
])
def test_a_feeling_ordered_of_the_agent_is_no_ask_for_books(text, feeling):
    assert asides.feeling(text) is feeling
