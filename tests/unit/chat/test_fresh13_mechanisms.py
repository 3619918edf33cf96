"""Mechanisms built from what development batch fresh 13 showed, each pinned with made-up books and
wordings written for this file (none is a fresh 13 sentence): two places of the list on screen
compared ("weigh the top two against each other"), and laughter typed the Brazilian way ("kkkk",
"rsrs") as the language of a message with no words."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from smartlib_core.domain import Book
from smartlib_server.services.chat import link_tables, linker
from smartlib_server.services.chat.handlers.compare import _side, compare
from smartlib_server.services.chat.language import detect
from smartlib_server.services.chat.request import Request
from smartlib_server.services.chat.session import Draft
from smartlib_server.services.chat.toolkit import Toolkit
from smartlib_server.services.chat.wording import Phrasebook

from .asking import ask, catalog_of, linked

SHELF = (Book(id="m1", title="The Salt Cartographer", authors=("Ines Valbrook",), genres=("Fiction", "Adventure"), num_ratings=80_000),
         Book(id="m2", title="Ledgers of the Deep", authors=("Ines Valbrook",), genres=("Nonfiction", "Science"), num_ratings=30_000),
         Book(id="m3", title="Quiet Harbour Lights", authors=("Dorian Paske",), genres=("Romance",), num_ratings=50_000),
         Book(id="m4", title="A Lantern for Crows", authors=("Dorian Paske",), genres=("Horror",), num_ratings=20_000))


@pytest.fixture(scope="module")
def shelf():
    books = {b.id: b for b in SHELF}
    return link_tables.build((1, 1, len(books)), books), books


@pytest.mark.parametrize("text, language, pair", [
    ("can you weigh the top two against each other?", "en", ("#1", "#2")),
    ("whats the difference between the 2nd and the third", "en", ("#2", "#3")),
    ("how do the last two compare", "en", ("#-2", "#-1")),
    ("qual a diferença entre as duas primeiras?", "pt", ("#1", "#2")),
    ("o segundo versus o quarto", "pt", ("#2", "#4")),
])
def test_two_places_of_the_list_on_screen_compared_are_a_comparison_of_those_books(shelf, text, language, pair):
    for intent in ("pick", "compare", "about_book"):
        request = ask(shelf, text, intent, pt=language == "pt", list_shown=True)
        assert (request.kind, request.pairs) == ("compare", (pair,))


@pytest.mark.parametrize("text, list_shown", [
    ("tell me about the first two", True),  # two places, nothing weighed
    ("compare the top two", False),  # no list on screen to point into
    ("is the second one better than the salt cartographer?", True),  # one place only
    ("which is better, the second or the fourth?", True),  # choosing one by place is a pick (boundary decision)
])
def test_a_comparison_needs_two_places_and_a_list(shelf, text, list_shown):
    request = ask(shelf, text, "pick", list_shown=list_shown)
    assert not any(side.startswith("#") for pair in request.pairs for side in pair)


def test_two_titles_named_outrank_places_beside_them(shelf):
    request = ask(shelf, "skip the top two, compare Quiet Harbour Lights and A Lantern for Crows", "compare", list_shown=True)
    assert request.kind == "compare" and not any(side.startswith("#") for side in request.pairs[0])


def _kit():
    kit = SimpleNamespace(ctx=SimpleNamespace(shown=[(b.id, "") for b in SHELF], focus=""), books={b.id: b for b in SHELF})
    kit.shown_book = lambda n: Toolkit.shown_book(kit, n)
    return kit


def test_a_place_past_the_end_is_said_so_not_looked_up_as_a_title():
    out = Draft(Phrasebook("en", "t"))
    compare(_kit(), Request("compare", pairs=(("#1", "#6"),)), out)
    assert out.text == out.p.t("pick.out_of_range") and not out.cards


def test_a_place_resolves_to_the_book_there_counting_back_from_the_end():
    kit = _kit()
    assert _side(kit, "#2").book.id == "m2"
    assert _side(kit, "#-2").book.id == "m3"  # the one before the last
    assert _side(kit, "#-1").book.id == "m4"
    assert _side(kit, "#7").kind == "none"  # past the end


@pytest.mark.parametrize("text, language", [
    ("kkkk hjfg xcvb", "pt"), ("rsrsrs zxqw", "pt"), ("kkkkkkkkkkk", "pt"),  # Brazilian laughter beside a keyboard mash
    ("lmao fjdksl", "en"), ("rofl qqq", "en"),
])
def test_laughter_says_the_language_of_a_message_with_no_words(text, language):
    assert detect(text).language == language


def test_a_laugh_is_one_word_of_evidence_not_more():
    assert detect("kkkk where can I find a good thriller").language == "en"
    assert detect("kk sdfg").language is None  # two k's are no laugh


MEMOIR = (Book(id="n1", title="Orsolya Vantreck's Notebooks", authors=("Someone Else",), genres=("Biography",), num_ratings=900_000),
          Book(id="n2", title="The Glass Orchard", authors=("Orsolya Vantreck",), genres=("Mystery",), num_ratings=400_000))


@pytest.mark.parametrize("text", ["what should i read after orsolya vantrek?", "more Orsolia Vantreck please"])
def test_a_close_typo_of_an_author_outranks_the_loose_start_of_a_title_of_that_name(text):
    # the name misspelt matches the author closely (over 92) and the memoir's title only loosely (85):
    # on one span the close match is chosen, whatever kind ranks first among exact names
    tables, _ = catalog_of(MEMOIR)
    tokens = linker._tokens(text)
    chosen = linker._select(linker._fuzzy(tokens, tables, set()), tokens, tables)
    assert [(m.target.kind, m.target.name) for m in chosen] == [("author", "Orsolya Vantreck")]
    assert linked(catalog_of(MEMOIR), text) == [("author", "Orsolya Vantreck")]
