"""Mechanisms built from what development batch fresh 12 showed, each pinned with made-up books and
wordings written for this file (none is a fresh 12 sentence): what "like X but Y" changes (a time
in the past, the other side of the fiction line, a genre wanted in place of another, a genre named
after X without any "but"), a message that only turns genres away is a standing dislike, advice
asked for in everyday words is a vague ask, the adjective of a genre name names it, a folded
contraction is no topic, and "it" nobody typed is the book in focus even in Portuguese."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from smartlib_core.domain import Book
from smartlib_server.services.chat import asides, constraints, lexicon, link_tables
from smartlib_server.services.chat.handlers.books import target
from smartlib_server.services.chat.handlers.discover import _topical
from smartlib_server.services.chat.handlers.like_but import past_shelf, read_change
from smartlib_server.services.chat.request import Request
from smartlib_server.services.chat.resolver import Resolution
from smartlib_server.services.chat.session import Draft
from smartlib_server.services.chat.wording import Phrasebook

from .asking import ask

SHELF = (Book(id="k1", title="The Salt Cartographer", authors=("Ines Valbrook",), genres=("Fiction", "Adventure"), num_ratings=80_000),
         Book(id="k2", title="Ledgers of the Deep", authors=("Ines Valbrook",), genres=("Nonfiction", "Science"), num_ratings=30_000),
         Book(id="k3", title="It", authors=("Dorian Paske",), genres=("Horror",), num_ratings=50_000))


@pytest.fixture(scope="module")
def shelf():
    books = {b.id: b for b in SHELF}
    return link_tables.build((1, 1, len(books)), books), books


@pytest.mark.parametrize("modifier, language", [("but set long ago", "en"), ("only in olden days", "en"),
                                                ("mas que se passe no passado", "pt"), ("so que de epoca", "pt")])
def test_a_time_in_the_past_keeps_the_historical_shelf_that_fits_the_book(modifier, language):
    change = read_change(modifier, language)
    assert change.kind == "past"
    assert past_shelf(change, SHELF[0]).include == ("Historical Fiction",)  # beside a novel
    assert past_shelf(change, SHELF[1]).include == ("History",)  # beside a book of fact


@pytest.mark.parametrize("modifier, language, side, other", [
    ("only if it's made up", "en", "Fiction", "Nonfiction"), ("a real novel this time", "en", "Fiction", "Nonfiction"),
    ("mas de nao ficcao", "pt", "Nonfiction", "Fiction"), ("but a true story, nonfiction", "en", "Nonfiction", "Fiction"),
])
def test_a_side_of_the_fiction_line_keeps_it_and_leaves_the_other_out(modifier, language, side, other):
    change = read_change(modifier, language)
    assert change.include[:1] == (side,) and other in change.exclude


def test_a_genre_whose_name_holds_fiction_is_no_side_and_a_side_stays_with_another_change():
    assert read_change("but space opera science fiction", "en").exclude == ()
    shorter = read_change("a shorter novel", "en")
    assert shorter.kind == "shorter" and shorter.include == ("Fiction",)


@pytest.mark.parametrize("text, language, kept, gone", [
    ("horror rather than romance", "en", "Horror", "Romance"), ("fantasia em vez de terror", "pt", "Fantasy", "Horror"),
    ("mystery instead of thriller", "en", "Mystery", "Thriller"),
])
def test_a_genre_wanted_in_place_of_another_leaves_that_one_out(text, language, kept, gone):
    assert constraints.extract(text, language).exclude == (gone,)
    change = read_change(f"but {text}", language)
    assert change.include == (kept,) and change.exclude == (gone,)


@pytest.mark.parametrize("text", ["anything like The Salt Cartographer, but the horror kind",
                                  "anything like The Salt Cartographer? the horror kind please"])
def test_a_genre_named_after_the_book_is_the_change_with_or_without_but(shelf, text):
    request = ask(shelf, text, "similar")
    assert request.kind == "similar" and request.subject == "The Salt Cartographer"
    assert read_change(request.modifier, "en").include == ("Horror",)


def test_a_genre_before_the_book_is_no_change(shelf):
    assert ask(shelf, "horror fan here: anything like The Salt Cartographer?", "similar").modifier == ""


@pytest.mark.parametrize("text, pt", [("no horror for me from now on, ok?", False), ("pra mim nada de terror, ok?", True)])
def test_only_genres_turned_away_with_no_list_is_a_standing_dislike(shelf, text, pt):
    request = ask(shelf, text, "recommend", pt=pt)
    assert request.kind == "recommend" and request.dislikes == ("Horror",) and request.exclude == ("Horror",)
    narrowed = ask(shelf, text, "recommend", pt=pt, list_shown=True)  # a list on screen: that list, narrowed
    assert narrowed.kind == "refine" and narrowed.dislikes == ()


def test_a_genre_wanted_beside_one_turned_away_stores_nothing(shelf):
    assert ask(shelf, "fantasy, but no horror", "recommend").dislikes == ()


@pytest.mark.parametrize("text", ["hey, got any suggestions for me?", "alguma indicação pra hoje?"])
def test_advice_asked_in_everyday_words_is_a_vague_ask(shelf, text):
    assert ask(shelf, text, "off_topic").kind == "recommend"


@pytest.mark.parametrize("text", ["who won the game last night?", "any tips for my garden?"])
def test_a_message_with_a_topic_stays_off_topic(shelf, text):
    assert ask(shelf, text, "off_topic").kind == "off_topic"


def test_the_adjective_of_a_genre_name_names_it():
    assert lexicon.genre_phrases("nothing political please", "en") == [("political", "Politics")]
    assert lexicon.genre_phrases("um romance psicologico", "pt")[0] == ("psicologico", "Psychology")
    assert lexicon.genre_phrases("a dark philosophical novel", "en") == []  # a mood word stays a mood


@pytest.mark.parametrize("topic", ["theyd", "youll", "weve"])
def test_a_folded_contraction_is_no_topic(topic):
    assert asides.everyday(topic) and not _topical(f"whatever {topic} pick")


def test_a_word_that_only_ends_like_a_contraction_is_a_topic():
    assert not asides.everyday("whales") and _topical("whales")


@pytest.mark.parametrize("typed, expected", [("e os outros livros da série?", "k1"), ("me fala do it", "k3")])
def test_it_nobody_typed_is_the_book_in_focus_in_portuguese(typed, expected):
    books = {b.id: b for b in SHELF}
    kit = SimpleNamespace(books=books, ctx=SimpleNamespace(focus="k1"), turn=SimpleNamespace(text=typed),
                          resolver=SimpleNamespace(resolve=lambda subject, by="": Resolution("book", (books["k3"],))))
    found = target(kit, Request("series_order", subject="it"), Draft(Phrasebook("pt", "t")))
    assert found.book.id == expected


SAGA = tuple(Book(id=f"s{n}", title=f"Tidewright {n}", authors=("Marel Oss",), genres=("Fantasy",), series_name="Tidewright",
                  series_position=str(n), num_ratings=9_000 - n) for n in (1, 2, 3))


@pytest.mark.parametrize("typed, pt, cards", [("and the rest of that series?", False, ["s2", "s3"]),
                                              ("e os outros da serie?", True, ["s2", "s3"]),
                                              ("what order is it read in?", False, ["s1", "s2", "s3"])])
def test_the_other_books_of_the_series_in_focus_leave_that_book_out(typed, pt, cards):
    from smartlib_server.services.chat.handlers.series import series_order

    books = {b.id: b for b in (*SHELF, *SAGA)}
    kit = SimpleNamespace(books=books, ctx=SimpleNamespace(focus="s1"), turn=SimpleNamespace(text=typed),
                          resolver=SimpleNamespace(resolve=lambda subject, by="": Resolution("book", (books["k3"],))),
                          series_of=lambda book: list(SAGA))
    out = Draft(Phrasebook("pt" if pt else "en", "t"))
    series_order(kit, Request("series_order", subject="it"), out)  # "it": never the book titled It
    assert [b.id for b, _ in out.cards] == cards


@pytest.mark.parametrize("subject, first", [("Ledgers of the Deep", "k2"), ("Ines Valbrook", "k1")])
def test_who_wrote_a_book_leads_with_that_book(resolver_over, subject, first):
    from smartlib_server.services.chat.handlers.authors import who_wrote

    books = {b.id: b for b in SHELF}
    kit = SimpleNamespace(resolver=resolver_over(SHELF), books=books, ctx=SimpleNamespace(focus="", shown=[]))
    out = Draft(Phrasebook("en", "t"))
    who_wrote(kit, Request("who_wrote", subject=subject), out)
    assert [b.id for b, _ in out.cards] == [first, *(["k1"] if first == "k2" else ["k2"])] and out.focus == first


def test_a_genre_named_with_a_time_in_the_past_is_the_shelf():
    for modifier, language in (("so que mais antigo, um classico", "pt"), ("but from long ago, a classic", "en")):
        change = read_change(modifier, language)
        assert change.kind == "genre" and change.include == ("Classics",)


@pytest.mark.parametrize("text, pt", [("something to cry over, nothing for kids", False),
                                      ("quero algo pra chorar, sem ser infantil", True)])
def test_a_genre_turned_away_beside_another_want_stores_nothing(shelf, text, pt):
    request = ask(shelf, text, "recommend", pt=pt)
    assert request.dislikes == () and request.exclude


@pytest.mark.parametrize("intent", ["help", "memory_show"])
def test_advice_asked_in_everyday_words_under_an_unsure_reading_is_a_vague_ask(shelf, intent):
    assert ask(shelf, "what would you recommend me?", intent, confidence=0.4).kind == "recommend"
    assert ask(shelf, "what would you recommend me?", intent, confidence=0.9).kind == intent  # a sure reading stands


@pytest.mark.parametrize("topic", ["vc", "u", "ya"])
def test_a_chat_spelling_of_you_is_no_topic(topic):
    assert not _topical(f"what would {topic} pick for me")
