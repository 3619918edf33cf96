"""What a text answer says about why it came: the genre asked, the reader's words, the meaning."""
from __future__ import annotations

from smartlib_core.domain import Book
from smartlib_server.services.text_search import text_reason

BOOK = Book("b", "Salt", ("Ann Author",), description="The island keeps its secrets.", genres=("Fantasy", "Fiction"))


def test_each_part_that_found_a_book_is_named():
    query = "an island that keeps secrets"
    assert text_reason(query, BOOK, "words") == "matches your words"
    assert text_reason(query, BOOK, "meaning") == "close to your description (Fantasy)"
    assert text_reason(query, BOOK, "both") == "matches your words and close to your description (Fantasy)"


def test_a_named_genre_is_what_matches():
    assert text_reason("fantasy islands", BOOK, "both") == "matches Fantasy"
