"""Wordings a reader uses that the first patterns missed (issue 17 probe): chat shorthand and
polite padding, "I loved X, anything similar but Y?", a place in a series asked another way,
exclusions and orders said loosely, errands that are not about books, and "why this one?"."""
from __future__ import annotations

import pytest

from smartlib_core.domain import Book
from smartlib_server.services.chat import asks
from smartlib_server.services.chat.handlers.follow_ups import pointed_at
from smartlib_server.services.chat.handlers.like_but import read_change
from smartlib_server.services.chat.intents import parse


@pytest.mark.parametrize("folded, language, expected", [
    ("vc tem livros da jk pfv", "pt", "voce tem livros da jk"),
    ("o que vcs tem do george orwell", "pt", "o que voces tem do george orwell"),
    ("tem algum bom ai", "pt", "tem algum bom"),
    ("books about ai", "en", "books about ai"),  # in English "ai" may be the topic
    ("recommend fantasy pls", "en", "recommend fantasy"),
])
def test_shorthand_expands_and_padding_goes(folded, language, expected):
    assert asks.normalise(folded, language) == expected


@pytest.mark.parametrize("text, author", [
    ("did agatha christie write anything besides poirot?", "agatha christie"), ("has stephen king written other books?", "stephen king"),
])
def test_did_x_write_anything(text, author):
    intent = parse(text, "en")
    assert (intent.kind, intent.subject) == ("author", author)


@pytest.mark.parametrize("text, language, kind, subject, modifier", [
    ("I loved The Name of the Wind, anything similar but shorter?", "en", "like_but", "the name of the wind", "shorter"),
    ("Dune was great. Got anything like it but lighter?", "en", "like_but", "dune", "lighter"),
    ("gostei muito do nome do vento, tem algo parecido porém de ficção científica?", "pt", "like_but", "nome do vento",
     "de ficcao cientifica"),
    ("duna foi incrível, tem algo parecido?", "pt", "similar", "duna", ""),
    ("tem algum livro parecido com o iluminado mas menos assustador?", "pt", "like_but", "o iluminado", "menos assustador"),
    ("what's similar to Harry Potter but for grown-ups?", "en", "like_but", "harry potter", "for grown ups"),
])
def test_a_liked_book_then_an_ask_for_more_like_it(text, language, kind, subject, modifier):
    intent = parse(text, language)
    assert (intent.kind, intent.subject, intent.modifier) == (kind, subject, modifier)


@pytest.mark.parametrize("text", ["I loved Dune", "I love fantasy", "The Hobbit is great"])
def test_praise_alone_is_not_an_ask_for_similar_books(text):
    assert parse(text, "en").kind not in ("similar", "like_but")


@pytest.mark.parametrize("modifier, kind", [
    ("not as dark", "lighter"), ("nem tão pesado", "lighter"), ("mais curtinho", "shorter"), ("with fewer pages", "shorter"),
])
def test_more_ways_to_say_what_should_differ(modifier, kind):
    assert read_change(modifier, "en").kind == kind


@pytest.mark.parametrize("text, language, kind, subject, ordinal", [
    ("which Percy Jackson book is the first one?", "en", "series_at", "percy jackson", 1),
    ("qual livro de duna é o primeiro?", "pt", "series_at", "duna", 1),
    ("li o primeiro de jogos vorazes, qual é o segundo?", "pt", "series_at", "jogos vorazes", 2),
    ("I read the first Hunger Games, which is the second?", "en", "series_at", "hunger games", 2),
    ("sequencia certa pra ler mistborn", "pt", "series", "mistborn", 0),
    ("em que ordem eu leio throne of glass?", "pt", "series", "throne of glass", 0),
])
def test_a_place_in_a_series_asked_another_way(text, language, kind, subject, ordinal):
    intent = parse(text, language)
    assert (intent.kind, intent.subject, intent.ordinal) == (kind, subject, ordinal)


@pytest.mark.parametrize("text, language, genres, excluded", [
    ("fantasy please, but I don't want any romance", "en", ("Fantasy",), ("Romance",)),
    ("any thrillers that aren't horror?", "en", ("Thriller",), ("Horror",)),
    ("sci-fi without dystopias, please", "en", ("Science Fiction",), ("Dystopia",)),
    ("não quero nada de terror, me indica um suspense", "pt", ("Suspense",), ("Horror",)),
])
def test_exclusions_said_loosely(text, language, genres, excluded):
    intent = parse(text, language)
    assert intent.kind == "recommend" and set(genres) <= set(intent.genres) and set(excluded) <= set(intent.exclude)


def test_taking_a_genre_out_of_the_list_on_screen():
    intent = parse("tira os de romance", "pt")
    assert (intent.kind, intent.exclude) == ("refine", ("Romance",))


@pytest.mark.parametrize("text, language, sort", [
    ("which fantasy novels do readers rate highest?", "en", "rating"),
    ("I only want really well reviewed horror", "en", "rating"),
    ("melhores livros de terror segundo os leitores", "pt", "rating"),
])
def test_rating_asks_said_loosely(text, language, sort):
    intent = parse(text, language)
    assert intent.sort == sort and intent.kind == "recommend" and not intent.query


@pytest.mark.parametrize("text, language, genre", [
    ("me mostra as fantasias mais bem avaliadas", "pt", "Fantasy"), ("mysteries are my favourite", "en", "Mystery"),
    ("to afim de um romance bem água com açúcar", "pt", "Romance"),
])
def test_plural_and_everyday_genre_words(text, language, genre):
    assert genre in parse(text, language).genres


@pytest.mark.parametrize("text, language", [
    ("show me a few more", "en"), ("anything else?", "en"), ("tem outros?", "pt"), ("manda mais uns ai", "pt"),
])
def test_more_said_another_way(text, language):
    assert parse(text, language).kind == "more"


@pytest.mark.parametrize("text, language", [
    ("got something for me to read?", "en"), ("sugere alguma coisa ai", "pt"), ("pick something for me", "en"),
])
def test_vague_asks_said_another_way(text, language):
    intent = parse(text, language)
    assert intent.kind == "recommend" and not intent.genres and not intent.query


@pytest.mark.parametrize("text, language", [
    ("what's the best pizza place nearby?", "en"), ("can you help me fix my wifi?", "en"),
    ("how much is a ticket to Lisbon?", "en"), ("qual é o melhor time do brasil?", "pt"),
    ("me ajuda com meu dever de matemática", "pt"), ("qual a cotação do euro hoje?", "pt"),
])
def test_errands_are_off_topic(text, language):
    assert parse(text, language).kind == "off_topic"


@pytest.mark.parametrize("text, ordinal, subject", [
    ("why?", 0, ""), ("why those?", 0, ""), ("por quê?", 0, ""), ("why did you pick those?", 0, ""),
    ("why this one?", 0, "it"), ("por que esse?", 0, "it"), ("e por que esse?", 0, "it"), ("and why the first?", 1, ""),
    ("why that one", 0, "it"),
    ("why the third?", 3, ""), ("por que o segundo?", 2, ""), ("why is the second one there?", 2, ""),
    ("why Gone Girl?", 0, "gone girl"), ("pq vc indicou duna?", 0, "duna"),
])
def test_why_points_at_the_list_or_at_one_book(text, ordinal, subject):
    intent = parse(text, "pt" if text.startswith(("por", "pq")) else "en")
    assert (intent.kind, intent.ordinal, intent.subject) == ("why", ordinal, subject)


ROWS = [(Book("dm", "Dune Messiah (Dune, #2)", ("Frank Herbert",)), "same series: Dune"),
        (Book("hd", "Heretics of Dune (Dune, #5)", ("Frank Herbert",)), "same series: Dune"),
        (Book("tm", "The Martian", ("Andy Weir",)), "shares genres: Science Fiction")]


@pytest.mark.parametrize("ordinal, subject, focus, expected", [
    (2, "", "", "hd"), (-1, "", "", "tm"), (9, "", "", None),
    (0, "it", "tm", "tm"), (0, "it", "elsewhere", "dm"),  # "this one": the book in focus, else the top pick
    (0, "martian", "", "tm"), (0, "the martain", "", "tm"), (0, "heretics of dune", "", "hd"),
    (0, "o messias de duna", "", "dm"),  # a Portuguese title of a book on screen
    (0, "gone girl", "", None),  # a title not on screen is not guessed
])
def test_pointed_at_finds_the_book_on_screen(ordinal, subject, focus, expected):
    row = pointed_at(ROWS, ordinal, subject, focus)
    assert (row[0].id if row else None) == expected
