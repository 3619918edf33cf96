"""How names are read on a catalog with rating counts (the starter catalog has none, so the
rules that weigh how well read a name is stay off there): surnames and everyday-word titles of
little-read books stay the reader's words, the answer's language ignores the words of the names
a message holds, and the asks that need books (a comparison, the next in a series) take them
from the linked names and the conversation."""
from __future__ import annotations

import pytest

from smartlib_core.domain import Book
from smartlib_server.services.chat import language
from smartlib_server.services.chat.interpret import to_request
from smartlib_server.services.chat.linker import Linker, link
from smartlib_server.services.chat.understand import finish

from .asking import catalog_of, linked

_BOOKS = [
    Book("1", "The Name of the Wind (The Kingkiller Chronicle, #1)", ("Patrick Rothfuss",), num_ratings=800_000,
         series_name="The Kingkiller Chronicle", series_position="1"),
    Book("2", "Binding Chaos", ("Heather Marsh",), num_ratings=0),
    Book("3", "Guards! Guards! (Discworld, #8)", ("Terry Pratchett",), num_ratings=400_000,
         series_name="Discworld", series_position="8"),
    Book("4", "Have I Told You (Black Hollywood, #1)", ("F.L. Jacob",), num_ratings=0),
    Book("5", "Gone with the Wind", ("Margaret Mitchell",), num_ratings=1_100_000),
    Book("6", "The Road", ("Cormac McCarthy",), num_ratings=840_000),
    Book("7", "Station Eleven", ("Emily St. John Mandel",), num_ratings=300_000),
    Book("8", "Throne of Glass (Throne of Glass, #1)", ("Sarah J. Maas",), num_ratings=600_000,
         series_name="Throne of Glass", series_position="1"),
    Book("9", "Heir of Fire (Throne of Glass, #3)", ("Sarah J. Maas",), num_ratings=500_000,
         series_name="Throne of Glass", series_position="3"),
    Book("10", "Dom Casmurro", ("Machado de Assis",), num_ratings=40_000),
    Book("11", "Memórias Póstumas de Brás Cubas", ("Machado de Assis",), num_ratings=30_000),
    Book("12", "Gone Girl", ("Gillian Flynn",), num_ratings=2_800_000),
]


class _Index:
    version = 1

    def __init__(self, books):
        self.books = books


@pytest.fixture(scope="module")
def catalog():
    return catalog_of(_BOOKS)


names = linked


def test_a_surname_alone_needs_a_well_read_author_or_a_capital(catalog):
    assert names(catalog, "is quillon marsh any good?") == []  # Heather Marsh's books have no readers on record
    assert names(catalog, "anything by Marsh?") == []
    assert names(catalog, "anything else by pratchett?") == [("author", "Terry Pratchett")]
    # after a capitalised word that is not the author's first name, a surname is someone else's
    assert names(catalog, "is Quillon Pratchett any good?") != [("author", "Terry Pratchett")]
    assert names(catalog, "is Terry Pratchett any good?") == [("author", "Terry Pratchett")]


def test_a_long_title_of_everyday_words_needs_readers_to_link_in_lowercase(catalog):
    assert names(catalog, "what have i told you about my taste?") == []
    assert names(catalog, "is gone with the wind worth it?") == [("title", "Gone with the Wind")]


def test_the_language_is_read_outside_the_names():
    text = "do que se trata the god of small things?"
    start = text.index("the god")
    assert language.detect(text).language != "pt"  # the title's English words outweigh or tie with the Portuguese
    assert language.detect(text, [(start, len(text) - 1)]).language == "pt"
    assert language.detect("Dune", [(0, 4)]).language is None  # nothing but the name: no signal either way


def test_titles_in_everyday_words_are_offered_when_an_ask_needs_a_book(catalog):
    tables, books = catalog
    found = Linker(_Index(books)).everyday_titles("compare station eleven and the road for me")
    assert [e.name for e in found] == ["The Road"]
    assert names(catalog, "compare station eleven and the road for me") == [("title", "Station Eleven")]


def request(catalog, text, intent, **situation):
    tables, books = catalog
    u = finish(text, intent, 0.9, link(text, tables, books), text, ((intent, 0.9),), threshold=0.7)
    return to_request(u, text, "en", **situation)


def test_a_comparison_with_one_book_named_takes_the_book_in_focus(catalog):
    r = request(catalog, "how does it compare to gone girl?", "compare", has_focus=True)
    assert r.pairs == (("it", "gone girl"),)
    assert request(catalog, "how does it compare to gone girl?", "compare").pairs == ()


def test_the_next_book_follows_the_furthest_one_named(catalog):
    r = request(catalog, "read throne of glass up to heir of fire, what's next?", "series_next")
    assert r.subject == "heir of fire"


def test_which_first_of_two_books_of_no_one_series_compares_them(catalog):
    r = request(catalog, "dom casmurro or memórias póstumas de brás cubas, which first?", "series_order")
    assert (r.kind, r.pairs) == ("compare", (("dom casmurro", "memórias póstumas de brás cubas"),))
    r = request(catalog, "throne of glass or heir of fire, which first?", "series_order")
    assert r.kind == "series_order"
