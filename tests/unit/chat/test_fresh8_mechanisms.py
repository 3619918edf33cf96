"""Mechanisms built from what development batch fresh 8 showed, each pinned with made-up books and
wordings written for this file (none is a fresh 8 sentence): when one of several same-named books or
authors is what a reader means (how much more it is read, and whether the next is widely read
itself), a surname several well-read authors share, a comparison whose second side the linker could
not settle, and a feeling the reader orders the agent itself to cause."""
from __future__ import annotations

import pytest

from smartlib_core.domain import Book
from smartlib_server.services.chat import asides, link_tables
from smartlib_server.services.chat.dominance import WIDELY_READ, stands_out
from smartlib_server.services.chat.linker import link
from smartlib_server.services.chat.resolver import dominant
from tests.unit.chat.test_fresh7_mechanisms import ask


def _book(i: str, title: str, author: str, ratings: int, rank: int = -1, genres: tuple[str, ...] = ("Fiction",)) -> Book:
    return Book(i, title, (author,), genres=genres, num_ratings=ratings, list_rank=rank)


def test_a_widely_read_runner_up_is_a_real_alternative_whatever_the_ratio():
    bestseller = _book("b", "Ashfall", "Nora Quint", 4_000_000, 10)
    classic = _book("c", "Ashfall", "Edwin Marchbanks", 250_000, 900, ("Classics",))
    obscure = _book("o", "Ashfall", "Pip Yarrow", 60_000, 3000, ("Poetry",))
    assert dominant([bestseller, classic]) is None  # 16 times more read, but a quarter of a million readers know the other
    assert dominant([bestseller, obscure]).id == "b"  # 66 times more read, and the other little known
    assert stands_out(10 * (WIDELY_READ - 1), WIDELY_READ - 1) and not stands_out(10 * WIDELY_READ, WIDELY_READ)


# Two well-read authors share "Halloran", one "Vexley" author stands out, and a little-read Halloran
# is no choice worth offering.
AUTHORS = [
    _book("h1", "The Salt Orchard", "Maeve Halloran", 2_000_000, 20),
    _book("h2", "Tin Lanterns", "Maeve Halloran", 300_000, 400),
    _book("h3", "The Quiet Ledger", "Osric Halloran", 220_000, 700, ("Classics",)),
    _book("h4", "Notes on Moss", "Tamsin Halloran", 2_000, 5000),
    _book("v1", "Glass Harbour", "Ida Vexley", 900_000, 60),
    _book("v2", "Small Rooms", "Rolf Vexley", 40_000, 4000),
]


@pytest.fixture(scope="module")
def shared():
    books = {b.id: b for b in AUTHORS}
    return link_tables.build((7, 1, len(books)), books), books


def test_a_surname_several_well_read_authors_share_names_them_all(shared):
    tables, books = shared
    [author] = [e for e in link("got anything from halloran?", tables, books) if e.kind == "author"]
    assert author.name == "Halloran" and set(author.ids) == {"h1", "h3"}  # each one's best known; not the little-read one
    [vexley] = [e for e in link("something by vexley", tables, books) if e.kind == "author"]
    assert vexley.name == "Ida Vexley"  # 22 times more read, and Rolf is little known: no question


def test_the_resolver_asks_which_author_with_each_ones_best_known_book(resolver_over):
    resolver = resolver_over(AUTHORS)
    which = resolver.author("Halloran", loose=False)
    assert which.kind == "ambiguous" and [b.id for b in which.books] == ["h1", "h3"]
    assert resolver.author("vexley").name == "Ida Vexley"
    assert resolver.author("osric halloran").name == "Osric Halloran"  # a full name is no question


def test_a_comparison_whose_other_side_is_written_as_a_name_stays_a_comparison(catalog):
    unsure = (("compare", 0.6), ("about_book", 0.3), ("similar", 0.05))
    # "The Girl" starts several starter titles, so the linker leaves it; the reader still named two books
    assert ask(catalog, "which is better, The Girl or Dune?", "compare", 0.6, unsure).kind == "compare"
    # nothing named across the "or": the one book's facts, as before
    assert ask(catalog, "is dune great or is it just hype?", "compare", 0.6, unsure).kind == "about_book"


@pytest.mark.parametrize("text, feeling", [
    ("make me laugh out loud with a dumb joke", False),  # the agent itself is asked to entertain
    ("me faz rir um pouco, vai", False),
    ("make me laugh out loud with a short book", True),  # a book is asked for
    ("got anything that would make me laugh till i cry?", True),  # what a book should do
])
def test_a_feeling_ordered_of_the_agent_is_no_ask_for_books(text, feeling):
    assert asides.feeling(text) is feeling


# Titles of everyday words, one well read, one little read, one whose count the catalog lacks.
EVERYDAY = [
    _book("w1", "Winter", "Hale Brisco", 120_000, 50),
    _book("w2", "Morning", "Lucan Ferris", 900, 5000),
    _book("w3", "Morning (Tidewater, #2)", "Esme Varga", 0, 7000),
    _book("w4", "Summer", "Ned Ostrow", 700, 8000),
]


class _Index:
    version = 1

    def __init__(self, books):
        self.books = {b.id: b for b in books}


@pytest.fixture(scope="module")
def everyday():
    from smartlib_server.services.chat.linker import Linker
    from smartlib_server.services.chat.understand import Understander

    return Understander(Linker(_Index(EVERYDAY)), embed=None)


def _completed(understander, text, intent, confidence=0.4):
    from smartlib_server.services.chat.understand import finish

    u = finish(text, intent, confidence, understander.linker.link(text), text, ((intent, confidence),), threshold=0.7)
    return understander.complete(text, u)


@pytest.mark.parametrize("text, intent", [
    ("u got winter?", "memory_show"),  # only words of asking around it, whatever the model half thought
    ("is winter good", "off_topic"),
    ("looking for the novel named winter", "recommend"),  # a naming word says a title follows
])
def test_a_title_that_is_all_the_message_names_is_the_ask(everyday, text, intent):
    u = _completed(everyday, text, intent, 0.9 if intent == "recommend" else 0.4)
    assert u.intent == "about_book" and [e.name for e in u.entities] == ["Winter"]


def test_a_little_read_title_or_one_without_words_of_asking_stays_words(everyday):
    assert not _completed(everyday, "such a good winter", "off_topic").entities  # no word of asking
    assert not _completed(everyday, "u got summer?", "off_topic").entities  # 700 ratings: the reader's own word
    assert not _completed(everyday, "cold winter evenings", "recommend", 0.9).entities  # topic words beside it


def test_a_title_whose_count_the_catalog_lacks_may_be_meant(everyday):
    u = _completed(everyday, "quero morning", "off_topic")  # one edition little read, one of unknown count
    assert u.intent == "about_book" and [e.text for e in u.entities] == ["morning"]


@pytest.mark.parametrize("text, name", [
    ("got anything by quorra vandelmoot?", "quorra vandelmoot"),
    ("livros do autor teodoro brastelvim", "teodoro brastelvim"),
])
def test_an_author_the_catalog_lacks_is_a_name_it_lacks(catalog, text, name):
    tables, books = catalog
    assert [(e.kind, e.text) for e in link(text, tables, books)] == [("unknown_title", name)]


@pytest.mark.parametrize("text, excluded", [
    ("close to it but not about horror", ("Horror",)),
    ("mystery w/o romance pls", ("Romance",)),
    ("nada que seja sobre terror", ("Horror",)),
])
def test_a_genre_turned_away_across_words_of_what_a_book_is_about(text, excluded):
    from smartlib_core.text import fold
    from smartlib_server.services.chat import constraints

    assert constraints.extract(fold(text), "pt" if "nada" in text else "en").exclude == excluded


def test_the_language_is_read_again_without_a_title_found_late(everyday):
    from smartlib_server.services.chat import language as lang
    from smartlib_server.services.chat.agent import ChatAgent, Reading
    from smartlib_server.services.chat.session import Context
    from smartlib_server.services.chat.understand import finish

    agent = ChatAgent.__new__(ChatAgent)
    agent.understander = everyday
    text = "quero morning"  # the title's English word outnumbered the Portuguese one until it was a title
    language, detection = lang.choose(text, "", None, [])
    reading = Reading([], Context.from_records([]), language, detection, [])
    ask, reading = agent.understand(text, reading, finish(text, "off_topic", 0.4, [], text, (("off_topic", 0.4),), threshold=0.7))
    assert (ask.kind, reading.language) == ("about_book", "pt")


def test_a_list_is_explained_first_by_the_ask_that_made_it():
    from types import SimpleNamespace

    from smartlib_server.services.chat.handlers.follow_ups import _the_ask
    from smartlib_server.services.chat.wording import Phrasebook

    books = AUTHORS[:2]  # both Maeve Halloran's
    kit = SimpleNamespace(books={b.id: b for b in AUTHORS}, ctx=SimpleNamespace(query={"mode": "author", "author": "Maeve Halloran"}))
    assert "Maeve Halloran" in _the_ask(kit, books, Phrasebook("en", "t"))
    kit.ctx.query = {"mode": "similar", "book": "v1", "genres": []}
    assert "Glass Harbour" in _the_ask(kit, books, Phrasebook("pt", "t"))
    kit.ctx.query = {"mode": "author", "author": "Maeve Halloran"}
    assert _the_ask(kit, [*books, AUTHORS[2]], Phrasebook("en", "t")) == ""  # not all hers: no such claim


def test_books_that_are_every_genre_named_come_first():
    from types import SimpleNamespace

    from smartlib_server.services.chat.session import Context, Draft, TurnInput
    from smartlib_server.services.chat.toolkit import Toolkit
    from smartlib_server.services.chat.wording import Phrasebook

    hits = [_book("c1", "Old Roads", "A", 900, genres=("Classics",)), _book("c2", "Older Roads", "B", 800, genres=("Classics",)),
            _book("b1", "Star Ledger", "C", 700, genres=("Classics", "Science Fiction")), _book("s1", "Ion Rain", "D", 600,
                                                                                              genres=("Science Fiction",))]
    asked = []

    def search_by_text(text, k, approach, filt):
        asked.append(k)
        return SimpleNamespace(items=[SimpleNamespace(book=b, reason="") for b in hits[:k]], approach=SimpleNamespace(value="baseline"))

    recommend = SimpleNamespace(max_k=100, search_by_text=search_by_text)
    kit = Toolkit(recommend, None, None, None, None, SimpleNamespace(books={b.id: b for b in hits}), Context.from_records([]),
                  TurnInput("s", "x"), page=2)
    query = {"mode": "text", "text": "science fiction classics", "genres": ["Science Fiction", "Classics"], "every": True}
    first = kit.run(query, Draft(Phrasebook("en", "t")), record=False, use_tastes=False)
    assert [b.id for b, _ in first] == ["b1", "c1"] and asked[-1] > 2  # a deeper pool, then both genres first
    kit.run({**query, "every": False}, Draft(Phrasebook("en", "t")), record=False, use_tastes=False)
    assert asked[-1] == 2  # a genre ask from tastes or a list's page keeps the search's own order and depth
