"""Kinds of reader message the agent generalised poorly on (issue 24, blind batches 5 and 6), each
pinned with wordings and made-up books written for this file, none from a suite batch:
which same-titled books are one work and when one of several works is what a reader means; the
answer to "which one did you mean?" by a kind of book; the answer's language when a Portuguese
sentence is mostly English names; Portuguese verbs that a genre word's made-up gender would hide."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from smartlib_core.domain import Book
from smartlib_server.services.chat import link_tables
from smartlib_server.services.chat.handlers.choices import named_choice
from smartlib_server.services.chat.language import detect
from smartlib_server.services.chat.linker import link
from smartlib_server.services.chat.resolver import dominant, works


def _book(i: str, title: str, author: str, ratings: int = 0, rank: int = -1, genres: tuple[str, ...] = (), **more) -> Book:
    return Book(i, title, (author,), genres=genres, num_ratings=ratings, list_rank=rank, **more)


LANTERN_NOVEL = _book("ln", "The Lantern Keepers", "Odile Fairweather", 900_000, 40, ("Fantasy", "Classics", "Fiction"))
LANTERN_COMIC = _book("lc", "The Lantern Keepers", "Bram Tuck", 850_000, 900, ("Graphic Novels", "Fantasy", "Comics"))
LANTERN_THRILLER = _book("lt", "The Lantern Keepers (Dock Nine, #3)", "Rui Salgado", 0, 7000, ("Thriller", "Mystery", "Crime"),
                         series_name="Dock Nine", series_position="3")


def test_a_count_the_catalog_lacks_is_never_outread():
    # a famous book and a same-titled one the catalog has no count for: either may be meant, whatever the list says
    assert dominant([LANTERN_NOVEL, LANTERN_THRILLER]) is None
    assert dominant([_book("x", "Tidal", "A One", 2_000_000, 5), _book("y", "Tidal", "B Two", 30_000, 4000)]).id == "x"


def test_an_adaptation_in_another_form_is_the_same_work():
    # the graphic novel is the novel drawn: no question, whatever its own count
    assert dominant([LANTERN_COMIC, LANTERN_NOVEL]) is LANTERN_NOVEL
    assert [b.id for b in works([LANTERN_NOVEL, LANTERN_COMIC, LANTERN_THRILLER])] == ["ln", "lt"]


def test_a_play_of_a_play_is_another_work():
    first = _book("p1", "Medea", "Euripides", 100_000, 300, ("Plays", "Classics", "Drama"))
    second = _book("p2", "Medea", "Jean Anouilh", 90_000, 2000, ("Theatre", "Classics", "Drama"))
    assert dominant([first, second]) is None
    assert len(works([first, second])) == 2


def test_editions_by_one_author_are_one_work_and_one_choice(resolver_over):
    one = _book("e1", "Harrowgate", "Nell Quayle", 0, 3000, ("Horror",))
    two = _book("e2", "Harrowgate", "Nell Quayle", 0, 8000, ("Horror",))
    other = _book("o1", "Harrowgate (Yard, #2)", "Colm Brady", 0, 5000, ("Mystery",), series_name="Yard", series_position="2")
    assert resolver_over([one, two]).resolve("harrowgate").book.id == "e1"
    choice = resolver_over([one, two, other]).resolve("harrowgate")
    assert choice.kind == "ambiguous" and sorted(b.id for b in choice.books) == ["e1", "o1"]


def _kit(books: list[Book], language: str = "en") -> SimpleNamespace:
    return SimpleNamespace(books={b.id: b for b in books}, ctx=SimpleNamespace(shown=[(b.id, "") for b in books], language=language))


@pytest.mark.parametrize("reply, chosen", [
    ("the crime novel", "lt"),  # a genre as readers say it, which only one of them has
    ("the fantasy one please", "ln"),
    ("o policial", "lt"),
    ("the dock nine one", "lt"),  # its series
    ("the fairweather book", "ln"),  # its author
])
def test_a_choice_answered_by_a_kind_of_book(reply, chosen):
    assert named_choice(_kit([LANTERN_NOVEL, LANTERN_THRILLER], "pt" if reply.startswith("o ") else "en"), reply).id == chosen


def test_a_choice_answered_by_a_word_of_its_catalog_genres():
    quiet = _book("q", "Marrow", "Ada Finch", genres=("Historical Fiction", "Holocaust"))
    loud = _book("l", "Marrow", "Ben Oduya", genres=("Philosophy", "Short Stories"))
    assert named_choice(_kit([quiet, loud]), "I meant the holocaust one").id == "q"
    assert named_choice(_kit([quiet, loud]), "the second one") is None  # a position is for the pick handler


@pytest.fixture(scope="module")
def tables():
    books = {b.id: b for b in (LANTERN_NOVEL, _book("w", "Winter Orchard", "Teodora Lind", 300_000, 80, ("Romance",)))}
    return link_tables.build((1, 1, len(books)), books), books


@pytest.mark.parametrize("text, language", [
    ("winter orchard da teodora lind compensa?", "pt"),  # a byline and a word only Portuguese asks use
    ("Winter Orchard, rola?", "pt"),  # that word alone
    ("The Lantern Keepers do Fairweather?", "pt"),  # the byline alone: "do" joins two names only in Portuguese
    ("The Lantern Keepers by Fairweather?", "en"),
    ("Winter Orchard by Teodora Lind, thoughts?", "en"),
])
def test_a_sentence_of_names_is_in_the_language_of_the_words_around_them(tables, text, language):
    catalog, books = tables
    spans = [span for e in link(text, catalog, books) if e.kind in ("title", "author") for span in e.spans]
    assert detect(text, spans).language == language


@pytest.mark.parametrize("text", ["me conta do winter orchard", "faz de conta que gosto de romance", "peço algo de romance"])
def test_a_genre_words_made_up_gender_is_no_genre_where_readers_use_it_as_a_verb(tables, text):
    catalog, books = tables
    assert "Short Stories" not in {e.name for e in link(text, catalog, books) if e.kind == "genre"}
    assert "Plays" not in {e.name for e in link(text, catalog, books) if e.kind == "genre"}


def test_the_genre_words_own_forms_still_link(tables):
    catalog, books = tables
    assert [e.name for e in link("algum conto de terror curtinho?", catalog, books) if e.kind == "genre"][:1] == ["Short Stories"]
    assert "Witches" in {e.name for e in link("livros de bruxos", catalog, books) if e.kind == "genre"}


class _Index:
    version = 1

    def __init__(self, books):
        self.books = books


SHELF = [
    _book("s1", "Moonwake", "Gale Ortiz", 50_000, 100, ("Young Adult", "Paranormal", "Werewolves")),
    _book("s2", "Hollow Bells", "Ruth Amsel", 40_000, 200, ("Horror", "Ghosts")),
    _book("s3", "Ghosts", "Ivo Prent", 30_000, 300, ("Poetry",)),  # a title that is also a genre's name
    _book("s4", "Salt Orchard", "Mina Toft", 20_000, 400, ("Historical Fiction", "Classics", "Romance")),
]


@pytest.fixture(scope="module")
def understander():
    from smartlib_server.services.chat.linker import Linker
    from smartlib_server.services.chat.understand import Understander

    return Understander(Linker(_Index({b.id: b for b in SHELF})), embed=None)


def _read(understander, text, intent, list_shown=False, language="en"):
    from smartlib_server.services.chat.interpret import to_request
    from smartlib_server.services.chat.understand import finish

    u = finish(text, intent, 0.6, understander.linker.link(text), text, ((intent, 0.6),), threshold=0.7)
    return to_request(understander.complete(text, u), text, language, list_shown=list_shown)


@pytest.mark.parametrize("text, left_out", [
    ("ya please, but nothing with werewolves", {"Werewolves"}),  # a catalog genre the lexicon lacks
    ("some horror, just no ghosts", {"Ghosts"}),  # a lowercase title that is that genre's name
    ("horror sem werewolf nenhum", {"Werewolves"}),  # its singular
])
def test_a_catalog_genre_turned_away_is_left_out(understander, text, left_out):
    assert left_out <= set(_read(understander, text, "recommend").exclude)


def test_a_catalog_genre_named_without_a_negation_is_left_to_the_words(understander):
    ask = _read(understander, "horror with werewolves", "recommend")
    assert "Werewolves" not in ask.exclude and "Werewolves" not in ask.genres


def test_only_genres_turned_away_narrow_the_list_on_screen(understander):
    ask = _read(understander, "hmm, none with ghosts or werewolves this time", "recommend", list_shown=True)
    assert (ask.kind, set(ask.exclude)) == ("refine", {"Ghosts", "Werewolves"})
    assert _read(understander, "hmm, none with ghosts or werewolves this time", "recommend").kind == "recommend"  # nothing shown
    assert _read(understander, "no ghosts, something about lighthouses", "recommend", list_shown=True).kind == "recommend"


def test_tirando_turns_a_genre_away(understander):
    ask = _read(understander, "terror, mas tirando fantasmas e ghosts", "recommend", language="pt")
    assert "Ghosts" in ask.exclude and "Horror" in ask.genres


@pytest.mark.parametrize("modifier", ["but set in the present day", "only something more current", "mas que se passe nos dias de hoje",
                                      "mas algo mais atual"])
def test_a_book_of_our_time_leaves_the_past_out(modifier):
    from smartlib_server.services.chat.handlers.like_but import read_change

    change = read_change(modifier, "pt" if "mas" in modifier else "en")
    assert {"Classics", "Historical Fiction"} <= set(change.exclude)


def test_a_want_of_the_moment_is_no_topic():
    from smartlib_server.services.chat.handlers.discover import _topical

    assert not _topical("to afim de um")
    assert not _topical("in the mood for some")
    assert _topical("in the mood for lighthouses")


def test_a_capitalised_word_mid_sentence_is_no_language_evidence():
    # "Girl" is a word only English asks use, but capitalised here it is part of a title the catalog may lack
    text = "Compare The Quiet Girl e Fundação"
    assert detect(text, [(text.index("Fundação"), len(text))]).language == "pt"
