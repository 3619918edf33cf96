"""erase_user on both ConversationMemory backends: a user's linked sessions and tastes go, and
nothing of anyone else's. Run against the in-process store and the real Redis."""
from __future__ import annotations

import uuid

import pytest
import redis

from smartlib_server.adapters.cache import redis_breaker, redis_client
from smartlib_server.adapters.memory.contract import ErasedMemory, MemoryLimits, MemoryUnavailable, user_digest
from smartlib_server.adapters.memory.in_process import InProcessConversationMemory
from smartlib_server.adapters.memory.redis_store import RedisConversationMemory

REDIS_URL = "redis://127.0.0.1:6379/0"
LIMITS = MemoryLimits(max_turns=5, max_session_bytes=4000, session_ttl_s=60, max_profile_items=10, profile_ttl_s=60)


@pytest.fixture
def environment():
    env = f"test-{uuid.uuid4().hex[:12]}"
    yield env
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        keys = list(client.scan_iter(match=f"smartlib:{env}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(params=["memory", "redis"])
def memory(request, environment):
    if request.param == "memory":
        made = InProcessConversationMemory(LIMITS)
    else:
        made = RedisConversationMemory(redis_client(REDIS_URL, timeout_s=1), redis_breaker(), environment=environment,
                                       limits=LIMITS)
    yield made
    made.close()


def _chat(memory, user: str, session: str, turns: int = 2) -> None:
    for n in range(turns):
        memory.append_turn(session, {"n": n})
    memory.link_session(user, session)


def test_erase_removes_linked_sessions_and_tastes_only(memory):
    _chat(memory, "ann", "ann-1")
    _chat(memory, "ann", "ann-2")
    _chat(memory, "bob", "bob-1")
    memory.append_turn("anonymous-1", {"n": 0})  # no user: never linked
    memory.remember("ann", liked=["b1", "b2"], disliked_genres=["horror"])
    memory.remember("bob", liked=["b1"])

    erased = memory.erase_user(user_digest("ann"))

    assert erased == ErasedMemory(sessions=2, taste_entries=3)
    assert memory.recent_turns("ann-1", 10) == [] and memory.recent_turns("ann-2", 10) == []
    assert memory.profile("ann").is_empty
    assert len(memory.recent_turns("bob-1", 10)) == 2 and memory.profile("bob").liked == ("b1",)
    assert len(memory.recent_turns("anonymous-1", 10)) == 1
    assert memory.erase_user(user_digest("ann")) == ErasedMemory()  # twice is harmless, and says so


def test_a_relinked_session_is_counted_once(memory):
    _chat(memory, "ann", "ann-1")
    _chat(memory, "ann", "ann-1")
    assert memory.erase_user(user_digest("ann")).sessions == 1


def test_redis_erasure_leaves_no_key_of_the_user(environment):
    memory = RedisConversationMemory(redis_client(REDIS_URL, timeout_s=1), redis_breaker(), environment=environment,
                                     limits=LIMITS)
    _chat(memory, "ann", "ann-1")
    memory.remember("ann", liked=["b1"], mentioned_genres=["fantasy"])
    raw = redis.Redis.from_url(REDIS_URL)
    assert list(raw.scan_iter(match=f"smartlib:{environment}:*"))
    memory.erase_user(user_digest("ann"))
    assert list(raw.scan_iter(match=f"smartlib:{environment}:*")) == []
    memory.close()
    raw.close()


def test_redis_erasure_does_not_fail_open():
    dead = RedisConversationMemory(redis_client("redis://127.0.0.1:1/0", connect_timeout_s=0.2, timeout_s=0.2),
                                   redis_breaker(), environment="dead", limits=LIMITS)
    with pytest.raises(MemoryUnavailable):
        dead.erase_user(user_digest("ann"))
    dead.close()
