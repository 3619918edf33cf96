"""Mechanisms built from what development batch fresh 9 showed, each pinned with wordings written
for this file (none is a fresh 9 sentence): Portuguese "no" as "in the", a phrase that turns away
the name it is split around, readers' judgement said with a word of height, a taste the model half
read with a book named and no word of taste, words the model is sure ask nothing, a word that
counts the books asked for, an author named after a book the reader loved, a box set asked for in
order, and a catalog title inside a longer name the catalog lacks. Runs on the starter catalog's
link tables with the intent given, as test_fresh7_mechanisms.py does, or on made-up books."""
from __future__ import annotations

import pytest

from smartlib_core.domain import Book
from smartlib_server.services.chat import constraints, link_tables, reading_order
from smartlib_server.services.chat.linker import link
from smartlib_server.services.chat.messages import Phrasebook

from .asking import ask


def book(i, title, author="Ana Vale", series="", position="", ratings=1000):
    return Book(id=i, title=title, authors=(author,), genres=("Fiction",), num_ratings=ratings,
                series_name=series, series_position=position)


@pytest.mark.parametrize("text", ["queria uma fantasia boa pra ler no feriado", "tem terror pra ler no ônibus?"])
def test_portuguese_no_is_in_the_not_a_negation(catalog, text):
    request = ask(catalog, text, "recommend", pt=True)
    assert request.genres and not request.exclude


def test_english_no_still_turns_a_genre_away(catalog):
    assert ask(catalog, "fantasy please, no horror", "recommend").exclude == ("Horror",)


@pytest.mark.parametrize("text, pt", [
    ("some fantasy, but leave Tolkien out, I know him by heart", False),
    ("quero fantasia, mas deixa o Tolkien de fora", True),
])
def test_a_phrase_split_around_an_author_turns_that_author_away(catalog, text, pt):
    request = ask(catalog, text, "recommend", pt=pt)
    assert request.kind == "recommend" and request.shunned == ("J.R.R. Tolkien",) and request.genres == ("Fantasy",)


def test_a_negation_after_a_genre_belongs_to_the_next_one(catalog):
    # only a phrase across the name counts: "not" after "fantasy" turns away horror, not fantasy
    request = ask(catalog, "fantasy and not horror", "recommend")
    assert request.genres == ("Fantasy",) and request.exclude == ("Horror",)


@pytest.mark.parametrize("text", ["thrillers whose reviews are glowing", "fantasia com notas bem altas dos leitores",
                                  "poetry with seriously great ratings"])
def test_readers_judgement_with_a_word_of_height_orders_by_rating(text):
    found = constraints.extract(text, "en")
    assert found.sort == "rating"
    assert not {"reviews", "notas", "ratings", "leitores", "glowing", "great", "altas"} & set(found.rest.split())


def test_height_without_judgement_orders_nothing():
    assert constraints.extract("a thriller set in the high mountains", "en").sort == ""


def test_an_unsure_taste_without_a_word_of_taste_gives_the_books_facts(catalog):
    ranked = (("taste_dislike", 0.45), ("about_book", 0.3), ("compare", 0.1))
    request = ask(catalog, "bring up carrie real quick", "taste_dislike", confidence=0.45, ranked=ranked)
    assert request.kind == "about_book" and request.subject == "carrie"


def test_an_unsure_taste_with_a_word_of_taste_is_not_read_as_facts(catalog):
    ranked = (("taste_dislike", 0.45), ("about_book", 0.3), ("compare", 0.1))
    assert ask(catalog, "honestly I hated carrie", "taste_dislike", confidence=0.45, ranked=ranked).kind != "about_book"


def test_words_the_model_is_sure_ask_nothing_are_not_searched(catalog):
    sure = ask(catalog, "zebra lantern oatmeal ninety", "nonsense", confidence=0.95)
    unsure = ask(catalog, "zebra lantern oatmeal ninety", "nonsense", confidence=0.5)
    assert (sure.kind, sure.query, sure.subject) == ("nonsense", "", "")
    assert unsure.query  # a half-read description may still be searched, if the catalog can read it


@pytest.mark.parametrize("text", ["could you pick a handful of novels for me", "me indica um punhado de livros"])
def test_a_word_that_counts_the_books_is_no_topic(catalog, text):
    assert ask(catalog, text, "recommend", pt="livros" in text).query == ""


def test_the_counted_topic_still_stays(catalog):
    assert "lighthouses" in ask(catalog, "a stack of books about lighthouses", "recommend").query


def test_an_author_named_after_a_loved_book_asks_for_their_books(catalog):
    request = ask(catalog, "adored Carrie years ago, any more King?", "similar")
    assert (request.kind, request.subject, request.read) == ("author", "Stephen King", ("Carrie",))


def test_an_author_after_but_stays_a_change(catalog):
    request = ask(catalog, "something like Carrie but by Tolkien", "similar")
    assert request.kind == "similar" and request.subject == "Carrie"


def test_a_box_set_gathers_the_series_its_title_opens_with():
    names = {"the ember road": "The Ember Road", "ember": "Ember"}
    assert reading_order.gathered(book("b", "The Ember Road Series: Books 1-4"), names) == "The Ember Road"
    assert reading_order.gathered(book("c", "The Ember Road #1-3"), names) == "The Ember Road"
    assert reading_order.gathered(book("d", "The Ember Road Companion"), names) == ""  # no range: a book of its own
    assert reading_order.gathered(book("e", "The Ember Road 1-2", series="The Ember Road", position="1-2"), names) == ""


@pytest.fixture
def lantern():
    books = {b.id: b for b in (book("l", "Lantern", ratings=90_000), book("m", "Moss and Stone", "Rui Prado"))}
    return link_tables.build((1, 1, len(books)), books), books


def test_a_title_inside_a_longer_name_the_catalog_lacks_is_that_name(lantern):
    tables, books = lantern
    found = [(e.kind, e.text) for e in link("have you got The Lantern Keeper of Osvath?", tables, books)]
    assert found == [("unknown_title", "The Lantern Keeper of Osvath")]


def test_a_title_beside_everyday_words_keeps_its_link(lantern):
    tables, books = lantern
    found = [(e.kind, e.name) for e in link("Books Like Lantern For My Cousin Teodor", tables, books)]
    assert ("title", "Lantern") in found


def test_a_series_named_in_portuguese_is_found_through_its_cognates(resolver_over):
    saga = [book(f"s{n}", f"Book {n} (The Lanterns of Avalon, #{n})", series="The Lanterns of Avalon", position=str(n),
                 ratings=40_000) for n in (1, 2)]
    quiet = [book("q1", "Q (The Orchids of Calypso, #1)", series="The Orchids of Calypso", position="1", ratings=900)]
    keep = [book("k1", "K (The Citadel, #1)", series="The Citadel", position="1", ratings=80_000)]
    resolver = resolver_over([*saga, *quiet, *keep])
    found = resolver.resolve("As Lanternas de Avalão")
    assert (found.kind, found.name) == ("series", "The Lanterns of Avalon")
    assert resolver.resolve("As Orquídeas de Calipso").kind == "none"  # too little read to be meant by a respelt name
    assert resolver.resolve("A Cidadela").kind == "none"  # one respelt word is too easily another name


def test_a_name_ending_with_its_own_point_ends_the_sentence_once():
    text = Phrasebook("en", "s").t("author.list", count="4", author="Rui Prado Jr.", left_out="", order="best known first")
    assert "Rui Prado Jr. Here" in text and ".." not in text
