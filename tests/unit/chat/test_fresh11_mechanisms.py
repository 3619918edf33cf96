"""Mechanisms built from what development batch fresh 11 showed, each pinned with made-up books and
wordings written for this file (none is a fresh 11 sentence): an author's list leaves out the book
the reader reached the author through, whether that book was named beside the author's name, named
instead of it ("more from the author of <title>"), or is the book the talk is on ("what else by him?")."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from smartlib_core.domain import Book
from smartlib_server.services.chat import link_tables
from smartlib_server.services.chat.handlers.authors import list_author, resolve_author
from smartlib_server.services.chat.request import Request
from smartlib_server.services.chat.session import Draft
from smartlib_server.services.chat.wording import Phrasebook

from .asking import ask


def book(i, title, author, ratings):
    return Book(id=i, title=title, authors=(author,), genres=("Fiction",), num_ratings=ratings, avg_rating=4.0)


SHELF = (book("m1", "The Copper Lighthouse", "Odile Marchetti", 90_000), book("m2", "Winter at Saltmarsh", "Odile Marchetti", 60_000),
         book("m3", "A Ledger of Tides", "Odile Marchetti", 40_000), book("r1", "Paper Comets", "Tomas Reyland", 70_000))


@pytest.fixture(scope="module")
def shelf():
    books = {b.id: b for b in SHELF}
    return link_tables.build((1, 1, len(books)), books), books


@pytest.mark.parametrize("text, pt", [
    ("just closed The Copper Lighthouse, sobbing. what other books did Odile Marchetti do?", False),
    ("tem mais da Odile Marchetti fora The Copper Lighthouse? esse eu ja reli", True),
])
def test_a_title_named_beside_the_author_asked_for_is_a_book_read(shelf, text, pt):
    request = ask(shelf, text, "author", pt=pt)
    assert request.kind == "author" and request.subject == "Odile Marchetti"
    assert request.read == ("The Copper Lighthouse",)


def test_an_author_asked_for_alone_reads_no_book(shelf):
    request = ask(shelf, "what has Odile Marchetti published?", "author")
    assert request.subject == "Odile Marchetti" and request.read == ()


@pytest.fixture
def kit(resolver_over):
    asked = []
    books = {b.id: b for b in SHELF}
    return SimpleNamespace(resolver=resolver_over(SHELF), books=books, ctx=SimpleNamespace(focus="", shown=[]),
                           turn=SimpleNamespace(text=""), run=lambda query, out, use_tastes=True: asked.append(query) or [],
                           asked=asked)


def _listed(kit, subject, read=()):
    found = resolve_author(kit, subject)
    assert found.kind == "author" and found.name == "Odile Marchetti"
    list_author(kit, found, Request("author", subject=subject, read=read), Draft(Phrasebook("en", "t")))
    return kit.asked[-1]["seen"]


def test_the_book_in_focus_is_left_out_of_its_authors_list(kit):
    kit.ctx.focus = "m2"  # "what else did she write?" after the reader asked about Winter at Saltmarsh
    assert _listed(kit, "it") == ["m2"]
    assert _listed(kit, "the same author") == ["m2"]


def test_a_title_the_author_was_reached_through_is_left_out(kit):
    assert _listed(kit, "of a ledger of tides") == ["m3"]  # "more from the author of A Ledger of Tides"


def test_an_author_named_leaves_out_only_the_books_read(kit):
    kit.ctx.focus = "m2"  # a book in focus says nothing when the author is named
    assert _listed(kit, "Odile Marchetti") == []
    assert _listed(kit, "Odile Marchetti", read=("The Copper Lighthouse",)) == ["m1"]


@pytest.mark.parametrize("text", ["got more from her?", "tem outros dela?"])
def test_more_of_a_person_after_a_book_is_its_authors_other_books(kit, text):
    from smartlib_server.services.chat.handlers.follow_ups import more

    kit.ctx.focus, kit.ctx.query, kit.ctx.pending = "m2", {"mode": "similar", "book": "m2"}, ""
    kit.turn = SimpleNamespace(text=text)
    more(kit, Request("more"), Draft(Phrasebook("en", "t")))
    assert kit.asked[-1]["mode"] == "author" and kit.asked[-1]["author"] == "Odile Marchetti"
    assert kit.asked[-1]["seen"] == ["m2"]


def test_more_after_an_authors_list_stays_that_list(kit):
    from smartlib_server.services.chat.handlers.follow_ups import more

    kit.ctx.query = {"mode": "author", "author": "Odile Marchetti", "seen": ["m1", "m3"]}
    kit.ctx.focus, kit.ctx.shown = "m2", [["m1", ""], ["m3", ""]]
    kit.ctx.pending = ""
    kit.turn = SimpleNamespace(text="more by her?")
    kit.profile = lambda: SimpleNamespace(liked=[])
    more(kit, Request("more"), Draft(Phrasebook("en", "t")))
    assert kit.asked[-1]["seen"] == ["m1", "m3"]  # the same ask again, what was shown left out


def test_more_that_points_at_no_person_stays_more_of_the_same_ask(kit):
    from smartlib_server.services.chat.handlers.follow_ups import more

    kit.ctx.focus, kit.ctx.query, kit.ctx.shown, kit.ctx.pending = "m2", {"mode": "similar", "book": "m2"}, [["r1", ""]], ""
    kit.turn = SimpleNamespace(text="show me more of her kind")  # "her" with no "by"/"from" before it is no author
    kit.profile = lambda: SimpleNamespace(liked=[])
    more(kit, Request("more"), Draft(Phrasebook("en", "t")))
    assert kit.asked[-1]["mode"] == "similar"


@pytest.mark.parametrize("text, pt", [("just the fantasy ones out of those", False), ("desses ai, so os de fantasia", True)])
def test_a_genre_named_of_the_list_on_screen_narrows_it(kit, shelf, text, pt):
    from smartlib_server.services.chat.handlers.follow_ups import refine

    request = ask(shelf, text, "refine", pt=pt)
    assert request.kind == "refine" and request.genres == ("Fantasy",)
    kit.ctx.query = {"mode": "text", "text": "Historical Fiction", "genres": ["Historical Fiction"], "exclude_genres": [], "seen": []}
    kit.ctx.shown, kit.ctx.pending = [["m1", ""]], ""
    refine(kit, request, Draft(Phrasebook("pt" if pt else "en", "t")))
    query = kit.asked[-1]
    assert query["genres"] == ["Historical Fiction", "Fantasy"] and "Fantasy" in query["text"] and query["every"]


def test_a_genre_the_list_already_turns_away_is_not_added(kit):
    from smartlib_server.services.chat.handlers.follow_ups import refine

    kit.ctx.query = {"mode": "text", "text": "Mystery", "genres": ["Mystery"], "exclude_genres": ["Horror"], "seen": []}
    kit.ctx.shown, kit.ctx.pending = [["m1", ""]], ""
    refine(kit, Request("refine", genres=("Horror",)), Draft(Phrasebook("en", "t")))
    assert kit.asked[-1]["genres"] == ["Mystery"] and kit.asked[-1]["text"] == "Mystery"
