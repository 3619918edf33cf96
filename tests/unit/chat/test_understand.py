"""understand(): roles and polarity from where entities sit, the context prior, and the LLM
parser against the fake OpenAI-compatible server, falling back to the local model."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from smartlib_server.services.chat.linker import Linker, link
from smartlib_server.services.chat.llm import LLMConfig
from smartlib_server.services.chat.llm_parse import LLMParser, validate
from smartlib_server.services.chat.understand import Situation, Understander, finish
from tests.unit.chat.test_llm import FakeModel, model  # noqa: F401 - the fake server and its fixture


class _Catalog:
    """The little of a ServingIndex the linker reads."""

    def __init__(self, books):
        self.books = books
        self.version = 1


def read(catalog, text, intent):
    tables, books = catalog
    entities = link(text, tables, books)
    return finish(text, intent, 0.9, entities, text)


def test_like_x_but_y_marks_the_anchor_and_what_should_differ(catalog):
    u = read(catalog, "something like Dune but more fantasy", "similar")
    assert [(e.kind, e.role) for e in u.entities] == [("title", "anchor"), ("genre", "but")]
    u = read(catalog, "like The Hunger Games but for adults", "similar")
    assert u.first("title").role == "anchor" and u.modifier == "but for adults"


def test_taste_polarity_follows_each_clause(catalog):
    u = read(catalog, "I love fantasy but can't stand romance", "taste_like")
    assert u.polarity == 1
    assert [(e.name, e.role) for e in u.entities] == [("Fantasy", "like"), ("Romance", "dislike")]
    u = read(catalog, "terror me dá sono", "taste_dislike")
    assert u.polarity == -1 and [(e.name, e.role) for e in u.entities] == [("Horror", "dislike")]


def test_compare_sides_and_list_positions(catalog):
    u = read(catalog, "which is better, Dune or The Hobbit?", "compare")
    assert [e.role for e in u.of("title")] == ["a", "b"]
    assert read(catalog, "why the second one?", "why").ordinal == 2
    assert read(catalog, "e o último?", "pick").ordinal == -1


@pytest.fixture(scope="module")
def understander(catalog):
    from smartlib_core.embedding import MiniLMTextEncoder

    encoder = MiniLMTextEncoder.for_queries()
    return Understander(Linker(_Catalog(catalog[1])), lambda texts: encoder(texts))


def test_the_local_model_reads_a_linked_message(understander):
    u = understander("got any Agatha Christie lying around?", Situation())
    assert u.intent == "author" and u.source == "model" and u.slotted == "got any {AUTHOR} lying around?"


def test_without_a_list_on_screen_list_asks_give_way(understander):
    shown = understander("the second one", Situation(list_shown=True))
    assert shown.intent == "pick"
    blank = understander("the second one", Situation(list_shown=False))
    assert blank.intent != "pick" or blank.confidence < shown.confidence


def test_llm_answer_is_validated():
    assert validate('sure: {"intent": "who_wrote", "confidence": 0.8}') == ("who_wrote", 0.8)
    for bad in ("no json here", '{"intent": "weather"}', '{"intent": "greet", "confidence": 7}', "[1, 2]"):
        with pytest.raises(ValueError):
            validate(bad)


def _parser(server, mode, words, monkeypatch, timeout=2.0):
    monkeypatch.setattr(FakeModel, "mode", mode)
    monkeypatch.setattr(FakeModel, "words", words)
    return LLMParser(LLMConfig(f"http://127.0.0.1:{server.server_address[1]}", model="tiny"), timeout_s=timeout)


def _parse(parser, understander, text, situation=None):
    """The LLM's reading, else the local model's: what the agent does with a parser."""
    situation = situation or Situation()
    entities = understander.linker.link(text)
    return asyncio.run(parser(text, entities, situation)) or understander(text, situation, entities)


def test_the_llm_parses_when_it_answers_valid_json(understander, model, monkeypatch):  # noqa: F811
    parser = _parser(model, "ok", ('{"intent": ', '"who_wrote", "confidence": 0.7}'), monkeypatch)
    u = _parse(parser, understander, "quem escreveu Duna?")
    assert (u.intent, u.source, u.confidence) == ("who_wrote", "llm", 0.7)
    body = FakeModel.requests[-1]["body"]
    assert "{TITLE}" in body["messages"][-1]["content"]  # the model sees slots, not the title
    assert (parser.parsed, parser.fallbacks) == (1, 0)


def test_a_list_ask_with_no_list_on_screen_is_left_to_the_local_model(understander, model, monkeypatch):  # noqa: F811
    parser = _parser(model, "ok", ('{"intent": "more", "confidence": 0.9}',), monkeypatch)
    assert _parse(parser, understander, "got any Agatha Christie lying around?").source == "model"
    assert _parse(parser, understander, "more please", Situation(list_shown=True)).source == "llm"


@pytest.mark.parametrize(("mode", "words"), [
    ("ok", ("I think it is about an author",)),  # no JSON
    ("ok", ('{"intent": "book_search"}',)),  # a label outside the schema
    ("error", ()),  # HTTP 500
    ("hang", ('{"intent": "greet"}',)),  # slower than the parse timeout
])
def test_any_llm_failure_falls_back_to_the_local_model(understander, model, monkeypatch, mode, words):  # noqa: F811
    parser = _parser(model, mode, words, monkeypatch, timeout=0.5)
    u = _parse(parser, understander, "got any Agatha Christie lying around?")
    assert (u.intent, u.source) == ("author", "model")
    assert (parser.parsed, parser.fallbacks) == (0, 1)


def test_the_server_embedding_is_read_back_from_the_query_layout(inference, text_encoder):
    from smartlib_server.services.chat.understand import query_embedder

    got = query_embedder(inference)(["is this book any good?"])
    want = text_encoder(["is this book any good?"])
    assert got.shape == (1, 384)
    assert float(got[0] @ want[0] / (np.linalg.norm(got[0]) * np.linalg.norm(want[0]))) > 0.999
