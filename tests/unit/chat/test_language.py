"""Language detection and the language hint."""
from __future__ import annotations

import pytest

from smartlib_core.errors import InvalidArgument
from smartlib_server.services.chat.language import choose, detect, normalise_hint


@pytest.mark.parametrize("text", [
    "Tell me about Harry Potter", "Books like The Hobbit", "Recommend fantasy books", "Compare Dune and Foundation",
    "why?", "something shorter", "not like that", "the second one", "I loved Dune",
])
def test_english(text):
    assert detect(text).language == "en"


@pytest.mark.parametrize("text", [
    "Me fale sobre Harry Potter", "Livros parecidos com O Hobbit", "Recomende livros de fantasia", "Compare Duna e Fundação",
    "por quê?", "algo mais curto", "não assim", "o segundo", "Gostei de Duna", "mais",
])
def test_portuguese(text):
    assert detect(text).language == "pt"


@pytest.mark.parametrize("text", ["Dune", "Harry Potter", "1984", "Compare"])
def test_titles_alone_carry_no_language(text):
    assert detect(text).language is None


def test_french_and_spanish_look_foreign():
    assert detect("Bonjour, je cherche des livres pour mon fils").looks_foreign
    assert detect("Hola, quiero libros de fantasía por favor").language != "en"
    assert not detect("Dune").looks_foreign


def test_choose_prefers_evidence_then_hint_then_session():
    assert choose("Books like Dune", "pt", None)[0] == "en"  # the text is clearly English
    assert choose("Dune", "pt", "en")[0] == "pt"
    assert choose("Dune", "", "pt")[0] == "pt"
    assert choose("Dune", "", None)[0] == "en"


@pytest.mark.parametrize("hint, expected", [("", ""), ("en", "en"), ("EN-us", "en"), ("pt-BR", "pt"), ("pt_PT", "pt"), (" pt ", "pt")])
def test_hints(hint, expected):
    assert normalise_hint(hint) == expected


@pytest.mark.parametrize("hint", ["fr", "es-ES", "klingon"])
def test_unknown_hint_names_the_field(hint):
    with pytest.raises(InvalidArgument) as raised:
        normalise_hint(hint)
    assert "turn.language" in raised.value.violations
