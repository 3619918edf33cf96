"""The general mechanisms behind the weak chat skills, each pinned without the model or a
catalog on disk: who a 'like X but Y' is for, a title's name without its subtitle, an author's
name without a suffix or with a two-word surname, the other forms of a Portuguese genre word, a
number that is a quantity rather than a list position, and when one of several books of one
title is clearly the one a reader means."""
from __future__ import annotations

import pytest

from smartlib_core.domain import Book
from smartlib_core.text import fold
from smartlib_server.services.chat import lexicon, link_tables
from smartlib_server.services.chat.handlers.like_but import YOUNG, read_change
from smartlib_server.services.chat.linker import Entity, link
from smartlib_server.services.chat.resolver import dominant
from smartlib_server.services.chat.understand import ordinal


@pytest.mark.parametrize("text, audience", [
    ("but something my eleven-year-old nephew could read, he is 9 years old", "children"),
    ("para o meu afilhado de 6 anos", "children"),
    ("aimed at teens instead", "teen"),
    ("mas para adolescentes", "teen"),
    ("only for grown-ups this time", "adult"),
    ("só que para adultos", "adult"),
    ("i am 40 and want something serious", "adult"),
    ("but with more dragons", ""),
])
def test_who_a_book_is_for(text, audience):
    assert lexicon.audience(fold(text)) == audience


def test_a_change_of_audience_filters_by_the_catalog_labels():
    grown = read_change("but for grown-ups, nothing childish", "en")
    assert grown.kind == "adult" and set(YOUNG) <= set(grown.exclude)
    small = read_change("mas pro meu sobrinho pequeno, ele tem 6 anos e acha tudo curto", "pt")
    assert (small.kind, small.include[:1]) == ("genre", ("Childrens",))  # not "shorter": "curto" is about the kid
    teen = read_change("but pitched at a teenager", "en")
    assert teen.include[:1] == ("Young Adult",)
    assert read_change("but way funnier", "en").include[:1] == ("Humor",)
    assert read_change("só que mais engraçado", "pt").include[:1] == ("Humor",)


def test_a_title_is_also_its_name_without_a_subtitle():
    common = link_tables.static_tables().common
    assert link_tables._main_title("Walden; or, Life in the Woods", common) == "walden"
    assert link_tables._main_title("Leviathan Wakes: The Expanse", common) == "leviathan wakes"
    assert link_tables._main_title("Persepolis", common) == ""  # no subtitle
    assert link_tables._main_title("Home: A Memoir", common) == ""  # an everyday word alone names nothing


def test_portuguese_genre_words_in_both_numbers_and_genders():
    assert "lobisomem" not in link_tables._pt_forms("lobisomens")  # no rule for -ns: nothing invented
    assert set(link_tables._pt_forms("bruxas")) >= {"bruxa", "bruxo"}
    assert "dragao" in link_tables._pt_forms("dragoes")
    assert "eroticas" in link_tables._pt_forms("erotico")
    assert link_tables._pt_forms("terror") == []


BOOKS = {
    "slaughter": Book("slaughter", "Slaughterhouse-Five", ("Kurt Vonnegut Jr.",), num_ratings=1_000_000),
    "cat": Book("cat", "Cat's Cradle", ("Kurt Vonnegut Jr.",), num_ratings=300_000),
    "solitude": Book("solitude", "One Hundred Years of Solitude", ("Gabriel García Márquez",), num_ratings=800_000),
    "creatures": Book("creatures", "Beautiful Creatures", ("Kami Garcia",), num_ratings=600_000),
    "hound": Book("hound", "The Hound of the Baskervilles", ("Arthur Conan Doyle",), num_ratings=300_000),
}


@pytest.fixture(scope="module")
def tables():
    return link_tables.build((1, 1, len(BOOKS)), BOOKS)


@pytest.mark.parametrize("text, author", [
    ("anything else from vonnegut?", "Kurt Vonnegut Jr."),
    ("I only know Kurt Vonnegut from quotes", "Kurt Vonnegut Jr."),
    ("o que o García Márquez escreveu além disso", "Gabriel García Márquez"),
    ("more conan doyle please", "Arthur Conan Doyle"),
])
def test_author_names_as_readers_say_them(tables, text, author):
    authors = [e for e in link(text, tables, BOOKS) if e.kind == "author"]
    assert [e.name for e in authors] == [author]


def test_a_number_with_a_unit_is_no_list_position():
    def number(text: str) -> list[Entity]:
        at = next(i for i, c in enumerate(text) if c.isdigit())
        return [Entity("number", text[at], text[at], at, at + 1)]

    assert ordinal("my 7 year old wants the series", number("my 7 year old wants the series")) == 0
    assert ordinal("a saga pro meu filho de 9 anos", number("a saga pro meu filho de 9 anos")) == 0
    assert ordinal("tell me about number 4", number("tell me about number 4")) == 4


def _book(i: str, ratings: int, rank: int) -> Book:
    return Book(i, "Echoes", (f"Author {i}",), num_ratings=ratings, list_rank=rank)


def test_one_title_several_books_a_reader_may_mean():
    assert dominant([_book("a", 2_000_000, 10), _book("b", 100_000, 900)]).id == "a"  # 20 times as read
    assert dominant([_book("a", 400_000, 10), _book("b", 60_000, 900)]) is None  # both well read: ask
    assert dominant([_book("a", 400_000, 300), _book("b", 0, 900)]) is None  # a count the catalog lacks is no zero
    assert dominant([_book("a", 400_000, 30), _book("b", 0, 9000)]) is None  # however far ahead the list puts "a"
