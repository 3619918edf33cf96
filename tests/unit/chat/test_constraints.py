"""What qualifies an ask rather than naming it: exclusions and an order (constraints.extract),
what the "but" of "like X but Y" asks to change (read_change), and which row of the list on
screen a reader points at (pointed_at)."""
from __future__ import annotations

import pytest

from smartlib_core.domain import Book
from smartlib_server.services.chat.constraints import extract
from smartlib_server.services.chat.handlers.follow_ups import pointed_at
from smartlib_server.services.chat.handlers.like_but import read_change


@pytest.mark.parametrize("folded, language, rest, exclude, sort", [
    ("recommend fantasy books but no romance", "en", "recommend fantasy books", ("Romance",), ""),
    ("livros de ficcao cientifica sem nada de romance", "pt", "livros de ficcao cientifica", ("Romance",), ""),
    ("mystery books without horror or thriller", "en", "mystery books", ("Horror", "Thriller"), ""),
    ("best rated fantasy", "en", "fantasy", (), "rating"),
    ("os livros de fantasia mais bem avaliados", "pt", "os livros de fantasia", (), "rating"),
    ("quais os livros de terror com melhor nota", "pt", "quais os livros de terror", (), "rating"),
    ("the most popular mystery novels", "en", "mystery novels", (), "popular"),
    ("the 10 best fantasy books of all time", "en", "fantasy books", (), "rating"),
])
def test_exclusions_and_orders_come_out_of_the_text(folded, language, rest, exclude, sort):
    c = extract(folded, language)
    assert (c.rest, set(c.exclude), c.sort) == (rest, set(exclude), sort)


def test_a_title_is_left_whole_when_its_words_are_not_an_order():
    assert extract("tell me about the best of me", "en").plain == "tell me about the best of me"


@pytest.mark.parametrize("modifier, kind", [
    ("shorter", "shorter"), ("mais curto", "shorter"), ("mais curtinho", "shorter"), ("with fewer pages", "shorter"),
    ("less dark", "lighter"), ("mais leve", "lighter"), ("funnier", "genre"), ("not as dark", "lighter"),
    ("nem tão pesado", "lighter"), ("darker", "darker"), ("mais sombrio", "darker"),
    ("by another author", "other_author"), ("not by andy weir", "other_author"), ("que não sejam do Tolkien", "other_author"),
    ("de outro autor", "other_author"), ("science fiction", "genre"), ("de ficção científica", "genre"),
    ("without romance", "genre"), ("better rated", "order"), ("more modern", "genre"),
])
def test_what_the_but_asks_to_change(modifier, kind):
    assert read_change(modifier, "en").kind == kind


ROWS = [(Book("dm", "Dune Messiah (Dune, #2)", ("Frank Herbert",)), "same series: Dune"),
        (Book("hd", "Heretics of Dune (Dune, #5)", ("Frank Herbert",)), "same series: Dune"),
        (Book("tm", "The Martian", ("Andy Weir",)), "shares genres: Science Fiction")]


@pytest.mark.parametrize("ordinal, subject, focus, expected", [
    (2, "", "", "hd"), (-1, "", "", "tm"), (9, "", "", None),
    (0, "it", "tm", "tm"), (0, "it", "elsewhere", "dm"),  # "this one": the book in focus, else the top pick
    (0, "martian", "", "tm"), (0, "the martain", "", "tm"), (0, "heretics of dune", "", "hd"),
    (0, "o messias de duna", "", "dm"),  # a Portuguese title of a book on screen
    (0, "gone girl", "", None),  # a title not on screen is not guessed
])
def test_pointed_at_finds_the_book_on_screen(ordinal, subject, focus, expected):
    row = pointed_at(ROWS, ordinal, subject, focus)
    assert (row[0].id if row else None) == expected
