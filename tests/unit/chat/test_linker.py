"""Entity linking on the starter catalog: names anywhere in casual sentences, Portuguese titles,
typos, overlaps, everyday words that are also titles, and titles the catalog lacks."""
from __future__ import annotations

import pytest

from smartlib_server.app import starter_catalog_path
from smartlib_server.services.chat import link_tables
from smartlib_server.services.chat.linker import link, slotted
from smartlib_server.services.ingest import load_file


@pytest.fixture(scope="module")
def catalog():
    books = {b.id: b for _, b in load_file(starter_catalog_path())[0]}
    return link_tables.build((1, 1, len(books)), books), books


def linked(catalog, text):
    tables, books = catalog
    return [(e.kind, e.name, e.text) for e in link(text, tables, books)]


def test_an_author_inside_a_casual_sentence(catalog):
    assert linked(catalog, "got any Agatha Christie lying around?") == [("author", "Agatha Christie", "Agatha Christie")]
    assert linked(catalog, "tem algo do tolkien que preste?") == [("author", "J.R.R. Tolkien", "tolkien")]
    assert linked(catalog, "Rowling's other books") == [("author", "J.K. Rowling", "Rowling's")]


def test_a_title_anywhere_with_or_without_its_article(catalog):
    tables, books = catalog
    found = link("should I bother with the name of the wind, honestly?", tables, books)
    assert [(e.kind, e.text) for e in found] == [("title", "the name of the wind")]
    assert books[found[0].ids[0]].title.startswith("The Name of the Wind")
    assert linked(catalog, "is hobbit worth it")[0][1].startswith("The Hobbit")


def test_portuguese_titles_name_the_english_books(catalog):
    assert [k for k, *_ in linked(catalog, "O Nome do Vento é bom?")] == ["title"]
    assert linked(catalog, "o que vem depois de jogos vorazes")[0][1].startswith("The Hunger Games")


def test_typos_link_fuzzily(catalog):
    found = linked(catalog, "should I bother with the hobit?")
    assert found[0][0] == "title" and found[0][1].startswith("The Hobbit")
    found = linked(catalog, "what comes after harry poter and the chamber")
    assert found[0][1].startswith("Harry Potter and the Chamber of Secrets")
    assert linked(catalog, "books by tolkein")[0][1] == "J.R.R. Tolkien"


def test_a_longer_title_wins_over_a_name_inside_it(catalog):
    # "Dune" is a title and a series inside "Children of Dune"; "Murder" inside the Christie title
    assert [n for _, n, _ in linked(catalog, "is children of dune any good")] == ["Children of Dune (Dune, #3)"]
    assert [n for _, n, _ in linked(catalog, "murder on the orient express or the thursday murder club?")] == [
        "Murder on the Orient Express (Hercule Poirot, #10)", "The Thursday Murder Club (Thursday Murder Club, #1)"]


def test_everyday_words_are_not_titles_unless_marked(catalog):
    assert linked(catalog, "it was great, thanks") == []
    assert linked(catalog, "I need some help finding something for the road") == []
    # the author after the byline says which "It": one entity, the title qualified by its author (test_bylines.py)
    assert [(k, text) for k, _, text in linked(catalog, "have you read It by Stephen King?")] == [("title", "It by Stephen King")]
    assert [k for k, *_ in linked(catalog, "The Road")] == ["title"]
    assert [k for k, *_ in linked(catalog, "who wrote this one, is it by stephen king?")] == ["author"]


def test_genres_moods_and_numbers(catalog):
    assert linked(catalog, "any cozy fantasy with dragons?") == [
        ("mood", "cozy", "cozy"), ("genre", "Fantasy", "fantasy"), ("genre", "Dragons", "dragons")]
    assert linked(catalog, "livros de ficção científica que me prendam") [0] == ("genre", "Science Fiction", "ficção científica")
    assert linked(catalog, "give me 3 more") == [("number", "3", "3")]


def test_a_made_up_title_is_marked_unknown_when_quoted_or_capitalised(catalog):
    assert linked(catalog, "is the glass lighthouse of verna good?") == []
    assert linked(catalog, "is The Glass Lighthouse of Verna good?") == [
        ("unknown_title", "The Glass Lighthouse of Verna", "The Glass Lighthouse of Verna")]
    assert linked(catalog, "do I need an umbrella in Lisbon tomorrow?") == []  # one capitalised word is a name, not a title
    assert linked(catalog, 'o livro "O Farol de Vidro de Verna" é bom?') == [
        ("unknown_title", "O Farol de Vidro de Verna", "O Farol de Vidro de Verna")]


def test_slotted_text_is_what_the_classifier_sees(catalog):
    tables, books = catalog
    text = "like Dune but darker, maybe sci-fi by Frank Herbert"
    assert slotted(text, link(text, tables, books)) == "like {TITLE} but {MOOD}, maybe {GENRE} by {AUTHOR}"


def test_corpus_slots_are_left_alone():
    tables = link_tables.build((0, 0, 0), {})
    text = "anything like {TITLE} but darker?"
    assert slotted(text, link(text, tables, {})) == "anything like {TITLE} but {MOOD}?"


def test_a_loose_typo_match_does_not_swallow_an_exact_name_or_the_words_around_it(catalog):
    assert linked(catalog, "tem algo da Agatha Christie que preste?") == [("author", "Agatha Christie", "Agatha Christie")]
    found = linked(catalog, "what comes after harry poter and the chamber")
    assert [t for *_, t in found] == ["harry poter and the chamber"]


def test_genre_and_mood_words_stay_words_where_their_neighbours_say_so(catalog):
    # "curto" is "I like" as well as "short"; "long time", "see ya" and "I love stories" name no
    # length, Young Adult or Romance (data/linker/homographs.yaml)
    assert linked(catalog, "eu curto fantasia") == [("genre", "Fantasy", "fantasia")]
    assert linked(catalog, "curto muito terror, e você?") == [("genre", "Horror", "terror")]
    assert linked(catalog, "não curto romance") == [("genre", "Romance", "romance")]
    assert linked(catalog, "um livro mais curto") == [("mood", "short", "curto")]
    assert linked(catalog, "long time no see") == []
    assert linked(catalog, "something long for the holidays") == [("mood", "long", "long")]
    assert linked(catalog, "see ya") == []
    assert linked(catalog, "any YA?") == [("genre", "Young Adult", "YA")]
    assert linked(catalog, "I love stories that make me cry") == []
    assert linked(catalog, "a love story, please") == [("genre", "Romance", "love story")]
    assert linked(catalog, "consegue achar um livro se eu só lembrar da história?") == []
    assert linked(catalog, "um bom livro de história") == [("genre", "History", "história")]


def test_every_homograph_rule_is_about_a_genre_or_mood_phrase():
    static = link_tables.static_tables()
    assert static.homographs
    for phrase, rule in static.homographs.items():
        assert any(t.kind in ("genre", "mood") for t in static.phrases.get(phrase, ())), phrase
        assert rule.after or rule.before or rule.opens, phrase
