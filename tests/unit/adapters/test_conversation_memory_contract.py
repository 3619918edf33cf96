"""The ConversationMemory contract, run against both backends: in-process and the real Redis."""
from __future__ import annotations

import json
import time
import uuid

import pytest
import redis

from smartlib_server.adapters.cache import redis_breaker, redis_client
from smartlib_server.adapters.memory.contract import MemoryLimits
from smartlib_server.adapters.memory.in_process import InProcessConversationMemory
from smartlib_server.adapters.memory.redis_store import RedisConversationMemory
from smartlib_server.domain.profiles import UserProfile

REDIS_URL = "redis://127.0.0.1:6379/0"
SMALL = MemoryLimits(max_turns=5, max_session_bytes=400, session_ttl_s=60, max_profile_items=4, profile_ttl_s=60)


@pytest.fixture
def environment():
    """A unique environment name, so this test's Redis keys are its own; deleted afterwards."""
    env = f"test-{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    yield env
    try:
        keys = list(client.scan_iter(match=f"smartlib:{env}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def make_memory(request, environment):
    """Factory: make_memory(limits) -> a memory of the parametrised backend."""
    made = []

    def make(limits: MemoryLimits = SMALL):
        if request.param == "memory":
            memory = InProcessConversationMemory(limits)
        else:
            client = redis_client(REDIS_URL, connect_timeout_s=1, timeout_s=1)
            memory = RedisConversationMemory(client, redis_breaker(), environment=environment, limits=limits)
        made.append(memory)
        return memory

    yield make
    for memory in made:
        if request.param == "redis":
            assert memory.stats() == {}, "a contract test hit a Redis error, which the backend swallowed"
        memory.close()


def turn(i: int, text: str = "") -> dict:
    return {"role": "user" if i % 2 else "assistant", "n": i, "text": text}


# --- sessions ---------------------------------------------------------------------------------


def test_turns_come_back_oldest_first_and_limited_to_the_newest(make_memory):
    memory = make_memory()
    for i in range(3):
        memory.append_turn("s1", turn(i, "é ✓ 書"))
    assert memory.recent_turns("s1", 10) == [turn(0, "é ✓ 書"), turn(1, "é ✓ 書"), turn(2, "é ✓ 書")]
    assert memory.recent_turns("s1", 2) == [turn(1, "é ✓ 書"), turn(2, "é ✓ 書")]
    assert memory.recent_turns("s1", 0) == []
    assert memory.recent_turns("unknown", 5) == []


def test_sessions_are_independent(make_memory):
    memory = make_memory()
    memory.append_turn("a", turn(1))
    memory.append_turn("b", turn(2))
    assert memory.recent_turns("a", 5) == [turn(1)]
    assert memory.recent_turns("b", 5) == [turn(2)]


def test_a_session_keeps_at_most_max_turns(make_memory):
    memory = make_memory()
    for i in range(12):
        memory.append_turn("s", turn(i))
    assert [t["n"] for t in memory.recent_turns("s", 100)] == [7, 8, 9, 10, 11]


def test_a_session_keeps_at_most_max_session_bytes(make_memory):
    memory = make_memory()
    for i in range(4):
        memory.append_turn("s", turn(i, "x" * 140))  # 171-176 bytes encoded: two fit in 400
    kept = memory.recent_turns("s", 100)
    assert [t["n"] for t in kept] == [2, 3]
    encoded = sum(len(json.dumps(t, ensure_ascii=False, separators=(",", ":")).encode()) for t in kept)
    assert encoded <= SMALL.max_session_bytes
    memory.append_turn("s", turn(4, "short"))  # 41 bytes: fits beside the two, nothing dropped
    assert [t["n"] for t in memory.recent_turns("s", 100)] == [2, 3, 4]


def test_invalid_turns_and_ids_are_rejected(make_memory):
    memory = make_memory()
    with pytest.raises(ValueError):
        memory.append_turn("s", {"text": "x" * 500})  # alone larger than the session budget
    with pytest.raises(ValueError):
        memory.append_turn("s", {"when": object()})
    with pytest.raises(ValueError):
        memory.append_turn("s", {"score": float("nan")})
    with pytest.raises(ValueError):
        memory.append_turn(" ", turn(1))
    with pytest.raises(ValueError):
        memory.recent_turns("s", -1)
    assert memory.recent_turns("s", 5) == []


def test_a_session_expires_its_ttl_after_the_last_turn(make_memory):
    memory = make_memory(MemoryLimits(session_ttl_s=0.6))
    memory.append_turn("s", turn(0))
    time.sleep(0.35)
    memory.append_turn("s", turn(1))  # renews the TTL for the whole session
    time.sleep(0.35)  # 0.7 s after the first turn, 0.35 s after the last
    assert [t["n"] for t in memory.recent_turns("s", 5)] == [0, 1]
    time.sleep(0.5)
    assert memory.recent_turns("s", 5) == []


# --- user profiles ----------------------------------------------------------------------------


def test_an_unknown_user_has_an_empty_profile(make_memory):
    profile = make_memory().profile("nobody")
    assert profile == UserProfile("nobody") and profile.is_empty


def test_profile_lists_are_most_recent_first_without_duplicates(make_memory):
    memory = make_memory()
    memory.remember("u", liked=["b1", "b2"], mentioned_books=["b9"], mentioned_genres=["Science  Fiction", "Fantasy"])
    memory.remember("u", liked=["b3", "b1"], mentioned_genres=["fantasy"])
    profile = memory.profile("u")
    assert profile.liked == ("b1", "b3", "b2")
    assert profile.mentioned_books == ("b9",)
    assert profile.mentioned_genres == ("fantasy", "science fiction")
    assert profile.disliked == ()


def test_liking_and_disliking_move_a_book_between_lists(make_memory):
    memory = make_memory()
    memory.remember("u", liked=["b1", "b2"])
    memory.remember("u", disliked=["b1"])
    assert memory.profile("u").liked == ("b2",) and memory.profile("u").disliked == ("b1",)
    memory.remember("u", liked=["b1"])
    assert memory.profile("u").liked == ("b1", "b2") and memory.profile("u").disliked == ()
    with pytest.raises(ValueError):
        memory.remember("u", liked=["b5"], disliked=["b5"])


def test_liked_and_disliked_genres_are_remembered_and_move_between_lists(make_memory):
    memory = make_memory()
    memory.remember("u", liked_genres=["Fantasy", "science  fiction"], disliked_genres=["Romance"])
    profile = memory.profile("u")
    assert profile.liked_genres == ("science fiction", "fantasy") and profile.disliked_genres == ("romance",)
    memory.remember("u", liked_genres=["romance"])
    profile = memory.profile("u")
    assert profile.liked_genres[0] == "romance" and profile.disliked_genres == ()
    with pytest.raises(ValueError):
        memory.remember("u", liked_genres=["horror"], disliked_genres=["Horror"])
    with pytest.raises(TypeError):
        memory.remember("u", liked_genre=["typo in the list name"])


def test_liked_and_disliked_authors_are_remembered_and_move_between_lists(make_memory):
    memory = make_memory()
    memory.remember("u", liked_authors=["Agatha Christie"], disliked_authors=["Dan Brown"])
    profile = memory.profile("u")
    assert profile.liked_authors == ("Agatha Christie",) and profile.disliked_authors == ("Dan Brown",)
    memory.remember("u", liked_authors=["Dan Brown"])
    profile = memory.profile("u")
    assert profile.liked_authors == ("Dan Brown", "Agatha Christie") and profile.disliked_authors == ()
    with pytest.raises(ValueError):
        memory.remember("u", liked_authors=["Jane Austen"], disliked_authors=["Jane Austen"])


def test_forget_erases_one_users_profile_and_nothing_else(make_memory):
    memory = make_memory()
    memory.append_turn("s", turn(0))
    memory.remember("u", liked=["a"], disliked=["b"], mentioned_books=["c"], mentioned_genres=["d"],
                    liked_genres=["fantasy"], disliked_genres=["romance"])
    memory.remember("other", liked_genres=["horror"])
    memory.forget("u")
    assert memory.profile("u") == UserProfile("u")
    assert memory.profile("other").liked_genres == ("horror",)
    assert memory.recent_turns("s", 5) == [turn(0)]
    memory.forget("never-seen")  # forgetting an unknown user is not an error
    with pytest.raises(ValueError):
        memory.forget("")


def test_profile_lists_keep_the_newest_items(make_memory):
    memory = make_memory()
    memory.remember("u", mentioned_books=[f"b{i}" for i in range(3)])
    memory.remember("u", mentioned_books=[f"b{i}" for i in range(3, 7)])
    assert memory.profile("u").mentioned_books == ("b6", "b5", "b4", "b3")


def test_users_are_independent_and_empty_updates_change_nothing(make_memory):
    memory = make_memory()
    memory.remember("u1", liked=["a"])
    memory.remember("u2", liked=["b"], mentioned_genres=["  ", ""])
    memory.remember("u1")
    assert memory.profile("u1").liked == ("a",)
    assert memory.profile("u2") == UserProfile("u2", liked=("b",))
    with pytest.raises(ValueError):
        memory.remember("", liked=["a"])
    with pytest.raises(ValueError):
        memory.remember("u1", liked="abc")  # one string is not a list of ids
    with pytest.raises(ValueError):
        memory.remember("u1", mentioned_books=["x" * 257])
    assert memory.profile("u1") == UserProfile("u1", liked=("a",))


def test_a_profile_expires_its_ttl_after_the_last_update(make_memory):
    memory = make_memory(MemoryLimits(profile_ttl_s=0.6))
    memory.remember("u", liked=["a"], mentioned_genres=["horror"])
    time.sleep(0.35)
    memory.remember("u", disliked=["b"])  # renews every list of the profile
    time.sleep(0.35)
    assert memory.profile("u") == UserProfile("u", liked=("a",), disliked=("b",), mentioned_genres=("horror",))
    time.sleep(0.5)
    assert memory.profile("u").is_empty


# --- backend specifics ------------------------------------------------------------------------


def test_in_process_memory_is_bounded_in_sessions_and_users():
    memory = InProcessConversationMemory(SMALL, max_sessions=2, max_users=2)
    for s in ("a", "b", "c"):
        memory.append_turn(s, turn(0))
        memory.remember(s, liked=["x"])
    assert memory.recent_turns("a", 5) == [] and memory.profile("a").is_empty
    assert memory.recent_turns("c", 5) == [turn(0)] and memory.profile("c").liked == ("x",)


@pytest.mark.redis
def test_redis_keys_hide_ids_and_all_carry_a_ttl(environment):
    client = redis_client(REDIS_URL, timeout_s=1)
    memory = RedisConversationMemory(client, redis_breaker(), environment=environment, limits=SMALL)
    memory.append_turn("session-secret", turn(0))
    memory.remember("user-secret", liked=["a"], disliked=["b"], mentioned_books=["c"], mentioned_genres=["d"],
                    liked_genres=["e"], disliked_genres=["f"])
    raw = redis.Redis.from_url(REDIS_URL)
    keys = [k.decode() for k in raw.scan_iter(match=f"smartlib:{environment}:memory:*")]
    assert len(keys) == 7
    assert not any("secret" in k for k in keys)
    assert all(0 < raw.pttl(k) <= 60_000 for k in keys)
    memory.close()
