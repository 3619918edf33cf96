"""What a text answer says about why it came: the genre asked, the reader's words, the meaning."""
from __future__ import annotations

from smartlib_core.domain import Book
from smartlib_server.services.text_search import text_reason, text_reasons

BOOK = Book("b", "Salt", ("Ann Author",), description="The island keeps its secrets.", genres=("Fantasy", "Fiction"))


def test_each_part_that_found_a_book_is_named():
    query = "an island that keeps secrets"
    assert text_reason(query, BOOK, "words") == "matches your words"
    assert text_reason(query, BOOK, "meaning") == "close to your description (Fantasy)"
    assert text_reason(query, BOOK, "both") == "matches your words and close to your description (Fantasy)"


def test_a_named_genre_is_what_matches():
    assert text_reason("fantasy islands", BOOK, "both") == "matches Fantasy"


def test_one_query_s_reasons_serve_all_its_answers():
    other = Book("c", "Stars", ("Bo Writer",), genres=("Science Fiction",))
    reason = text_reasons("fantasy islands")  # the words split once for every answer below
    assert [reason(BOOK, "both"), reason(other, "both"), reason(other, "words"), reason(BOOK)] == [
        text_reason("fantasy islands", BOOK, "both"), text_reason("fantasy islands", other, "both"),
        text_reason("fantasy islands", other, "words"), text_reason("fantasy islands", BOOK)]
    assert reason(other, "meaning") == "close to your description (Science Fiction)"
    assert text_reasons("fiction about science")(other, "meaning") == "matches Science Fiction"  # by its words
