"""Conversation memory in Redis, shared by every replica; it fails open except for erasure."""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import redis

from smartlib_server.adapters.cache import call_redis
from smartlib_server.adapters.circuit_breaker import CircuitBreaker
from smartlib_server.adapters.memory.contract import (
    DEFAULT_LIMITS,
    OPPOSITE,
    ErasedMemory,
    MemoryLimits,
    MemoryUnavailable,
    check_id,
    check_limit,
    encode_turn,
    hash_id,
    prepare_update,
    user_digest,
)
from smartlib_server.domain.profiles import PROFILE_LISTS, UserProfile

log = logging.getLogger(__name__)
T = TypeVar("T")


# Append, trim by count, trim by bytes and renew the TTL in one atomic server-side step: a
# MULTI pipeline could do the first three but cannot see turn sizes, which the byte cap needs.
_APPEND_LUA = """
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
local turns = redis.call('LRANGE', KEYS[1], 0, -1)
local total, cap = 0, tonumber(ARGV[3])
for i = #turns, 1, -1 do
  total = total + string.len(turns[i])
  if total > cap then
    redis.call('LTRIM', KEYS[1], i, -1)
    break
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""


class RedisConversationMemory:
    """Memory in Redis, shared by all replicas. Ids are hashed into keys: raw user ids never
    appear in key names, and no id can forge another's key.

    Layout under `smartlib:<environment>:memory`:
        session:{<sha of session id>}            list of JSON turns, oldest first
        user:{<sha of user id>}:<list name>      sorted set, item -> recency (µs since epoch)
    The braces make all keys of one user a Redis Cluster hash tag, so the profile MULTI works there.
    """

    backend = "redis"

    def __init__(
        self,
        client: redis.Redis,
        breaker: CircuitBreaker,
        *,
        environment: str,
        limits: MemoryLimits = DEFAULT_LIMITS,
        clock: Callable[[], float] = time.time,
    ):
        self._client = client
        self._breaker = breaker
        self.limits = limits
        self.namespace = f"smartlib:{environment}:memory"
        self._clock = clock
        self._append = client.register_script(_APPEND_LUA)
        self._lock = threading.Lock()
        self._errors: Counter[str] = Counter()
        self._last_warning = float("-inf")
        self._last_score = 0

    def append_turn(self, session_id: str, turn: Mapping[str, Any]) -> None:
        check_id("session_id", session_id)
        data = encode_turn(turn, self.limits)
        args = [data, self.limits.max_turns, self.limits.max_session_bytes, _ms(self.limits.session_ttl_s)]
        self._fail_open(lambda: self._append(keys=[self._session_key(session_id)], args=args), None)

    def recent_turns(self, session_id: str, limit: int) -> list[dict[str, Any]]:
        check_id("session_id", session_id)
        check_limit(limit)
        if limit == 0:
            return []
        raw = self._fail_open(lambda: self._client.lrange(self._session_key(session_id), -limit, -1), [])
        return [json.loads(t) for t in raw]

    def remember(self, user_id: str, **lists: Iterable[str]) -> None:
        update = prepare_update(user_id, **lists)
        if update.empty:
            return
        keys = self._user_keys(user_id)
        start = self._scores(sum(len(items) for items in update.items.values()))
        ttl = _ms(self.limits.profile_ttl_s)

        def write() -> None:
            pipe = self._client.pipeline(transaction=True)
            for name, items in update.items.items():
                if not items:
                    continue
                pipe.zadd(keys[name], {item: start + i for i, item in enumerate(items)})
                if name in OPPOSITE:
                    pipe.zrem(keys[OPPOSITE[name]], *items)
                # keep the newest max_profile_items: drop ranks 0 .. -(max+1) (lowest scores)
                pipe.zremrangebyrank(keys[name], 0, -(self.limits.max_profile_items + 1))
            for key in keys.values():
                pipe.pexpire(key, ttl)
            pipe.execute()

        self._fail_open(write, None)

    def profile(self, user_id: str) -> UserProfile:
        check_id("user_id", user_id)
        keys = self._user_keys(user_id)

        def read() -> list[list[bytes]]:
            pipe = self._client.pipeline(transaction=True)
            for name in PROFILE_LISTS:
                pipe.zrevrange(keys[name], 0, -1)
            return pipe.execute()

        lists = self._fail_open(read, None)
        if lists is None:
            return UserProfile(user_id)
        return UserProfile(user_id, **{name: tuple(v.decode() for v in values) for name, values in zip(PROFILE_LISTS, lists, strict=True)})

    def forget(self, user_id: str) -> None:
        # Fails open like every write; a profile that could not be deleted still expires by TTL.
        check_id("user_id", user_id)
        keys = list(self._user_keys(user_id).values())
        self._fail_open(lambda: self._client.delete(*keys), None)

    def link_session(self, user_id: str, session_id: str) -> None:
        # A set of session-key digests per user, living as long as a session does.
        check_id("session_id", session_id)
        key = self._sessions_key(user_digest(user_id))

        def write() -> None:
            pipe = self._client.pipeline(transaction=True)
            pipe.sadd(key, hash_id(session_id))
            pipe.pexpire(key, _ms(self.limits.session_ttl_s))
            pipe.execute()

        self._fail_open(write, None)

    def erase_user(self, digest: str) -> ErasedMemory:
        # Not atomic across keys (sessions and users hash to different cluster slots); a session
        # linked while this runs is the only thing it can miss, and ForgetUser can be repeated.
        lists = [f"{self._user_base(digest)}:{name}" for name in PROFILE_LISTS]
        linked = self._sessions_key(digest)

        def erase() -> ErasedMemory:
            pipe = self._client.pipeline(transaction=True)
            pipe.smembers(linked)
            for key in lists:
                pipe.zcard(key)
            members, *sizes = pipe.execute()
            sessions = [f"{self.namespace}:session:{{{m.decode()}}}" for m in members]
            removed = self._client.delete(*sessions) if sessions else 0
            self._client.delete(linked, *lists)
            return ErasedMemory(int(removed), int(sum(sizes)))

        return call_redis(self._breaker, erase, MemoryUnavailable)

    def stats(self) -> dict[str, int]:
        """Backend failures by kind (timeout, connection, full, circuit_open, error)."""
        with self._lock:
            return dict(self._errors)

    def close(self) -> None:
        self._client.close()

    def _scores(self, n: int) -> int:
        # Recency scores are µs since the epoch (exact in a double until 2255), made strictly
        # increasing in this process so that consecutive calls keep their order within one µs.
        with self._lock:
            start = max(int(self._clock() * 1_000_000), self._last_score + 1)
            self._last_score = start + n
            return start

    def _session_key(self, session_id: str) -> str:
        return f"{self.namespace}:session:{{{hash_id(session_id)}}}"

    def _user_keys(self, user_id: str) -> dict[str, str]:
        base = self._user_base(hash_id(user_id))
        return {name: f"{base}:{name}" for name in PROFILE_LISTS}

    def _user_base(self, digest: str) -> str:
        return f"{self.namespace}:user:{{{digest}}}"

    def _sessions_key(self, digest: str) -> str:
        return f"{self._user_base(digest)}:sessions"

    def _fail_open(self, fn: Callable[[], T], fallback: T) -> T:
        try:
            return call_redis(self._breaker, fn, MemoryUnavailable)
        except MemoryUnavailable as exc:
            now = time.monotonic()
            with self._lock:
                self._errors[exc.kind] += 1
                loud = now - self._last_warning >= 10.0
                if loud:
                    self._last_warning = now
            if loud:  # at most one line per 10 s while Redis is down
                log.warning("conversation memory failing, continuing without it: %s", exc)
            return fallback


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
