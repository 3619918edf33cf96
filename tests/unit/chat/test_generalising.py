"""Mechanisms built from what development batch fresh 5 showed, each pinned with wordings written
for this file (none is a fresh 5 sentence): numbers that count rather than point into a list, an
author's name in the plural, the safer of two readings of an ask about one book, a comparison
whose two books the linker joined into one omnibus title, a negation of having read that is no
dislike, a child's age said outside the "but", and forgetting only the genres named. Runs on the
starter catalog's link tables with the intent given, as test_interpret.py does."""
from __future__ import annotations

import dataclasses

import pytest

from smartlib_core.domain import Book
from smartlib_core.text import fold
from smartlib_server.adapters.memory.in_process import InProcessConversationMemory
from smartlib_server.services.chat import lexicon, link_tables, tastes
from smartlib_server.services.chat.handlers.like_but import read_change
from smartlib_server.services.chat.interpret import to_request
from smartlib_server.services.chat.linker import link
from smartlib_server.services.chat.session import Context
from smartlib_server.services.chat.understand import finish


def understood(catalog, text, intent, confidence=0.9, ranked=()):
    tables, books = catalog
    return finish(text, intent, confidence, link(text, tables, books), text, ranked or ((intent, confidence),), threshold=0.7)


def ask(catalog, text, intent, confidence=0.9, ranked=(), **situation):
    u = understood(catalog, text, intent, confidence, ranked)
    return to_request(u, text, "pt" if situation.pop("pt", False) else "en", **situation)


@pytest.mark.parametrize("text", [
    "finished Mistborn at 2am, so what now?",
    "terminei a fundação às 23h, e agora?",
    "read it in the 90s, what comes after it",
    "I have a 3 hour train ride, what comes after Dune?",
    "devoured 4 Pratchetts this month, what comes next?",
])
def test_a_number_that_counts_or_tells_the_time_is_no_list_position(catalog, text):
    assert understood(catalog, text, "series_next").ordinal == 0


@pytest.mark.parametrize("text, position", [("what about #2?", 2), ("and the 3rd one?", 3), ("why number 4", 4)])
def test_list_positions_still_read(catalog, text, position):
    assert understood(catalog, text, "why").ordinal == position


@pytest.mark.parametrize("text, author", [
    ("just binged two Sandersons in a row, more please", "Brandon Sanderson"),
    ("quero mais uns gaimans pra ler", "Neil Gaiman"),
    ("Tolkien's books in order", "J.R.R. Tolkien"),
])
def test_an_author_in_the_plural_stands_for_their_books(catalog, text, author):
    tables, books = catalog
    assert [e.name for e in link(text, tables, books) if e.kind == "author"] == [author]


def test_unsure_between_a_book_and_books_like_it_gives_the_book(catalog):
    unsure = (("similar", 0.41), ("about_book", 0.39), ("compare", 0.1))
    r = ask(catalog, "Neverwhere -- hype or the real deal?", "similar", 0.41, unsure)
    assert (r.kind, fold(r.subject)) == ("about_book", "neverwhere")
    # sure of the likeness, or a change asked for, or a genre beside the book: still books like it
    assert ask(catalog, "Neverwhere -- hype or the real deal?", "similar", 0.95).kind == "similar"
    assert ask(catalog, "like Neverwhere but shorter", "similar", 0.41, unsure).kind == "similar"
    assert ask(catalog, "Neverwhere, any more urban fantasy like that?", "similar", 0.41, unsure).kind == "similar"


def test_unsure_between_the_next_book_and_the_order_lists_the_series(catalog):
    unsure = (("series_next", 0.35), ("series_order", 0.3), ("compare", 0.2))
    r = ask(catalog, "the Foundation books by Asimov, how do they go?", "series_next", 0.35, unsure)
    assert (r.kind, fold(r.subject)) == ("series_order", "foundation")
    assert ask(catalog, "the Foundation books by Asimov, how do they go?", "series_next", 0.35,
               (("series_next", 0.35), ("compare", 0.3))).kind == "series_next"


def test_two_books_the_linker_joined_are_compared(catalog):
    tables, books = catalog
    omnibus = Book("omni", "Dune / Foundation", ("Nobody",), num_ratings=10)  # an omnibus named after both
    joined = {**books, omnibus.id: omnibus}
    text = "o que muda entre dune e foundation?"
    u = finish(text, "compare", 0.9, link(text, link_tables.build((2, 2, len(joined)), joined), joined), text,
               (("compare", 0.9),), threshold=0.7)
    assert [e.name for e in u.of("title")] == ["Dune / Foundation"]  # linked as the omnibus
    assert to_request(u, text, "pt").pairs[0] == ("dune", "foundation")


@pytest.mark.parametrize("text, intent, genre", [
    ("poetry for someone who has never read any", "recommend", "Poetry"),
    ("nunca li nada de terror, por onde começo?", "recommend", "Horror"),
    ("haven't tried sci-fi yet, a good first one?", "recommend", "Science Fiction"),
])
def test_never_having_read_a_genre_is_no_dislike_of_it(catalog, text, intent, genre):
    r = ask(catalog, text, intent)
    assert genre in r.genres and genre not in r.exclude


@pytest.mark.parametrize("text, genre", [("never liked poetry, anything else", "Poetry"), ("não suporto terror", "Horror")])
def test_other_negations_still_dislike(catalog, text, genre):
    assert genre in ask(catalog, text, "taste_dislike").dislikes


@pytest.mark.parametrize("text, audience", [
    ("my niece is 7 and loves Narnia", "children"),
    ("meu afilhado fez 8 e quer algo assim", "children"),
    ("my son just turned 15", "teen"),
    ("the flight is 9 hours long", ""),
])
def test_a_childs_age_said_as_a_fact(text, audience):
    assert lexicon.audience(fold(text)) == audience


def test_who_the_book_is_for_outside_the_but_changes_the_list(catalog):
    r = ask(catalog, "my niece is 7, she wants something like Howl's Moving Castle but less scary", "similar")
    change = read_change(r.modifier, "en")
    assert (change.kind, change.include) == ("genre", ("Childrens",))  # "less scary" keeps no Horror in


def test_forgetting_named_genres_keeps_the_rest(catalog):
    r = ask(catalog, "scratch what I said about horror", "memory_forget", 0.6,
            (("memory_forget", 0.6), ("taste_dislike", 0.2)))
    assert (r.kind, r.genres) == ("memory_forget", ("Horror",))
    memory = InProcessConversationMemory()
    memory.remember("ana", liked_genres=["fantasy", "horror"], disliked_genres=["romance"], liked=["b1"])
    tastes.forget_genres(memory, "ana", ("Horror",))
    profile = memory.profile("ana")
    assert (profile.liked_genres, profile.disliked_genres, profile.liked) == (("fantasy",), ("romance",), ("b1",))
    ctx = Context.from_records([{"likes": ["fantasy", "horror"]}, {"forget_genres": ["horror"]}])
    assert ctx.likes == ["fantasy"]


def test_forgetting_with_nothing_named_still_erases_everything(catalog):
    r = ask(catalog, "wipe everything you know about me", "memory_forget")
    assert (r.kind, r.genres) == ("memory_forget", ())
    assert dataclasses.replace(r).kind == "memory_forget"


@pytest.fixture(scope="module")
def understander(catalog):
    from smartlib_core.embedding import MiniLMTextEncoder
    from smartlib_server.services.chat.linker import Linker
    from smartlib_server.services.chat.understand import Understander

    encoder = MiniLMTextEncoder.for_queries()
    index = type("Index", (), {"books": catalog[1], "version": 1})()
    return Understander(Linker(index), lambda texts: encoder(texts))


@pytest.mark.parametrize("text, title", [
    ("is the road any good or just bleak?", "The Road"),
    ("the help: worth my weekend?", "The Help"),
])
def test_a_title_in_everyday_words_is_read_again_as_a_title(understander, text, title):
    from smartlib_server.services.chat.understand import Situation

    u = understander.complete(text, understander(text, Situation()))
    assert u.intent == "about_book" and [e.name for e in u.of("title")] == [title]


def test_small_talk_without_a_title_stays_small_talk(understander):
    from smartlib_server.services.chat.understand import Situation

    text = "how is the weather where you are?"
    u = understander.complete(text, understander(text, Situation()))
    assert u.intent != "about_book" and not u.of("title")


@pytest.mark.parametrize("text, genre", [
    ("need a book that'll crack me up, I want to laugh", "Humor"),
    ("quero dar umas risadas", "Humor"),
    ("a story set on a starship far from earth", "Science Fiction"),
    ("algo que me faça ter pesadelos, quero me assustar", "Horror"),
])
def test_what_a_book_should_do_names_its_genre(catalog, text, genre):
    assert genre in ask(catalog, text, "recommend").genres


def test_a_lowercase_word_is_no_little_read_title():
    books = {
        "hush": Book("hush", "Hush", ("Someone Obscure",), num_ratings=90),
        "dune": Book("dune", "Dune", ("Frank Herbert",), num_ratings=1_300_000),
        "dusk": Book("dusk", "Dusk", ("Someone Unrated",)),  # no count: as read as any
    }
    tables = link_tables.build((3, 3, len(books)), books)
    assert [e.kind for e in link("something to hush the noise in my head", tables, books)] == []
    assert [e.name for e in link("is Hush any good?", tables, books)] == ["Hush"]  # capitalised: the reader means the book
    assert [e.name for e in link("books like dune please", tables, books)] == ["Dune"]  # well read: linked lowercase
    assert [e.name for e in link("tell me about dusk", tables, books)] == ["Dusk"]


def test_a_number_of_stars_is_a_measure_and_an_order_by_rating():
    books = {"stars": Book("stars", "7 Stars", ("Someone",), num_ratings=500),
             "dune": Book("dune", "Dune", ("Frank Herbert",), num_ratings=1_300_000)}
    tables = link_tables.build((4, 4, len(books)), books)
    text = "horror with 7 stars only"
    entities = link(text, tables, books)
    assert [(e.kind, e.name) for e in entities] == [("genre", "Horror"), ("number", "7")]  # not the book "7 Stars"
    u = finish(text, "recommend", 0.9, entities, text, (("recommend", 0.9),), threshold=0.7)
    assert to_request(u, text, "en").sort == "rating"


@pytest.mark.parametrize("text", [
    "do you have the glass orchards of venmoor by ottilie brackwater",
    "queria a casa das nove luas, da rosalba tiquérrima",
])
def test_a_book_by_an_author_the_catalog_lacks_is_a_missing_title(catalog, text):
    tables, books = catalog
    assert [e.kind for e in link(text, tables, books)] == ["unknown_title"]


def test_a_byline_the_catalog_knows_is_no_missing_title(catalog):
    tables, books = catalog
    assert "unknown_title" not in [e.kind for e in link("anything good by terry pratchett", tables, books)]


def test_a_position_named_keeps_the_next_book_ask(catalog):
    unsure = (("series_next", 0.5), ("series_order", 0.3))
    # "first" says which book was read; "the second" is then the book asked for, by its place (the same
    # book the one after the first would be), since fresh 10's ordinal rule (asides.book_at)
    r = ask(catalog, "read the first Foundation, which is the second?", "series_next", 0.5, unsure)
    assert (r.kind, r.ordinal) == ("series_order", 2)


def test_a_genre_the_ask_turns_away_is_not_added_by_its_words(catalog):
    r = ask(catalog, "a thriller please, nothing horror-ish, I scare easily", "recommend")
    assert "Horror" not in r.genres and "Horror" in r.exclude


def test_leaving_out_a_genre_leaves_out_its_narrower_cases():
    from smartlib_core.domain import BookFilter
    from smartlib_server.services.chat.toolkit import with_narrower

    ww2 = Book("ww2", "A Novel of 1943", ("Someone",), genres=("Historical Fiction", "World War II"))
    kept = Book("kept", "A Quiet Village", ("Someone",), genres=("Historical Fiction",))
    filt = BookFilter(exclude_genres=frozenset(with_narrower(["War"])))
    assert (filt.accepts(ww2), filt.accepts(kept)) == (False, True)


@pytest.mark.parametrize("text", [
    "what comes after dune of varkessa? need the sequel",
    "alguém leu o hobbit de trevanholm? vale a pena?",
])
def test_a_catalog_title_extended_by_unheard_words_is_a_missing_title(catalog, text):
    tables, books = catalog
    assert [e.kind for e in link(text, tables, books)] == ["unknown_title"]


def test_a_title_extended_by_a_catalog_name_stays_that_title(catalog):
    tables, books = catalog
    assert [e.kind for e in link("what comes after dune of herbert?", tables, books)] == ["title", "author"]
    assert [e.kind for e in link("is the name of the wind worth it?", tables, books)] == ["title"]
