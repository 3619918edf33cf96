"""The weak chat skills end to end on the starter catalog, with wordings written for this file:
best rated by genre whatever words surround the ask, an author left out of a genre ask, a
title the catalog lacks answered honestly in both languages, and 'like X but for grown-ups'."""
from __future__ import annotations

import shutil

import pytest

from smartlib_server.adapters.memory.in_process import InProcessConversationMemory
from smartlib_server.app import build_services
from smartlib_server.config import Settings
from smartlib_server.services.chat.agent import ChatAgent
from smartlib_server.services.chat.handlers.like_but import YOUNG
from smartlib_server.services.chat.ordering import rating_score
from smartlib_server.services.chat.session import TurnInput


@pytest.fixture(scope="module")
def agent(tmp_path_factory, starter_sqlite, inference):
    home = tmp_path_factory.mktemp("chat-skills")
    shutil.copy(starter_sqlite, home / "catalog.sqlite3")
    services = build_services(Settings(home=home), inference=inference)
    services.load()
    yield ChatAgent(services.recommend, InProcessConversationMemory())
    services.close()


def say(agent: ChatAgent, text: str, session: str, language: str = ""):
    reply = agent.prepare(TurnInput(session, text, language_hint=language))
    agent.commit(reply)
    return reply


@pytest.mark.parametrize("text, language", [
    ("ok so which fantasy do people rate the highest, honestly curious", "en"),
    ("quais fantasias a turma dá as melhores notas, fiquei curiosa", "pt"),
])
def test_best_rated_by_genre_orders_the_whole_genre(agent, text, language):
    reply = say(agent, text, f"rated-{language}", language)
    fantasy = sorted((b for b in agent.books.values() if "Fantasy" in b.genres), key=lambda b: -rating_score(b))
    assert [rating_score(b) for b in reply.books] == [rating_score(b) for b in fantasy[: len(reply.books)]]
    assert len(reply.books) >= 3


@pytest.mark.parametrize("text, language", [
    ("some fantasy would be nice, though nothing by Terry Pratchett", "en"),
    ("quero fantasia, mas nada do Terry Pratchett", "pt"),
])
def test_an_author_left_out_of_a_genre_ask(agent, text, language):
    reply = say(agent, text, f"shun-{language}", language)
    assert len(reply.books) >= 3
    assert all("Fantasy" in b.genres for b in reply.books)
    assert not [b.title for b in reply.books if "Terry Pratchett" in b.authors]
    assert "pratchett" in reply.text.lower()  # the answer says who it left out


@pytest.mark.parametrize("text, language", [
    ("is The Lanterns of Wexmoor Abbey worth reading?", "en"),
    ("O Segredo da Ilha Caranguejeira vale a pena?", "pt"),
    # a catalog title extended by words nobody knows is that missing title, not the shorter book
    ("what comes after dune of varkessa? need the sequel", "en"),
    ("alguém leu o hobbit de trevanholm? vale a pena?", "pt"),
])
def test_a_title_the_catalog_lacks_gets_an_honest_answer_and_no_cards(agent, text, language):
    reply = say(agent, text, f"made-up-{text[:16]}", language)
    assert not reply.books
    assert reply.record["fallback"]


def test_like_x_but_for_grown_ups_leaves_out_books_for_the_young(agent):
    reply = say(agent, "The Lightning Thief was fun, anything like it but aimed at grown-ups?", "adult")
    assert len(reply.books) >= 2
    assert not [b.title for b in reply.books if set(b.genres) & set(YOUNG)]


def test_a_vague_ask_in_everyday_words_is_steered_by_the_stated_taste(agent):
    say(agent, "I adore science fiction", "vague-few")
    reply = say(agent, "could you suggest a few for me?", "vague-few")  # no topic word left: a vague ask
    assert len(reply.books) >= 3 and all("Science Fiction" in b.genres for b in reply.books)


def test_forgetting_one_genre_keeps_the_others_across_sessions(agent):
    for text in ("I love horror and fantasy", "scratch what I said about horror"):
        agent.commit(agent.prepare(TurnInput("forget-one-a", text, user_id="rui", language_hint="en")))
    reply = agent.prepare(TurnInput("forget-one-b", "what do you remember about my taste?", user_id="rui", language_hint="en"))
    assert "fantasy" in reply.text.lower() and "horror" not in reply.text.lower()


def test_a_child_of_a_stated_age_gets_childrens_books(agent):
    reply = say(agent, "my niece is 8 and loved Neverwhere, something like that but right for her age", "niece")
    assert reply.books and all("Childrens" in b.genres for b in reply.books)


@pytest.mark.parametrize("text, language", [
    ("okay, anything for this evening?", "en"),
    ("e aí, alguma coisa pra essa noite?", "pt"),
])
def test_a_vague_ask_about_when_to_read_is_steered_by_the_stated_taste(agent, text, language):
    session = f"occasion-{language}"
    say(agent, "I adore science fiction" if language == "en" else "eu adoro ficção científica", session, language)
    reply = say(agent, text, session, language)
    assert len(reply.books) >= 3 and all("Science Fiction" in b.genres for b in reply.books)


@pytest.mark.parametrize("text, language, title", [
    ("thinking of picking up mort by pratchett, is it any fun?", "en", "Mort"),
    ("the shining do stephen king dá medo mesmo?", "pt", "The Shining"),
])
def test_a_title_named_with_its_author_is_answered_as_that_book(agent, text, language, title):
    reply = say(agent, text, f"byline-{language}", language)
    assert reply.language == language
    assert [b.title.split(" (")[0] for b in reply.books] == [title]  # the book, not the author's list
