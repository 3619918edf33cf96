"""Mechanisms built from what development batch fresh 10 showed, each pinned with made-up books and
wordings written for this file (none is a fresh 10 sentence): a series position asked for with an
ordinal word beside a book the reader read, and a title named as its own series beside a book read.
Runs on link tables over made-up books with the intent given, as test_fresh9_mechanisms.py does."""
from __future__ import annotations

import pytest

from smartlib_core.domain import Book
from smartlib_server.services.chat import link_tables

from .asking import ask


def book(i, title, series="", position="", author="Ana Vale", ratings=50_000):
    shown = f"{title} ({series}, #{position})" if series else title
    return Book(id=i, title=shown, authors=(author,), genres=("Fantasy",), num_ratings=ratings,
                series_name=series, series_position=position)


@pytest.fixture(scope="module")
def saga():
    books = {b.id: b for b in (
        book("a", "The Salt Orchard", "The Lantern Wars", "1"), book("b", "Ash Between Rivers", "The Lantern Wars", "2"),
        book("c", "A Crown of Moths", "The Lantern Wars", "3"), book("d", "The Lantern Wars", "The Lantern Wars", "4"),
        book("e", "Quiet Harbour", author="Rui Prado"))}
    return link_tables.build((1, 1, len(books)), books), books


@pytest.mark.parametrize("text, pt, position", [
    ("finally got through The Salt Orchard. any chance of a second one?", False, 2),
    ("acabei The Salt Orchard, e o terceiro, vale a pena?", True, 3),
])
def test_an_ordinal_beside_a_book_read_asks_for_the_book_at_that_place(saga, text, pt, position):
    request = ask(saga, text, "series_next", pt=pt)
    assert (request.kind, request.ordinal) == ("series_order", position)
    assert request.subject == "The Salt Orchard"


@pytest.mark.parametrize("text, pt", [("loved the second of The Lantern Wars, is there more?", False),
                                      ("li o segundo livro de The Lantern Wars, tem mais?", True)])
def test_an_ordinal_that_says_which_book_was_read_keeps_the_next_one(saga, text, pt):
    # the ordinal qualifies the name ("the second of <series>"): it says where the reader is
    request = ask(saga, text, "series_next", pt=pt)
    assert (request.kind, request.ordinal) == ("series_next", 2)


def test_which_first_asks_what_to_read_first(saga):
    # "first" is no place after a book read: "X or Y, which first?" keeps its reading
    request = ask(saga, "The Salt Orchard or Quiet Harbour, which first?", "series_order")
    assert request.kind == "compare"


@pytest.mark.parametrize("text", ["wrapped up A Crown of Moths; what Lantern Wars book should I read now, next one?",
                                  "terminei A Crown of Moths, qual livro de The Lantern Wars vem depois?"])
def test_a_title_named_as_its_series_beside_a_book_read_is_the_series(saga, text):
    request = ask(saga, text, "series_next", pt="terminei" in text)
    assert request.kind == "series_next" and request.subject == "A Crown of Moths"


def test_two_books_read_still_follow_the_furthest(saga):
    request = ask(saga, "read The Salt Orchard and A Crown of Moths, what is next?", "series_next")
    assert request.subject == "A Crown of Moths"
