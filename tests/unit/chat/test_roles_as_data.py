"""Roles read from word tables in data/roles.yaml (branch chatm): a series place written as a number
word ("book two", "o livro três"), an ordinal that says when rather than which ("last summer",
"a primeira vez"), one with no list behind it beside a book named ("tell me about <title> first"), and
a narrowing that asks for more ("a couple more, but no vampires") leaving the list on screen out.
Made-up books and wordings written for this file, none a batch sentence."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from smartlib_core.domain import Book
from smartlib_server.services.chat.handlers import books, follow_ups
from smartlib_server.services.chat.request import Request
from smartlib_server.services.chat.session import Draft
from smartlib_server.services.chat.understand import ordinal
from smartlib_server.services.chat.wording import Phrasebook

from .asking import ask, catalog_of


def book(i, title, series="", position=""):
    shown = f"{title} ({series}, #{position})" if series else title
    return Book(id=i, title=shown, authors=("Lia Moreno",), genres=("Fantasy",), num_ratings=60_000,
                series_name=series, series_position=position)


@pytest.fixture(scope="module")
def saga():
    return catalog_of([book("a", "The Copper Kestrel", "The Tideglass Cycle", "1"),
                       book("b", "A Harbour of Knives", "The Tideglass Cycle", "2"),
                       book("c", "The Drowned Regent", "The Tideglass Cycle", "3")])


@pytest.mark.parametrize("text, pt, position", [
    ("enjoyed The Copper Kestrel, which is book three?", False, 3),
    ("terminei The Copper Kestrel; como chama o volume dois?", True, 2),
    ("The Copper Kestrel: qual é o livro três dessa saga?", True, 3),
])
def test_a_place_written_as_a_number_word_asks_for_the_book_there(saga, text, pt, position):
    request = ask(saga, text, "series_order", pt=pt)
    assert (request.kind, request.ordinal) == ("series_order", position)


def test_a_number_word_not_after_a_place_word_is_no_place(saga):
    # "two" counts friends here; no place word stands before it
    request = ask(saga, "two friends of mine loved The Copper Kestrel, what's the order?", "series_order")
    assert request.ordinal == 0


@pytest.mark.parametrize("text", ["a novel that came out last winter, have you got it?", "the first time I tried fantasy",
                                  "comprei na segunda-feira um livro", "a última vez que li terror foi horrível"])
def test_an_ordinal_before_a_word_of_time_says_when_not_which(text):
    assert ordinal(text, []) == 0


@pytest.mark.parametrize("text, place", [("the last one", -1), ("o segundo, por favor", 2), ("first one sounds good", 1)])
def test_an_ordinal_without_a_word_of_time_still_points(text, place):
    assert ordinal(text, []) == place


@pytest.mark.parametrize("subject, expected", [("The Copper Kestrel", "named"), ("", None), ("it", None)])
def test_an_ordinal_with_no_list_behind_it_beside_a_book_named_is_no_place(monkeypatch, subject, expected):
    # "tell me about <title> first" with nothing on screen: the book named, not "I showed no list"
    monkeypatch.setattr(books, "named", lambda kit, ask, language: "named")
    kit = SimpleNamespace(shown_book=lambda place: None)
    out = Draft(Phrasebook("en", "s"))
    assert books.target(kit, Request("about_book", subject=subject, ordinal=1), out) == expected
    assert bool(out.text) is (expected is None)


@pytest.mark.parametrize("text, leaves_shown_out", [
    ("a couple more please, but no vampires", True),
    ("mostra outras, só que sem terror", True),
    ("only the ones without vampires", False),
    ("desses, só os que não são de terror", False),
])
def test_a_narrowing_that_asks_for_more_leaves_the_list_on_screen_out(text, leaves_shown_out):
    ran = []
    ctx = SimpleNamespace(query={"mode": "ranked", "genres": ["Fantasy"], "seen": ["old"]}, shown=[["s1", "why"], ["s2", "why"]])
    kit = SimpleNamespace(ctx=ctx, turn=SimpleNamespace(text=text), run=lambda query, out: ran.append(query) or [])
    follow_ups.refine(kit, Request("refine", exclude=("Horror",)), Draft(Phrasebook("en", "s")))
    assert ran[0]["seen"] == (["old", "s1", "s2"] if leaves_shown_out else [])
