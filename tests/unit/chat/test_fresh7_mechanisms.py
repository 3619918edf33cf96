"""Mechanisms built from what development batch fresh 7 showed, each pinned with wordings written
for this file (none is a fresh 7 sentence): an author's name transliterated as another language
writes it, a series named without the word its name ends with, "book N" as the book at that place
in a series, a series qualified by its author, one book named in an unsure comparison, a feeling
wanted from a book with no genre word, and a taste said in passing while asking for something
else. Runs on the starter catalog's link tables with the intent given, as test_generalising.py
does."""
from __future__ import annotations

import dataclasses

import pytest

from smartlib_core.domain import Book
from smartlib_core.text import fold
from smartlib_server.services.chat import link_tables, spelling
from smartlib_server.services.chat.linker import link

from .asking import ask


def linked(catalog, text, kind):
    tables, books = catalog
    return [e.name for e in link(text, tables, books) if e.kind == kind]


@pytest.mark.parametrize("a, b", [("dostoievski", "dostoevsky"), ("dostoyevski", "dostoevsky"), ("tchekhov", "chekhov"),
                                  ("soljenitsin", "solzhenitsyn"), ("tolstoi", "tolstoy"), ("turgueniev", "turgenev")])
def test_two_transliterations_of_one_name_share_a_key(a, b):
    assert spelling.sound_key(a) == spelling.sound_key(b)


def test_different_names_keep_different_keys():
    assert spelling.sound_key("tolkien") != spelling.sound_key("tolstoy")
    assert spelling.sound_key("poe") == ""  # too short to rewrite safely


@pytest.mark.parametrize("text, author", [
    ("tem alguma coisa do tolstói aí?", "Leo Tolstoy"),
    ("quero começar pelo dostoiévski, qual primeiro?", "Fyodor Dostoevsky"),
    ("anything by dostoyevski that isn't a doorstopper", "Fyodor Dostoevsky"),
])
def test_an_author_transliterated_another_way_is_linked(catalog, text, author):
    assert linked(catalog, text, "author") == [author]


def test_a_title_head_naming_an_author_in_another_spelling_is_no_title():
    # "Tolstoi: a life" is a book about the author; the name alone means the author
    def book(i, title, author, ratings):
        return Book(id=i, title=title, authors=(author,), genres=("Fiction",), num_ratings=ratings)
    books = {b.id: b for b in (book("w", "War and Peace", "Leo Tolstoy", 900_000), book("l", "Tolstoi: A Life in Letters", "Ana Vale", 40))}
    tables = link_tables.build((1, 1, 2), books)
    assert [(e.kind, e.name) for e in link("algo do tolstoi", tables, books)] == [("author", "Leo Tolstoy")]


@pytest.mark.parametrize("text, series", [
    ("the farseer books, what order?", "Farseer Trilogy"),
    ("em que ordem vão os livros de hainish?", "Hainish Cycle"),
    ("where does the kingkiller story start", "The Kingkiller Chronicle"),
])
def test_a_series_named_without_its_last_word(catalog, text, series):
    assert linked(catalog, text, "series") == [series]


def test_a_series_head_that_is_a_title_stays_the_title(catalog):
    assert linked(catalog, "red rising in order please", "title") == ["Red Rising (Red Rising Saga, #1)"]


@pytest.mark.parametrize("text, intent, position", [
    ("finished mistborn last night. book 2?", "series_next", 2),
    ("terminei o primeiro de mistborn, e o livro 3?", "series_next", 3),
    ("mistborn book 3, is it good?", "about_book", 3),
])
def test_book_n_asks_for_the_book_at_that_place(catalog, text, intent, position):
    r = ask(catalog, text, intent)
    assert (r.kind, fold(r.subject), r.ordinal) == ("series_order", "mistborn", position)


def test_what_comes_after_book_n_stays_the_next_book(catalog):
    r = ask(catalog, "what comes after mistborn book 2?", "series_next")
    assert (r.kind, r.ordinal) == ("series_next", 2)


def test_a_series_qualified_by_its_author_is_the_series(catalog):
    r = ask(catalog, "in what order should I read Sanderson's Mistborn?", "series_order")
    assert (r.kind, fold(r.subject)) == ("series_order", "mistborn")


def test_one_book_in_an_unsure_comparison_gets_its_facts(catalog):
    unsure = (("compare", 0.5), ("about_book", 0.4), ("similar", 0.05))
    r = ask(catalog, "is neverwhere worth it or just hyped?", "compare", 0.5, unsure)
    assert (r.kind, fold(r.subject)) == ("about_book", "neverwhere")
    assert ask(catalog, "is neverwhere worth it or just hyped?", "compare", 0.95).kind == "compare"  # sure: left alone


@pytest.mark.parametrize("text, intent, genres, query", [
    ("I could do with a book that has me crying on the bus", "off_topic", (), "sad"),
    ("quero morrer de rir hoje", "off_topic", ("Humor",), ""),
    ("need to get properly spooked this weekend", "nonsense", ("Horror",), ""),
])
def test_a_feeling_wanted_from_a_book_is_an_ask_for_books(catalog, text, intent, genres, query):
    r = ask(catalog, text, intent, 0.5)
    assert r.kind == "recommend" and r.genres == genres and query in r.query


def test_off_topic_without_a_feeling_stays_off_topic(catalog):
    assert ask(catalog, "will it rain in lisbon tomorrow?", "off_topic", 0.5).kind != "recommend"


@pytest.mark.parametrize("text, intent, likes, dislikes", [
    ("I'm a huge fan of horror, anything like The Shining?", "similar", ("Horror",), ()),
    ("adoro fantasia urbana, tem algo tipo Neverwhere?", "similar", ("Urban Fantasy",), ()),
    ("ugh I hate romance. some fantasy please", "recommend", (), ("Romance",)),
    ("sou apaixonada por terror, tem algo tipo O Iluminado?", "similar", ("Horror",), ()),
])
def test_a_taste_said_in_passing_is_kept(catalog, text, intent, likes, dislikes):
    r = ask(catalog, text, intent)
    assert (r.likes, r.dislikes) == (likes, dislikes)


@pytest.mark.parametrize("text, intent", [
    ("do you like horror? something like The Shining", "similar"),  # a question to the agent
    ("fantasy without romance please", "recommend"),  # an exclusion, no liking word
])
def test_no_taste_is_read_where_none_is_stated(catalog, text, intent):
    r = ask(catalog, text, intent)
    assert (r.likes, r.dislikes) == ((), ())


def test_the_session_keeps_authors_liked_and_disliked():
    from smartlib_server.services.chat.session import Context
    ctx = Context.from_records([{"liked_authors": ["Jane Austen"]}, {"disliked_authors": ["Dan Brown", "Jane Austen"]},
                                {"liked_authors": ["Dan Brown"]}])
    assert (ctx.liked_authors, ctx.disliked_authors) == (["Dan Brown"], ["Jane Austen"])
    assert dataclasses.replace(ctx).liked_authors == ["Dan Brown"]


def test_an_author_named_as_a_favourite_stays_a_taste_when_the_model_half_thinks_so(catalog):
    unsure = (("taste_like", 0.6), ("author", 0.3), ("off_topic", 0.05))
    r = ask(catalog, "minha autora preferida é a Agatha Christie", "taste_like", 0.6, unsure)
    assert (r.kind, r.subject) == ("taste_like", "Agatha Christie")
    # no liking word: the one author named is asked about, as before
    r = ask(catalog, "explore Terry Pratchett, where to dip in?", "taste_like", 0.6, unsure)
    assert (r.kind, r.subject) == ("author", "Terry Pratchett")
