"""Tastes across sessions on the starter catalog, with both memory backends: stated once, they
steer a later vague ask; shown on request; erased on request from Redis and in-process alike."""
from __future__ import annotations

import shutil
import uuid

import pytest
import redis

from smartlib_server.adapters.cache import redis_breaker, redis_client
from smartlib_server.adapters.memory.contract import user_digest
from smartlib_server.adapters.memory.in_process import InProcessConversationMemory
from smartlib_server.adapters.memory.redis_store import RedisConversationMemory
from smartlib_server.app import build_services
from smartlib_server.config import Settings
from smartlib_server.services.chat.agent import ChatAgent
from smartlib_server.services.chat.session import TurnInput

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def memory(request):
    if request.param == "memory":
        backend = InProcessConversationMemory()
        yield backend
        return
    environment = f"test-{uuid.uuid4().hex[:12]}"
    backend = RedisConversationMemory(redis_client(REDIS_URL, timeout_s=1), redis_breaker(), environment=environment)
    yield backend
    assert backend.stats() == {}, "Redis failed during the test and the backend swallowed it"
    backend.close()
    raw = redis.Redis.from_url(REDIS_URL)
    keys = list(raw.scan_iter(match=f"smartlib:{environment}:*"))
    if keys:
        raw.delete(*keys)
    raw.close()


@pytest.fixture(scope="module")
def services(tmp_path_factory, starter_sqlite, inference):
    """One loaded starter catalog for the module: the tests only read it."""
    home = tmp_path_factory.mktemp("chat-tastes")
    shutil.copy(starter_sqlite, home / "catalog.sqlite3")
    services = build_services(Settings(home=home), inference=inference)
    services.load()
    yield services
    services.close()


@pytest.fixture
def agent(services, memory):
    return ChatAgent(services.recommend, memory)


def say(agent: ChatAgent, session: str, user: str, text: str):
    reply = agent.prepare(TurnInput(session, text, user))
    agent.commit(reply)
    return reply


def test_tastes_steer_a_later_session_and_forgetting_reaches_the_backend(agent, memory):
    user = f"reader-{uuid.uuid4().hex[:6]}"
    say(agent, "s1", user, "I love fantasy and I hate romance")
    assert memory.profile(user).liked_genres == ("fantasy",) and memory.profile(user).disliked_genres == ("romance",)

    vague = say(agent, "s2", user, "recommend me something")
    assert len(vague.books) >= 3 and all("Fantasy" in b.genres and "Romance" not in b.genres for b in vague.books)
    assert "fantasy" in vague.text.lower()
    shown = say(agent, "s2", user, "what do you know about me?")
    assert "fantasy" in shown.text and "romance" in shown.text and not shown.books

    say(agent, "s3", user, "esqueça o que eu gosto")
    assert memory.profile(user).is_empty
    after = say(agent, "s4", user, "recommend me something")
    fresh = say(agent, "s5", f"reader-{uuid.uuid4().hex[:6]}", "recommend me something")
    assert len(after.books) >= 3 and "fantasy" not in after.text.lower()
    assert [b.id for b in after.books] == [b.id for b in fresh.books]  # answered as a reader never seen
    assert "don't know anything about your tastes" in say(agent, "s4", user, "what do you know about me?").text


def test_an_explicit_ask_overrides_a_disliked_genre(agent):
    user = f"reader-{uuid.uuid4().hex[:6]}"
    say(agent, "s1", user, "não gosto de terror")
    thriller = say(agent, "s2", user, "me recomende um thriller")
    assert thriller.language == "pt" and len(thriller.books) >= 3
    assert all("Thriller" in b.genres and "Horror" not in b.genres for b in thriller.books)
    horror = say(agent, "s2", user, "agora quero livros de terror")
    assert horror.books and all("Horror" in b.genres for b in horror.books)


def test_a_disliked_genre_stays_out_of_other_asks(agent):
    user = f"reader-{uuid.uuid4().hex[:6]}"
    say(agent, "s1", user, "I don't like magic")
    fantasy = say(agent, "s2", user, "Recommend fantasy books")  # four of the starter's top five fantasy books are "Magic"
    assert len(fantasy.books) >= 3 and all("Fantasy" in b.genres and "Magic" not in b.genres for b in fantasy.books)


def test_tastes_without_a_user_id_last_for_the_session_only(agent):
    say(agent, "anon-1", "", "I'm a big fan of science fiction")
    same = say(agent, "anon-1", "", "surprise me")
    assert len(same.books) >= 3 and all("Science Fiction" in b.genres for b in same.books)
    assert "science fiction" in say(agent, "anon-1", "", "what do you know about me?").text.lower()
    other = say(agent, "anon-2", "", "what do you know about me?")
    assert "don't know anything about your tastes" in other.text and not other.books


def test_a_chatting_users_sessions_are_linked_so_forget_user_erases_their_turns(agent, memory):
    user = f"reader-{uuid.uuid4().hex[:6]}"
    say(agent, "linked-1", user, "Books like Dune")
    say(agent, "linked-2", user, "I love fantasy")
    erased = memory.erase_user(user_digest(user))
    assert erased.sessions == 2 and erased.taste_entries > 0
    assert memory.recent_turns("linked-1", 5) == [] and memory.profile(user).is_empty
