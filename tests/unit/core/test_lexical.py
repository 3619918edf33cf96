"""The BM25 index: words in and out with each write, accents folded, fields apart."""
from __future__ import annotations

import dataclasses
import math
from collections import Counter

import pytest

from smartlib_core.domain import Book
from smartlib_core.lexical import K1, STOPWORDS, B, LexicalIndex, book_fields, words
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


def _textbook_bm25(books: list[Book], query: str) -> dict[str, float]:
    """BM25 of each book's text field for `query`, computed from scratch the textbook way."""
    docs = {b.id: Counter(words(book_fields(b)[0])) for b in books}
    average = sum(sum(c.values()) for c in docs.values()) / len(docs)
    scores: dict[str, float] = {}
    for word in dict.fromkeys(words(query)):
        holding = [i for i, c in docs.items() if word in c]
        idf = math.log(1 + (len(docs) - len(holding) + 0.5) / (len(holding) + 0.5))
        for i in holding:
            tf, length = docs[i][word], sum(docs[i].values())
            scores[i] = scores.get(i, 0.0) + idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / average))
    return scores


def test_scores_are_textbook_bm25_before_and_after_every_kind_of_write():
    """Each word's scores are kept between writes (a query only gathers and sums them), so a
    write that left a kept score stale would show here as a score off the textbook's."""
    books = [
        _book("a", "The Lighthouse", "A keeper tends the lighthouse on a cold island, the island of gulls."),
        _book("b", "Harbour Days", "A fisherman and his daughter mend nets in a small harbour town by the sea."),
        _book("c", "Salt", "The island keeps its secrets, and the sea keeps the rest."),
        _book("d", "Gulls", "Gulls over the harbour; a keeper of birds."),
    ]
    query = "island keeper harbour sea gulls"
    index = LexicalIndex()

    def check(served: list[Book]) -> None:
        expected = _textbook_bm25(served, query)
        found = dict(index.search(query, 10))
        assert found.keys() == expected.keys()
        for book_id, score in expected.items():
            assert found[book_id] == pytest.approx(score, rel=1e-5)
        assert list(found) == sorted(expected, key=lambda i: (-expected[i], [b.id for b in served].index(i)))

    index.upsert(books[:3])
    check(books[:3])
    check(books[:3])  # asked again: from the kept scores
    index.upsert([books[3]])  # a new book: more documents, another average length
    check(books)
    changed = _book("b", "Harbour Days", "A baker by the sea, far from any island.")
    index.upsert([changed])  # an update in place
    check([books[0], changed, books[2], books[3]])
    index.remove(["a"])
    check([changed, books[2], books[3]])


def test_ascii_text_folds_as_text_fold_does_for_every_ascii_character():
    # ASCII text takes a translate table instead of the regex; every ASCII character sits
    # between two words here, so a character the two treat differently shows up.
    text = " ".join(f"Word{n}{chr(n)}Next" for n in range(128)) + " don't The Reader's"
    assert text.isascii()
    assert words(text) == [w for w in fold(text).split() if w not in STOPWORDS]


def test_counting_each_books_words_fast_indexes_what_the_analyser_says():
    # The default analyser counts every folded word and then drops the stopwords; any other
    # analyser is counted as it is. Both must index the same words with the same counts.
    books = [
        _book("a", "The Keeper's Lighthouse", "The keeper, the keeper and the sea: a lighthouse of the north."),
        _book("b", "Coração de Pedra", "Um coração de pedra e uma casa à beira do mar, sem ninguém."),
        _book("c", "It Is What It Is", "Is it? It is. And it was, and it will be, what it is!"),
    ]
    fast, reference = LexicalIndex(), LexicalIndex(analyse=lambda text: words(text))
    fast.upsert(books)
    reference.upsert(books)
    for query in ("keeper sea", "coracao pedra mar", "lighthouse north", "what was it"):
        assert fast.search(query, 10) == reference.search(query, 10)
        assert fast.search(query, 10, "names") == reference.search(query, 10, "names")
    assert fast.nbytes() == reference.nbytes()
