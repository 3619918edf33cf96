"""The BM25 index: words in and out with each write, accents folded, fields apart."""
from __future__ import annotations

import dataclasses

from smartlib_core.domain import Book
from smartlib_core.lexical import LexicalIndex, words
from smartlib_core.text import fold


def _book(book_id: str, title: str, description: str = "", authors: tuple[str, ...] = ("Ann Author",)) -> Book:
    return Book(id=book_id, title=title, authors=authors, description=description)


def _ids(index: LexicalIndex, query: str, field: str = "text") -> list[str]:
    return [book_id for book_id, _ in index.search(query, 10, field)]


def _catalog() -> LexicalIndex:
    index = LexicalIndex()
    index.upsert([
        _book("a", "The Lighthouse", "A keeper tends the lighthouse on a cold northern island."),
        _book("b", "Harbour Days", "A fisherman and his daughter mend nets in a small harbour town."),
        _book("c", "Salt", "The island keeps its secrets, and the sea keeps the rest."),
    ])
    return index


def test_a_rare_word_finds_its_book_at_once_and_not_after_its_delete():
    index = _catalog()
    index.upsert([_book("d", "Quiet Rooms", "An archivist catalogues a zeppelinarium of lost airships.")])
    assert _ids(index, "zeppelinarium") == ["d"]
    index.remove(["d"])
    assert _ids(index, "zeppelinarium") == []
    assert "d" not in index and len(index) == 3


def test_an_update_replaces_the_old_words():
    index = _catalog()
    index.upsert([_book("b", "Harbour Days", "A baker opens a shop of marzipan.")])
    assert _ids(index, "fisherman nets") == []
    assert _ids(index, "marzipan") == ["b"]
    assert len(index) == 3


def test_a_freed_row_keeps_nothing_of_its_old_book():
    index = _catalog()
    index.remove(["a"])
    index.upsert([_book("e", "Orchard", "Apples ripen slowly.")])
    assert _ids(index, "lighthouse keeper") == []
    assert _ids(index, "apples") == ["e"]


def test_the_rarer_shared_word_ranks_first():
    index = _catalog()
    # "island" is in two books, "lighthouse" in one: the book with both ranks above the other.
    assert _ids(index, "lighthouse island") == ["a", "c"]


def test_portuguese_accents_fold_both_ways():
    index = LexicalIndex()
    index.upsert([
        _book("pt", "Memórias Póstumas de Brás Cubas", "Um defunto autor conta a sua vida com ironia e coração.",
              authors=("Machado de Assis",)),
        _book("en", "Hearts", "A story about the heart."),
    ])
    assert _ids(index, "coracao") == ["pt"]
    assert _ids(index, "CORAÇÃO") == ["pt"]
    assert _ids(index, "memorias postumas bras cubas", "names") == ["pt"]
    assert words("Ação é São") == ["acao", "sao"]  # "é" is a Portuguese stopword


def test_words_agree_with_fold_on_non_ascii_text():
    text = "Naïve café-owner’s «Über» Straße, São Tomé — ½ crème brûlée"
    assert words(text) == fold(text).split() == [
        "naive", "cafe", "owners", "uber", "straße", "sao", "tome", "1", "2", "creme", "brulee"]


def test_names_leave_descriptions_out():
    index = _catalog()
    assert _ids(index, "fisherman", "names") == []
    assert _ids(index, "harbour", "names") == ["b"]
    assert sorted(_ids(index, "author", "names")) == ["a", "b", "c"]


def test_series_names_count_once_and_stopword_queries_find_nothing():
    index = LexicalIndex()
    book = _book("s", "The Fellowship of the Ring (The Lord of the Rings, #1)", authors=("J.R.R. Tolkien",))
    index.upsert([dataclasses.replace(book, series_name="The Lord of the Rings")])
    assert _ids(index, "lord rings", "names") == ["s"]
    assert _ids(index, "the of and") == []
    assert index.search("fellowship", 0) == []
    index.upsert([])  # a change log holding only deletes
    assert _ids(index, "fellowship") == ["s"]
