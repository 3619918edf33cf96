"""The message parser, in English and Portuguese."""
from __future__ import annotations

import pytest

from smartlib_server.services.chat.intents import ordinal_of, parse, split_pair


@pytest.mark.parametrize("text, language, kind, subject", [
    ("Tell me about Harry Potter", "en", "about", "harry potter"),
    ("Me fale sobre Harry Potter", "pt", "about", "harry potter"),
    ("What is Dune about?", "en", "about", "dune"),
    ("who wrote the hobbit", "en", "about", "the hobbit"),
    ("Quem escreveu O Hobbit?", "pt", "about", "o hobbit"),
    ("Books like The Hobbit", "en", "similar", "the hobbit"),
    ("Livros parecidos com O Hobbit", "pt", "similar", "o hobbit"),
    ("something similar to Dune please", "en", "similar", "dune"),
    ("Quero algo parecido com Duna", "pt", "similar", "duna"),
    ("I loved Dune", "en", "like", "dune"),
    ("Gostei muito de Fundação", "pt", "like", "fundacao"),
    ("I didn't like Twilight", "en", "dislike", "twilight"),
    ("Não gostei de Crepúsculo", "pt", "dislike", "crepusculo"),
])
def test_subject_intents(text, language, kind, subject):
    intent = parse(text, language)
    assert (intent.kind, intent.subject) == (kind, subject)


@pytest.mark.parametrize("text, language, genres", [
    ("Recommend fantasy books", "en", ("Fantasy",)),
    ("Recomende livros de fantasia", "pt", ("Fantasy",)),
    ("any good sci-fi?", "en", ("Science Fiction",)),
    ("Quero livros de ficção científica", "pt", ("Science Fiction",)),
    ("Indique um romance", "pt", ("Romance",)),
    ("livros de mistério", "pt", ("Mystery",)),
    ("me recomende terror", "pt", ("Horror",)),
    ("Tell me about sci-fi books", "en", ("Science Fiction",)),
    ("any fantasy books", "en", ("Fantasy",)),
])
def test_genre_requests(text, language, genres):
    intent = parse(text, language)
    assert intent.kind == "recommend" and intent.genres == genres


def test_moods_become_an_english_query():
    intent = parse("Recomende fantasia sombria e engraçada", "pt")
    assert set(intent.genres) == {"Fantasy", "Humor"} and intent.query == "dark"
    intent = parse("Recommend cozy books about friendship and dragons", "en")
    assert intent.genres == ("Dragons",) and intent.query == "cozy friendship"


@pytest.mark.parametrize("text, kind", [
    ("more", "more"), ("Show me more", "more"), ("mais", "more"), ("mais opções", "more"),
    ("something shorter", "shorter"), ("algo mais curto", "shorter"), ("a shorter one?", "shorter"),
    ("why?", "why"), ("Por quê?", "why"), ("porque", "why"),
    ("not like that", "not_like"), ("não assim", "not_like"), ("nada disso", "not_like"), ("something different", "not_like"),
    ("hi", "greet"), ("Olá!", "greet"), ("Hello again", "greet"), ("oi de novo", "greet"), ("good morning", "greet"), ("bom dia", "greet"),
    ("help", "help"), ("o que você sabe fazer?", "help"), ("thanks!", "thanks"), ("valeu", "thanks"),
])
def test_follow_ups_and_small_talk(text, kind):
    assert parse(text, "en").kind == kind


@pytest.mark.parametrize("text, ordinal", [
    ("the second one", 2), ("o segundo", 2), ("a segunda", 2), ("number 3", 3), ("#1", 1), ("the last one", -1),
    ("o último", -1), ("2", 2), ("the 2nd", 2),
])
def test_picks(text, ordinal):
    intent = parse(text, "en")
    assert (intent.kind, intent.ordinal) == ("pick", ordinal)


def test_ordinals_inside_other_requests():
    assert parse("books like the second one", "en").ordinal == 2
    assert parse("fale sobre o terceiro", "pt").ordinal == 3
    assert parse("why the first one?", "en").ordinal == 1
    assert ordinal_of("the dune one") == 0


def test_compare_keeps_every_split_for_titles_with_and():
    intent = parse("Compare Harry Potter and the Philosopher's Stone and Dune", "en")
    assert intent.kind == "compare"
    assert ("harry potter and the philosophers stone", "dune") in intent.pairs
    assert parse("Compare Duna e Fundação", "pt").pairs == (("duna", "fundacao"),)
    assert parse("Dune vs Foundation", "en").pairs == (("dune", "foundation"),)
    assert parse("qual a diferença entre Duna e Fundação?", "pt").pairs == (("duna", "fundacao"),)
    assert split_pair("dune") == ()


def test_bare_phrases_are_left_to_the_agent():
    intent = parse("Dune", "en")
    assert (intent.kind, intent.subject) == ("unknown", "dune")
