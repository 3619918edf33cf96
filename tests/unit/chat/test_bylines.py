"""A title qualified by its author ("<title> by <surname>", "<title> da <full name>"): the author says
which of the same-titled books is meant and is no ask of its own. A made-up catalog with two books of
one title by different authors, one far better read, so that without the byline the better-read one
would win; wordings written for this file."""
from __future__ import annotations

import pytest

from smartlib_core.domain import Book
from smartlib_server.services.chat import link_tables
from smartlib_server.services.chat.interpret import to_request
from smartlib_server.services.chat.linker import link
from smartlib_server.services.chat.resolver import TitleResolver
from smartlib_server.services.chat.understand import finish

BOOKS = [
    Book("glass-v", "Stormglass (Tidewright, #1)", ("Ilse Varnholt",), genres=("Fantasy",), num_ratings=400_000,
         list_rank=12, series_name="Tidewright", series_position="1"),
    Book("glass-o", "Stormglass", ("Peter Ockenden",), genres=("Poetry",), num_ratings=3_000, list_rank=4_000),
    Book("other-v", "The Salt Lanterns (Tidewright, #2)", ("Ilse Varnholt",), genres=("Fantasy",), num_ratings=150_000,
         list_rank=90, series_name="Tidewright", series_position="2"),
    Book("cold-v", "Cold Water", ("Ilse Varnholt",), genres=("Fantasy",), num_ratings=60_000, list_rank=300),
    Book("cold-p", "Cold Water", ("Dora Pemberly",), genres=("Romance",), num_ratings=2_000, list_rank=5_000),
    Book("kestrel", "Kestrel Road", ("Anselm Duvekot",), genres=("Mystery",), num_ratings=90_000, list_rank=200),
]


@pytest.fixture(scope="module")
def catalog():
    books = {b.id: b for b in BOOKS}
    return link_tables.build((1, 1, len(books)), books), books


def ask(catalog, text, intent, language="en"):
    tables, books = catalog
    u = finish(text, intent, 0.9, link(text, tables, books), text, ((intent, 0.9),), threshold=0.7)
    return to_request(u, text, language)


@pytest.mark.parametrize("text, author, typed", [
    ("heard good things about stormglass by ockenden, is it for me?", "Peter Ockenden", "stormglass by ockenden"),
    ("stormglass do peter ockenden vale a pena?", "Peter Ockenden", "stormglass do peter ockenden"),
    ("was stormglass by ilse varnholt a hit?", "Ilse Varnholt", "stormglass by ilse varnholt"),
])
def test_a_title_and_its_author_are_one_entity_for_that_authors_book(catalog, text, author, typed):
    tables, books = catalog
    found = link(text, tables, books)
    titles = [e for e in found if e.kind == "title"]
    assert [(e.by, e.text) for e in titles] == [(author, typed)]
    assert not [e for e in found if e.kind == "author"]  # the name only qualifies the title
    assert all(author in books[i].authors for i in titles[0].ids)


def test_a_title_in_everyday_words_links_when_its_author_follows(catalog):
    tables, books = catalog
    assert not [e for e in link("the cold water here is lovely", tables, books) if e.kind == "title"]
    found = link("anyone read cold water by varnholt?", tables, books)
    assert [(e.kind, e.by, e.ids) for e in found] == [("title", "Ilse Varnholt", ("cold-v",))]


def test_a_name_after_the_byline_that_wrote_no_edition_qualifies_nothing(catalog):
    tables, books = catalog
    found = link("stormglass by anselm duvekot, any good?", tables, books)
    assert [e.by for e in found if e.kind == "title"] == [""]
    assert [e.name for e in found if e.kind == "author"] == ["Anselm Duvekot"]


@pytest.mark.parametrize("intent", ["author", "recommend", "about_book"])
def test_the_book_is_the_ask_and_the_request_says_whose(catalog, intent):
    request = ask(catalog, "got stormglass by ockenden on the shelf?", intent)
    assert (request.kind, request.subject.lower(), request.by) == ("about_book", "stormglass", "Peter Ockenden")


def test_an_author_ask_beside_another_title_stays_an_author_ask(catalog):
    tables, books = catalog
    text = "loved kestrel road, anything else by varnholt?"
    assert [e.name for e in link(text, tables, books) if e.kind == "author"] == ["Ilse Varnholt"]
    assert (ask(catalog, text, "author").kind, ask(catalog, text, "author").by) == ("author", "")


@pytest.fixture
def resolver(resolver_over) -> TitleResolver:
    return resolver_over(BOOKS)


def test_the_named_author_beats_the_better_read_book(resolver):
    assert resolver.resolve("stormglass").book.id == "glass-v"  # dominance alone: 400k against 3k ratings
    assert resolver.resolve("stormglass", by="Peter Ockenden").book.id == "glass-o"
    assert resolver.resolve("stormglas", by="Peter Ockenden").book.id == "glass-o"  # a typo in the title too
    assert resolver.resolve("stormglass", by="Anselm Duvekot").book.id == "glass-v"  # not theirs: as without `by`
